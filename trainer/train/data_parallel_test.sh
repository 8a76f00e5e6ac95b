#!/usr/bin/env bash
# Data-parallel training under real `mpirun` (trainer/dist, the Trainer with the MLM task):
#  1. 2 ranks x 4 examples give bitwise the weights of 1 process with 2 micro-steps of 4, and
#     within 1e-5 those of 1 process with one batch of 8 (float sums in another order);
#  2. a 2-rank run killed after a committed checkpoint resumes to the uninterrupted weights,
#     at world size 2 and at world size 1;
#  3. a rank killed mid-run ends the job within the deadline, and the output names the rank;
#  4. a stuck rank (SIGSTOP): the job ends after the deadline, rank 0 naming itself, the op and
#     its sequence number;
#  5. ranks with different configs, and a world size that does not divide the global batch,
#     are refused with errors that say what differs and which sizes would work;
#  6. --log-all-ranks makes every rank log its step, eval and checkpoint lines.
set -euo pipefail
source tools/testing/mpirun_env.sh

worker="$1"
tool="$2"
config="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/dp"
rm -rf "$tmp" && mkdir -p "$tmp/data"
"$tool" shards "$tmp/data"
common=(--config="$config" --set "data.train=$tmp/data/train.shard"
        --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt")
final() { echo "$tmp/$1/checkpoints/step_60/model.safetensors"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "=== 1. equivalence"
"$worker" "${common[@]}" --set run.out_dir="$tmp/one_acc2" --set optim.accumulation=2 > "$tmp/one_acc2.log"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/two" | tee "$tmp/two.log" | tail -3
grep -q "world size 2 (mpi)" "$tmp/two.log" || fail "the 2-rank run did not use MPI"
"$tool" compare "$(final one_acc2)" "$(final two)" --tolerance=0 || fail "2 ranks != 1 process x 2 micro-steps"
# One batch of 8 draws other hidden-dropout masks than two slices of 4 (torch's generator is
# seeded per micro-batch), so this comparison runs without dropout.
"$worker" "${common[@]}" --set model.dropout=0 --set run.out_dir="$tmp/one" > "$tmp/one.log"
mpirun_local -np 2 "$worker" "${common[@]}" --set model.dropout=0 --set run.out_dir="$tmp/two_nodrop" > /dev/null
"$tool" compare "$(final one)" "$(final two_nodrop)" --tolerance=1e-5 || fail "2 ranks not within 1e-5 of one batch"

echo "=== 2. kill after a committed checkpoint, resume"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/killed" > "$tmp/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  [[ -f "$tmp/killed/checkpoints/step_20/COMMITTED" ]] && break
  sleep 0.05
done
kill -9 $launcher 2>/dev/null || true
pkill -9 -f "run.out_dir=$tmp/killed" || true
wait $launcher 2>/dev/null || true
[[ -f "$tmp/killed/checkpoints/step_60/COMMITTED" ]] && fail "the run finished before it was killed"
cp -r "$tmp/killed" "$tmp/killed_w1"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/killed" > "$tmp/resumed.log"
grep "resumed from" "$tmp/resumed.log"
"$tool" compare "$(final two)" "$(final killed)" --tolerance=0 || fail "resumed at world size 2 differs"
"$worker" "${common[@]}" --set run.out_dir="$tmp/killed_w1" --set optim.accumulation=2 > "$tmp/resumed_w1.log"
grep "written at world size 2" "$tmp/resumed_w1.log"
"$tool" compare "$(final two)" "$(final killed_w1)" --tolerance=0 || fail "resumed at world size 1 differs"

# Rank 1's process of the job whose output dir is $1.
rank1_pid() {
  for _ in $(seq 1 400); do
    for pid in $(pgrep -f "run.out_dir=$tmp/$1" || true); do
      if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
        echo "$pid"
        return
      fi
    done
    sleep 0.05
  done
}
long=(--set optim.total_steps=100000 --set run.checkpoint_every=100000 --set run.eval_every=100000)

# Starts a long 2-rank job named $1 with dist.timeout_s=$2, sends signal $3 to rank 1 once step
# 20 is logged, and waits for the job to end. Sets `status`, and `elapsed`: seconds from the
# signal to the end of the job.
disturb_rank1() {
  local name=$1 timeout=$2 signal=$3
  mpirun_local -np 2 "$worker" "${common[@]}" "${long[@]}" --set dist.timeout_s="$timeout" \
      --set run.out_dir="$tmp/$name" > "$tmp/$name.log" 2>&1 &
  local launcher=$!
  until grep -q "step 20/" "$tmp/$name.log"; do
    kill -0 "$launcher" 2>/dev/null || fail "job $name ended before step 20"
    sleep 0.05
  done
  local victim
  victim=$(rank1_pid "$name")
  [[ -n "$victim" ]] || fail "rank 1 of job $name not found"
  kill "-$signal" "$victim"
  local sent
  sent=$(date +%s)
  set +e
  wait "$launcher"
  status=$?
  set -e
  elapsed=$(( $(date +%s) - sent ))
  kill -9 "$victim" 2>/dev/null || true
  grep -v "^\[" "$tmp/$name.log" | head -20
}

echo "=== 3. a rank dies mid-run"
disturb_rank1 dies 20 KILL
(( status != 0 )) || fail "the job exited 0 after rank 1 died"
(( elapsed < 20 )) || fail "the job took ${elapsed} s to end, past the 20 s deadline"
grep -q "rank 1" "$tmp/dies.log" || fail "no message names rank 1"
echo "job ended ${elapsed} s after rank 1 died (status $status)"

echo "=== 4. a rank stops responding"
disturb_rank1 stuck 3 STOP
(( status != 0 )) || fail "the job exited 0 with a stuck rank"
(( elapsed < 15 )) || fail "the watchdog took ${elapsed} s for a 3 s deadline"
# Rank 0 gives up waiting (its Work's timeout or its watchdog, whichever comes first).
grep -Eq "rank 0: aborting the job: .*rank 0: [a-z]+ #[0-9]+ .*(did not complete within|has not completed after) [0-9]+ s" \
    "$tmp/stuck.log" || fail "no message naming rank, op and sequence number"
echo "job ended ${elapsed} s after rank 1 stopped (status $status)"

echo "=== 5. bad setups are refused with a clear error"
set +e
mpirun_local -np 1 "$worker" "${common[@]}" --set run.out_dir="$tmp/mismatch" --set optim.lr=1e-3 : \
    -np 1 "$worker" "${common[@]}" --set run.out_dir="$tmp/mismatch" --set optim.lr=2e-3 \
    > "$tmp/mismatch.log" 2>&1
status=$?
mpirun_local -np 3 "$worker" "${common[@]}" --set run.out_dir="$tmp/three" > "$tmp/three.log" 2>&1
status3=$?
set -e
grep -m1 "configuration differs" "$tmp/mismatch.log"
(( status != 0 )) || fail "ranks with different configs were accepted"
grep -q "the configuration differs across ranks: optim.lr (ranks 1 differ from rank 0" \
    "$tmp/mismatch.log" || fail "no error naming the differing rank"
grep -m1 "does not split" "$tmp/three.log"
(( status3 != 0 )) || fail "world size 3 accepted for a global batch of 8"
grep -q "data.global_batch (8) does not split into world size 3 x optim.accumulation (1) equal micro-batches; world sizes near 3 that do: 1, 2, 4" \
    "$tmp/three.log" || fail "no error with the nearest valid world sizes"
echo "=== 6. --log-all-ranks: every rank logs its step, eval and checkpoint lines"
mpirun_local -np 2 "$worker" "${common[@]}" --set run.out_dir="$tmp/all_ranks" \
    --set optim.total_steps=10 --set run.eval_every=5 --set run.checkpoint_every=5 \
    --log-all-ranks > "$tmp/all_ranks.log"
for rank in 0 1; do
  for line in "step 10/10" "eval step 5" "checkpoint $tmp/all_ranks/checkpoints/step_10"; do
    grep -q "rank $rank: $line" "$tmp/all_ranks.log" || fail "rank $rank did not log '$line'"
  done
done
# Only rank 0 writes the step records: one per step.
steps=$(grep -c '"kind":"step"' "$tmp/all_ranks/metrics.jsonl")
(( steps == 10 )) || fail "metrics.jsonl holds $steps step records, expected 10"
# Each step reduced the same gradient bytes (every trainable parameter, float32) in some time.
python3 - "$tmp/all_ranks/metrics.jsonl" <<'EOF' || fail "allreduce_seconds/bytes missing from the step records"
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '"kind":"step"' in l]
sizes = {s["allreduce_bytes"] for s in steps}
assert len(sizes) == 1 and min(sizes) > 0 and min(sizes) % 4 == 0, sizes
assert all(s["allreduce_seconds"] > 0 for s in steps), [s["allreduce_seconds"] for s in steps]
print("allreduce per step:", sizes.pop(), "bytes")
EOF

echo "PASS"
