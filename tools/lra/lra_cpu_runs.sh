#!/usr/bin/env bash
# The short LRA and synthetic-task runs of docs/LRA.md on this machine's CPUs, for SBM and full
# attention, then the results table (tools/lra/results_table.py) in runs/lra-cpu/RESULTS.md.
# Makes the data it needs first (make_listops, make_pathfinder, tools/fetch_data.sh for the
# Text stand-in). A finished run (its lra_result.json or final checkpoint exists) is not run
# again, so an interrupted sweep resumes.
#
#   tools/lra/lra_cpu_runs.sh                      # all: about an hour on 2 cores
#   tools/lra/lra_cpu_runs.sh listops synthetic    # some
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs=(${@:-listops_short text_standin retrieval_standin pathfinder synthetic})
bazel build -c opt //trainer/train:sbmt_worker //tools/lra:make_listops //tools/lra:make_pathfinder
worker=bazel-bin/trainer/train/sbmt_worker

if [[ ! -f data/lra/listops-short/basic_test.tsv ]]; then
  bazel-bin/tools/lra/make_listops --out=data/lra/listops-short --min-length=10 --max-length=100 \
    --train=20000 --val=1000 --test=1000
fi
if [[ ! -d data/lra/pathfinder32-cpu/curv_contour_length_6/metadata ]]; then
  bazel-bin/tools/lra/make_pathfinder --out=data/lra/pathfinder32-cpu/curv_contour_length_6 \
    --contour-length=6 --images=20000
fi
[[ -f data/lra_standin/text/STANDIN.txt ]] || tools/fetch_data.sh

for run in "${runs[@]}"; do
  config=configs/lra/cpu/$run.yaml
  [[ -f $config ]] || { echo "lra_cpu_runs: no $config" >&2; exit 2; }
  for attention in sbm full; do
    out=runs/lra-cpu/${run}_$attention
    if [[ -f $out/lra_result.json || -f $out/DONE ]]; then
      echo "=== $run ($attention): done before, kept ($out)"
      continue
    fi
    echo "=== $run ($attention) -> $out"
    "$worker" --config="$config" --set model.attention=$attention --set run.out_dir="$out"
    touch "$out/DONE"
  done
done
python3 tools/lra/results_table.py runs/lra-cpu/*/ | tee runs/lra-cpu/RESULTS.md
