#!/usr/bin/env bash
# Fine-tunes one model on every GLUE task found and collects the dev scores into one Markdown
# table (the fan-out an ML engineer runs after pretraining).
#
#   tools/glue_all.sh MODEL [--glue-dir=DIR] [--out=DIR] [--tasks=sst2,mrpc,...] [--np=N]
#                     [--config=YAML] [-- --set key=value ...]
#
# MODEL is what model.init_from takes: an exported directory (--export-hf) or one of our
# checkpoints (run/checkpoints/step_N). --glue-dir defaults to data/glue when it exists, else to
# the stand-ins tools/fetch_data.sh writes (data/glue_standin: SST-2 and QNLI layouts of real
# text, marked as stand-ins in the table). Tasks whose folder is missing are listed as skipped.
# Each task trains with sbmt_worker (under mpirun with --np=N > 1) into OUT/<task>/ (default
# OUT=runs/glue), with the config's model (default configs/tiny.yaml) and the --set overrides
# after `--`. Malformed rows (GLUE's QQP has some) are skipped and counted in the task's log
# (`-- --set task.glue.skip_malformed=false` fails on them instead). A task that finished before (OUT/<task>/DONE) is not run again, so a rerun after a
# failure only runs what is left; a failing task is reported with its log, the others still run,
# and the exit status is 1. The table is printed and written to OUT/results.md.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "glue_all: error: $*" >&2; exit 2; }
model="" glue_dir="" out="runs/glue" tasks="" np=1 config="$REPO_ROOT/configs/tiny.yaml"
worker="$REPO_ROOT/bazel-bin/trainer/train/sbmt_worker"
glue_eval="$REPO_ROOT/bazel-bin/tools/glue/glue_eval"
overrides=()
while (($#)); do
  case "$1" in
    --glue-dir=*) glue_dir=${1#*=} ;;
    --out=*) out=${1#*=} ;;
    --tasks=*) tasks=${1#*=} ;;
    --np=*) np=${1#*=} ;;
    --config=*) config=${1#*=} ;;
    --worker=*) worker=${1#*=} ;;        # binaries, for tests and other build folders
    --glue-eval=*) glue_eval=${1#*=} ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    --) shift; overrides=("$@"); break ;;
    -*) die "unknown option $1" ;;
    *) [[ -z "$model" ]] || die "one MODEL expected, got '$model' and '$1'"; model=$1 ;;
  esac
  shift
done
[[ -n "$model" ]] || die "usage: tools/glue_all.sh MODEL [options] (see --help)"
[[ -d "$model" ]] || die "MODEL $model is not a directory"
[[ "$np" =~ ^[1-9][0-9]*$ ]] || die "--np=$np: expected a positive number"
for binary in "$worker" "$glue_eval"; do
  [[ -x "$binary" ]] || die "$binary not built (bazel build -c opt //trainer/train:sbmt_worker //tools/glue:glue_eval)"
done
all_tasks=(cola sst2 mrpc stsb qqp mnli qnli rte wnli)
declare -A folder=([cola]=CoLA [sst2]=SST-2 [mrpc]=MRPC [stsb]=STS-B [qqp]=QQP [mnli]=MNLI
                   [qnli]=QNLI [rte]=RTE [wnli]=WNLI)
if [[ -n "$tasks" ]]; then IFS=, read -r -a selected <<<"$tasks"; else selected=("${all_tasks[@]}"); fi
for t in "${selected[@]}"; do [[ -n "${folder[$t]:-}" ]] || die "--tasks: unknown task '$t' (known: ${all_tasks[*]})"; done
if [[ -z "$glue_dir" ]]; then
  glue_dir="$REPO_ROOT/data/glue"
  [[ -d "$glue_dir" ]] || glue_dir="$REPO_ROOT/data/glue_standin"
fi
[[ -d "$glue_dir" ]] || die "--glue-dir=$glue_dir is not a directory (tools/fetch_data.sh writes the stand-ins)"
mkdir -p "$out"
model=$(cd "$model" && pwd)
vocab="$model/vocab.txt"
[[ -f "$vocab" ]] || vocab=$(sed -n 's/^  vocab: //p' "$config")

launch=("$worker")
if ((np > 1)); then
  source "$REPO_ROOT/tools/testing/mpirun_env.sh"
  launch=(mpirun_local -np "$np" "$worker")
fi

rows=() failed=0 index=0
for t in "${selected[@]}"; do
  index=$((index + 1))
  dir="$glue_dir/${folder[$t]}"
  if [[ ! -f "$dir/train.tsv" ]]; then
    echo "[$index/${#selected[@]}] $t: skipped (no $dir/train.tsv)"
    continue
  fi
  run="$out/$t"
  standin=""
  [[ -f "$dir/STANDIN.txt" ]] && standin=$(head -n 1 "$dir/STANDIN.txt")
  if [[ -f "$run/DONE" ]]; then
    echo "[$index/${#selected[@]}] $t: done before ($run)"
  else
    echo "[$index/${#selected[@]}] $t: fine-tuning into $run (log $run.log)${standin:+ -- $standin}"
    start=$SECONDS
    if "${launch[@]}" --config="$config" --set task.name=glue --set "task.glue.name=$t" \
        --set "task.glue.data_dir=$glue_dir" --set "model.init_from=$model" \
        --set "data.vocab=$vocab" --set "run.out_dir=$run" --set task.glue.skip_malformed=true \
        "${overrides[@]}" >"$run.log" 2>&1; then
      touch "$run/DONE"
      echo "    finished in $((SECONDS - start)) s"
    else
      echo "    FAILED (exit $?); last lines of $run.log:" >&2
      tail -n 5 "$run.log" | sed 's/^/    /' >&2
      rows+=("| $t | - | failed: see $run.log | | | ${standin:+stand-in} |")
      failed=1
      continue
    fi
  fi
  # Every labelled split the run predicted (MNLI: matched and mismatched).
  for labels in "$run"/predictions/dev*/*.labels.tsv; do
    [[ -f "$labels" ]] || continue
    split=$(basename "$(dirname "$labels")")
    json=$("$glue_eval" --task="$t" --predictions="${labels%.labels.tsv}.tsv" --labels="$labels")
    scores=$(node -e '
      const r = JSON.parse(process.argv[1]);
      const metrics = ["accuracy", "f1", "mcc", "pearson", "spearman"];
      const keys = Object.keys(r).filter((k) => metrics.includes(k));  // the task'"'"'s order
      console.log(keys.map((k) => k + " " + (r[k] === null ? "n/a" : (100 * r[k]).toFixed(1))).join(", ") + "\t" + r.n);
    ' "$json")
    # The share of the most common dev label: what always guessing it scores.
    majority=$(awk -F'\t' 'NR > 1 { n++; c[$2]++ } END {
      m = 0; for (l in c) if (c[l] > m) m = c[l]; if (n) printf "%.1f", 100 * m / n }' "$labels")
    [[ "$t" == stsb ]] && majority="-"
    rows+=("| $t | $split | ${scores%%$'\t'*} | $majority | ${scores##*$'\t'} | ${standin:+stand-in} |")
  done
done

{
  echo "GLUE dev scores of $model (data: $glue_dir)"
  echo
  echo "| task | split | score (x100) | majority class | examples | data |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  for t in "${selected[@]}"; do
    f="$glue_dir/${folder[$t]}/STANDIN.txt"
    [[ -f "$f" ]] && echo && echo "$t: $(head -n 1 "$f")"
  done
} >"$out/results.md"
echo
cat "$out/results.md"
exit "$failed"
