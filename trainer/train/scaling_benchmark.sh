#!/usr/bin/env bash
# Data-parallel scaling table: tokens/s and exposed communication of 1 and 2 ranks (1 thread
# each) for the tiny and BERT-small configs at sequence length 128, on the bundled prose shards
# (tools/quickstart.sh prepares them). Weak scaling: the per-rank batch is fixed.
#
# A third row per config, "2 x 1", runs two independent 1-rank jobs at once (no communication):
# what this machine's cores give two processes at all, the ceiling for the 2-rank row.
#
#   bazel run -c opt //trainer/train:scaling_benchmark -- [--ranks="1 2"] [--steps=3] [--csv]
set -euo pipefail
binary="$(cd "$(dirname "$0")" && pwd)/scaling_benchmark_bin"
cd "${BUILD_WORKSPACE_DIRECTORY:-.}"
source tools/testing/mpirun_env.sh
# Let shared-memory transfers use a single copy (CMA) where the machine allows it.
unset OMPI_MCA_btl_vader_single_copy_mechanism

ranks="1 2"
steps=3
csv=0
for arg in "$@"; do
  case "$arg" in
    --ranks=*) ranks="${arg#--ranks=}" ;;
    --steps=*) steps="${arg#--steps=}" ;;
    --csv) csv=1 ;;
    *) echo "scaling_benchmark: unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [[ ! -f data/shards/prose/train-00000.shard ]]; then
  echo "scaling_benchmark: data/shards/prose missing; run tools/quickstart.sh first" >&2
  exit 1
fi

# config, per-rank batch, accumulation
runs=("configs/tiny.yaml 16 1" "configs/bert_small.yaml 16 4")
header="config,ranks,threads,global_batch,accumulation,step_ms,tokens_per_s,exposed_comm_ms,grad_mb"
rows=()
for run in "${runs[@]}"; do
  read -r config batch accumulation <<<"$run"
  for np in $ranks; do
    echo "running $config with $np rank(s)..." >&2
    rows+=("$(mpirun_local -np "$np" "$binary" --config="$config" --per-rank-batch="$batch" \
        --accumulation="$accumulation" --steps="$steps" --threads=1 | tail -1)")
  done
  echo "running $config as two independent 1-rank jobs..." >&2
  scratch=$(mktemp -d)
  for job in a b; do
    mpirun_local -np 1 "$binary" --config="$config" --per-rank-batch="$batch" \
        --accumulation="$accumulation" --steps="$steps" --threads=1 \
        --out-dir="$scratch/$job" > "$scratch/$job.csv" &
  done
  wait
  # Both jobs' tokens/s add up; the step time is the slower one's.
  rows+=("$(paste -d, "$scratch/a.csv" "$scratch/b.csv" | awk -F, -v OFS=, \
      '{ print $1, "2x1", $3, $4 + $13, $5, ($6 > $15 ? $6 : $15), $7 + $16, 0, $9 }')")
  rm -rf "$scratch"
done
if (( csv )); then
  printf '%s\n' "$header" "${rows[@]}"
  exit 0
fi
echo "threads per rank: 1; cores on this machine: $(nproc)"
# The table, with the speedup over the 1-rank run of the same config.
printf '%s\n' "$header" "${rows[@]}" | awk -F, '
  NR == 1 { printf "%-11s %5s %7s %6s %9s %12s %15s %10s %8s\n", "config", "ranks", "batch", "accum",
            "step ms", "tokens/s", "exposed comm ms", "grad MB", "speedup"; next }
  { if ($2 == "1") base[$1] = $7
    printf "%-11s %5s %7d %6d %9.0f %12.1f %15.1f %10.1f %7.2fx\n", $1, $2, $4, $5, $6, $7, $8, $9,
           (base[$1] > 0 ? $7 / base[$1] : 0) }'
