#!/usr/bin/env bash
# The worker binary under what a hostile but fair user does, each with real processes:
#  1. SIGTERM (Slurm's and Kubernetes' warning before a kill) to one worker: it finishes the
#     step, commits it, exits 0;
#  2. SIGTERM to a 2-rank mpirun job: every rank stops after the same step, which is committed;
#  3. a second worker on a run directory in use is refused at once, naming the holder;
#  4. --config naming a directory, and --export-hf without a readable vocabulary, fail before
#     training with messages that name them;
#  5. a damaged shard fails with the shard named and no C++ backtrace.
set -euo pipefail
source tools/testing/mpirun_env.sh

worker="$1"
tool="$2"
config="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/worker_hardening"
rm -rf "$tmp" && mkdir -p "$tmp/data"
"$tool" shards "$tmp/data"
common=(--config="$config" --set "data.train=$tmp/data/train.shard"
        --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt"
        --set optim.total_steps=100000 --set run.checkpoint_every=100000
        --set run.eval_every=100000)
fail() { echo "FAIL: $*" >&2; exit 1; }

# Waits until file $1 holds a line matching $2 (at most 60 s).
wait_for() {
  for _ in $(seq 1 1200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no '$2' in $1"
}

echo "=== 1. SIGTERM to one worker"
"$worker" "${common[@]}" --set run.out_dir="$tmp/one" > "$tmp/one.log" 2>&1 &
pid=$!
wait_for "$tmp/one.log" "step 10/"
kill -TERM "$pid"
set +e; wait "$pid"; status=$?; set -e
(( status == 0 )) || { cat "$tmp/one.log"; fail "exit status $status after SIGTERM"; }
step=$(sed -n 's/.*stopped by signal 15 at step \([0-9]*\).*/\1/p' "$tmp/one.log")
[[ -n "$step" ]] || fail "no 'stopped by signal 15' line"
[[ -f "$tmp/one/checkpoints/step_$step/COMMITTED" ]] || fail "step $step was not committed"
echo "stopped at step $step, committed, exit 0"

echo "=== 2. SIGTERM to a 2-rank job"
# Each rank writes its own log file: mpirun may exit before it forwards the ranks' last lines.
mpirun_local -np 2 bash -c 'exec "$0" "$@" > "'"$tmp"'/two_rank_$OMPI_COMM_WORLD_RANK.log" 2>&1' \
    "$worker" "${common[@]}" --set run.out_dir="$tmp/two" --log-all-ranks > "$tmp/two.log" 2>&1 &
launcher=$!
wait_for "$tmp/two_rank_1.log" "rank 1: step 10/"
pkill -TERM -P "$launcher" -x mpirun  # $! is the subshell running mpirun_local
set +e; wait "$launcher"; set -e  # mpirun reports the signal itself; the ranks exit 0
for _ in $(seq 1 600); do
  pgrep -f "run.out_dir=$tmp/two" > /dev/null || break
  sleep 0.05
done
cat "$tmp"/two_rank_*.log > "$tmp/two_ranks.log"
s0=$(sed -n 's/.*rank 0: stopped by signal 15 at step \([0-9]*\).*/\1/p' "$tmp/two_ranks.log")
s1=$(sed -n 's/.*rank 1: stopped by signal 15 at step \([0-9]*\).*/\1/p' "$tmp/two_ranks.log")
[[ -n "$s0" && "$s0" == "$s1" ]] || { tail -20 "$tmp/two_ranks.log"; fail "ranks stopped at '$s0' and '$s1'"; }
[[ -f "$tmp/two/checkpoints/step_$s0/COMMITTED" ]] || fail "step $s0 was not committed"
echo "both ranks stopped at step $s0, committed"

echo "=== 3. a second worker on a run directory in use"
"$worker" "${common[@]}" --set run.out_dir="$tmp/locked" > "$tmp/first.log" 2>&1 &
first=$!
wait_for "$tmp/first.log" "step 10/"
set +e
"$worker" "${common[@]}" --set run.out_dir="$tmp/locked" > "$tmp/second.log" 2>&1
status=$?
set -e
kill -TERM "$first"; wait "$first" || true
(( status != 0 )) || fail "the second worker was accepted"
grep -q "run.out_dir $tmp/locked is in use by another worker (pid $first on " "$tmp/second.log" \
    || { cat "$tmp/second.log"; fail "no message naming the holder"; }
grep -q "step " "$tmp/second.log" && fail "the second worker trained"
echo "refused: $(grep -o 'is in use by another worker ([^)]*)' "$tmp/second.log")"

echo "=== 4. bad outputs and inputs are named before training"
set +e
"$worker" --config="$tmp" > "$tmp/dir.log" 2>&1
s_dir=$?
"$worker" "${common[@]}" --set run.out_dir="$tmp/export" --set optim.total_steps=5 \
    --export-hf="$tmp/export/hf" --set "data.vocab=$tmp/data/vocab.txt" > /dev/null 2>&1
chmod 000 "$tmp/data/vocab.txt"
if [[ -r "$tmp/data/vocab.txt" ]]; then
  s_vocab=skip  # root reads any file: the unreadable-vocabulary case cannot be made here
else
  "$worker" "${common[@]}" --set run.out_dir="$tmp/export2" --export-hf="$tmp/export2/hf" \
      > "$tmp/vocab.log" 2>&1
  s_vocab=$?
fi
chmod 644 "$tmp/data/vocab.txt"
"$worker" "${common[@]}" --set run.out_dir="$tmp/export3" --export-hf=/proc/version \
    > "$tmp/export3.log" 2>&1
s_export=$?
set -e
(( s_dir != 0 )) && grep -q "$tmp: is a directory; expected a YAML config file" "$tmp/dir.log" \
    || fail "--config=DIR not named"
[[ -f "$tmp/export/hf/model.safetensors" && ! -e "$tmp/export/hf.partial" ]] \
    || fail "a good export is missing or left a partial directory"
if [[ "$s_vocab" != skip ]]; then
  (( s_vocab != 0 )) && grep -q "data.vocab" "$tmp/vocab.log" || fail "unreadable vocabulary"
fi
(( s_export != 0 )) && grep -q -- "--export-hf=/proc/version: exists and is not a directory" \
    "$tmp/export3.log" || { cat "$tmp/export3.log"; fail "a bad export path not refused"; }
grep -q "step " "$tmp/export3.log" && fail "trained before refusing the export path"
echo "named: config directory, export path"

echo "=== 5. a damaged shard"
cp "$tmp/data/train.shard" "$tmp/data/damaged.shard"
size=$(stat -c %s "$tmp/data/damaged.shard")
printf '\xff\xff' | dd of="$tmp/data/damaged.shard" bs=1 seek=$((size - 6)) conv=notrunc 2>/dev/null
set +e
"$worker" "${common[@]}" --set run.out_dir="$tmp/damaged" \
    --set "data.train=$tmp/data/damaged.shard" > "$tmp/damaged.log" 2>&1
status=$?
set -e
(( status != 0 )) || fail "a damaged shard was accepted"
grep -q "sbmt_worker: error (data loss): $tmp/data/damaged.shard: checksum mismatch" \
    "$tmp/damaged.log" || { cat "$tmp/damaged.log"; fail "the shard is not named"; }
grep -Eq "Exception raised from|frame #[0-9]" "$tmp/damaged.log" && fail "a backtrace was printed"
echo "named: $(grep -o 'checksum mismatch[^;]*' "$tmp/damaged.log")"
echo "PASS"
