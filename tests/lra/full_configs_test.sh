#!/usr/bin/env bash
# Every full-size LRA config (configs/lra/*.yaml) runs its first steps at its full sequence
# length and model, on data in the task's real layout (the readers' fixtures; CIFAR-10 binaries
# and Pathfinder images made here), with a batch of 2 instead of the GPU-sized one; then the
# test pass writes lra_result.json. And bad input stops the worker with the file and line.
set -euo pipefail
worker=$1
make_pathfinder=$2
fixtures=trainer/tasks/lra/testdata
tmp=${TEST_TMPDIR:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; exit 1; }

# CIFAR-10 binaries: 6 files of 4 records (label byte + 3 x 1024 pixel bytes).
python3 - "$tmp/cifar10/cifar-10-batches-bin" <<'PYEOF'
import os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
names = ["data_batch_%d.bin" % b for b in range(1, 6)] + ["test_batch.bin"]
for b, name in enumerate(names):
    with open(os.path.join(out, name), "wb") as f:
        for r in range(4):
            f.write(bytes([(b + r) % 10]) + bytes((p * 7 + r) % 256 for p in range(3072)))
PYEOF
"$make_pathfinder" --out="$tmp/pathfinder" --images=20 >/dev/null 2>&1

declare -A data=(
  [listops]=$fixtures/listops [text]=$fixtures/aclImdb [retrieval]=$fixtures/aan
  [image]=$tmp/cifar10 [pathfinder]=$tmp/pathfinder)
for task in listops text retrieval image pathfinder; do
  out=$tmp/run_$task
  "$worker" --config=configs/lra/$task.yaml --max-steps=2 \
    --set task.lra.data_dir="${data[$task]}" --set task.lra.skip_malformed=true \
    --set data.global_batch=2 \
    --set optim.accumulation=1 --set run.eval_batches=1 --set run.eval_every=2 \
    --set run.checkpoint_every=2 --set run.out_dir="$out" --set run.threads=1 \
    >"$tmp/$task.log" 2>&1 || { cat "$tmp/$task.log"; fail "$task: the worker failed"; }
  grep -q "done at step 2;" "$tmp/$task.log" || { cat "$tmp/$task.log"; fail "$task: no step 2"; }
  python3 - "$out/lra_result.json" "$task" <<'PYEOF' || fail "$task: lra_result.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["lra_task"] == sys.argv[2] and r["test_examples"] > 0, r
assert 0 < r["test_mean_density"] < 1, r  # SBM attention, sparse at full length
print("%s: length %d, 2 steps, test pass on %d examples, density %.3f"
      % (r["task"], r["sequence_length"], r["test_examples"], r["test_mean_density"]))
PYEOF
done

# Bad input: a malformed row (in the test split) stops the run before its first step, naming
# the file and line; above, skip_malformed counted and skipped them.
! "$worker" --config=configs/lra/listops.yaml --max-steps=1 \
    --set task.lra.data_dir=$fixtures/listops --set data.global_batch=2 \
    --set run.out_dir="$tmp/bad" --set run.threads=1 >"$tmp/bad.log" 2>&1 ||
  fail "a malformed test split was accepted"
! grep -q "done at step" "$tmp/bad.log" || fail "trained before reading the test split"
grep -q "basic_test.tsv:3: expected 'Source<TAB>Target', got 1 fields" "$tmp/bad.log" ||
  { cat "$tmp/bad.log"; fail "no error naming basic_test.tsv:3"; }
! "$worker" --config=configs/lra/listops.yaml --set task.lra.name=listopz \
    --set run.out_dir="$tmp/bad2" >"$tmp/bad2.log" 2>&1 || fail "an unknown task was accepted"
grep -q "task.lra.name=listopz: expected one of listops, text, retrieval, image, pathfinder" \
  "$tmp/bad2.log" || { cat "$tmp/bad2.log"; fail "no error for the unknown task"; }
echo PASS
