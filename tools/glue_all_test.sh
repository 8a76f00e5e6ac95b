#!/usr/bin/env bash
# tools/glue_all.sh over fixtures of all nine GLUE tasks in the official layout, from a model the
# worker pretrained and exported: one fine-tune per task, a table row per dev split (MNLI's two),
# each task's official metrics; a rerun trains nothing; a stand-in folder is marked in the table;
# a task that fails is reported and the others still run.
set -euo pipefail
worker="$1" tool="$2" config="$3" glue_eval="$4" fixtures="$5"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/glue_all"
rm -rf "$tmp" && mkdir -p "$tmp/data"
fail() { echo "FAIL: $*" >&2; exit 1; }
binaries=(--worker="$worker" --glue-eval="$glue_eval" --config="$config")
# A fixture has 1 to 3 training rows: one-row batches, one epoch.
small=(-- --set data.global_batch=1 --set task.glue.epochs=1 --set optim.warmup_steps=1)

"$tool" shards "$tmp/data"
"$worker" --config="$config" --set "data.train=$tmp/data/train.shard" \
  --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt" \
  --set optim.total_steps=4 --set run.out_dir="$tmp/mlm" --export-hf="$tmp/hf" \
  >"$tmp/mlm.log" 2>&1 || { cat "$tmp/mlm.log"; fail "pretraining failed"; }

echo "=== every task"
cp -rL "$fixtures" "$tmp/glue"  # copies, not the runfiles' links
echo "STAND-IN for SST-2: test sentences" >"$tmp/glue/SST-2/STANDIN.txt"
tools/glue_all.sh "$tmp/hf" --glue-dir="$tmp/glue" --out="$tmp/runs" "${binaries[@]}" \
  "${small[@]}" >"$tmp/first.log" 2>&1 || { cat "$tmp/first.log"; fail "glue_all failed"; }
cat "$tmp/runs/results.md"
table="$tmp/runs/results.md"
[[ $(grep -c '^| [a-z0-9]* | dev' "$table") -eq 10 ]] || fail "expected 10 dev rows (MNLI has two)"
grep -q '^| cola | dev | mcc ' "$table" || fail "CoLA row"
grep -q '^| mrpc | dev | f1 [0-9.]*, accuracy ' "$table" || fail "MRPC row"
grep -Eq '^\| stsb \| dev \| pearson ([0-9.-]+|n/a), spearman ' "$table" || fail "STS-B row"
grep -q '^| mnli | dev_mismatched | accuracy ' "$table" || fail "MNLI mismatched row"
grep -q '^| sst2 | dev | accuracy .* | stand-in |$' "$table" || fail "stand-in not marked"
grep -q "^sst2: STAND-IN for SST-2" "$table" || fail "stand-in not described"

echo "=== a rerun trains nothing"
tools/glue_all.sh "$tmp/hf" --glue-dir="$tmp/glue" --out="$tmp/runs" "${binaries[@]}" \
  "${small[@]}" >"$tmp/second.log" 2>&1 || { cat "$tmp/second.log"; fail "rerun failed"; }
[[ $(grep -c "done before" "$tmp/second.log") -eq 9 ]] || { cat "$tmp/second.log"; fail "rerun trained again"; }

echo "=== a failing task"
printf 'sentence\tlabel\nnot a label\tpositive\n' >"$tmp/glue/SST-2/train.tsv"  # no rows left
set +e
tools/glue_all.sh "$tmp/hf" --glue-dir="$tmp/glue" --out="$tmp/runs2" --tasks=sst2,rte \
  "${binaries[@]}" "${small[@]}" >"$tmp/third.log" 2>&1
status=$?
set -e
((status == 1)) || { cat "$tmp/third.log"; fail "exit status $status with a failed task"; }
grep -q "sst2 | - | failed: see" "$tmp/runs2/results.md" || fail "failure not in the table"
grep -q '^| rte | dev | accuracy ' "$tmp/runs2/results.md" || fail "the other task did not run"
if tools/glue_all.sh "$tmp/hf" --tasks=nope "${binaries[@]}" 2>"$tmp/err"; then
  fail "an unknown task was accepted"
fi
grep -q "unknown task 'nope'" "$tmp/err" || fail "unknown-task message"
echo "PASS"
