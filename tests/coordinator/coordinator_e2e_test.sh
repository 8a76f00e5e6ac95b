#!/usr/bin/env bash
# The coordinator end to end, with real processes only: sbmt_coordinator on loopback, sbmtctl,
# and 2-rank mpirun jobs of sbmt_worker on this machine.
#  1. auth: no token or a wrong one is UNAUTHENTICATED and changes nothing;
#  2. a job runs to the end under `sbmtctl watch` (exit 0) with its final checkpoint committed
#     and recorded;
#  3. chaos: kill -9 of a random rank at a random step, RUNS times; every job completes after
#     a restart, and its final weights are bitwise identical to the uninterrupted job's;
#  4. the coordinator itself killed (-9) mid-job and started again on the same state: the job
#     completes and its committed steps are all there;
#  5. a rank stopped with SIGSTOP is declared dead within 3 heartbeat intervals plus tolerance,
#     the event names it, and with max_restarts 0 the job ends FAILED with that reason;
#  6. cancel: the workers commit their step and the job ends CANCELLED;
#  7. a rank stuck in compute while its heartbeats go on: the stalled collective is blamed on
#     that rank and host within the stall deadline;
#  8. bad input: empty name, negative world size, unknown job, an unknown spec key.
set -euo pipefail
source tools/testing/mpirun_env.sh
coordinator_bin="$1" ctl="$2" worker="$3" tool="$4" config="$5"
runs="${CHAOS_RUNS:-5}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/coordinator_e2e"
rm -rf "$tmp" && mkdir -p "$tmp/data"
fail() { echo "FAIL: $*" >&2; [[ -f "$tmp/coordinator.log" ]] && tail -n 30 "$tmp/coordinator.log" >&2; exit 1; }
"$tool" shards "$tmp/data"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
echo "localhost slots=2" >"$tmp/hosts"
export SBMT_TOKEN_FILE="$tmp/token"

coordinator_pid=""
start_coordinator() {  # [LISTEN]
  rm -f "$tmp/port"
  "$coordinator_bin" --listen="${1:-127.0.0.1:0}" --port-file="$tmp/port" --state-dir="$tmp/state" \
    --token-file="$tmp/token" --hostfile="$tmp/hosts" --worker="$worker" \
    --heartbeat-interval=0.5 --startup-timeout=30 >>"$tmp/coordinator.log" 2>&1 &
  coordinator_pid=$!
  for _ in $(seq 1 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
  [[ -s "$tmp/port" ]] || fail "the coordinator did not start"
  export SBMT_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
}
stop_all() {
  [[ -n "$coordinator_pid" ]] && kill "$coordinator_pid" 2>/dev/null || true
  pkill -9 -f -- "--coordinator-token-file=$tmp/token" 2>/dev/null || true
}
trap stop_all EXIT

spec() {  # NAME STEPS MAX_RESTARTS -> spec file path
  cat >"$tmp/$1.yaml" <<EOF
name: $1
config: $(pwd)/$config
world_size: 2
max_restarts: $3
checkpoint_every: 5
overrides:
  data.train: $tmp/data/train.shard
  data.valid: $tmp/data/valid.shard
  data.vocab: $tmp/data/vocab.txt
  optim.total_steps: $2
  run.eval_every: 1000
  run.log_every: 1
EOF
  echo "$tmp/$1.yaml"
}
state_of() { "$ctl" describe "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("state", ""))'; }
field() { "$ctl" describe "$1" --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }
# The sbmt_worker processes (not mpirun) of job $1.
ranks_of() {  # (this test's: other tests may run jobs with the same ids)
  for p in $(pgrep -f -- "--coordinator-token-file=$tmp/token --job=$1 "); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^[^ ]*sbmt_worker " && echo "$p"
  done
  return 0
}
wait_step() {  # JOB STEP: until rank 0 reported at least STEP (30 s at most)
  for _ in $(seq 1 600); do
    [[ $(field "$1" 'int(j.get("lastReport", {}).get("step", 0))' 2>/dev/null || echo 0) -ge $2 ]] && return 0
    sleep 0.05
  done
  fail "job $1 did not reach step $2"
}
final_weights() { echo "$tmp/state/jobs/$1/run/checkpoints/step_$2/model.safetensors"; }

start_coordinator

echo "=== 1. auth"
echo "not-the-token-at-all" >"$tmp/wrong"
if SBMT_TOKEN_FILE="$tmp/wrong" "$ctl" list 2>"$tmp/err"; then fail "a wrong token was accepted"; fi
grep -q "UNAUTHENTICATED: wrong token" "$tmp/err" || fail "wrong-token message: $(cat "$tmp/err")"
if SBMT_TOKEN_FILE="$tmp/wrong" "$ctl" submit "$(spec nope 10 0)" 2>/dev/null; then fail "submitted with a wrong token"; fi
[[ $("$ctl" list | wc -l) -eq 1 ]] || fail "a refused call changed the job list"

echo "=== 2. a job to the end"
reference=$("$ctl" submit "$(spec reference 100 0)")
"$ctl" watch "$reference" >"$tmp/watch.out" 2>"$tmp/watch.err" || { cat "$tmp/watch.err"; fail "watch did not report success"; }
grep -q "step 100/100" "$tmp/watch.err" || fail "watch showed no progress line"
[[ $(field "$reference" 'j["lastCommittedStep"]') == 100 ]] || fail "last committed step not recorded"
[[ -f "$tmp/state/jobs/$reference/run/checkpoints/step_100/COMMITTED" ]] || fail "no committed final checkpoint"
"$ctl" describe "$reference" | grep -q "SUCCEEDED" || fail "describe does not say SUCCEEDED"

echo "=== 3. chaos: kill -9 of a random rank at a random step, $runs runs"
restarted=0 identical=0
for run in $(seq 1 "$runs"); do
  job=$("$ctl" submit "$(spec chaos$run 100 3)")
  kill_at=$((RANDOM % 40 + 3))
  wait_step "$job" "$kill_at"
  victims=($(ranks_of "$job"))
  [[ ${#victims[@]} -ge 1 ]] || fail "no worker processes of $job"
  victim=${victims[$((RANDOM % ${#victims[@]}))]}
  kill -9 "$victim"
  "$ctl" watch "$job" >/dev/null 2>"$tmp/chaos$run.err" || { cat "$tmp/chaos$run.err"; fail "chaos job $job did not succeed"; }
  [[ $(field "$job" 'j.get("restarts", 0)') -ge 1 ]] && restarted=$((restarted + 1))
  cmp -s "$(final_weights "$job" 100)" "$(final_weights "$reference" 100)" && identical=$((identical + 1))
  echo "  run $run: killed pid $victim at step >= $kill_at; $(field "$job" 'j.get("incidents", [{}])[0].get("reason", "no incident")')"
done
echo "chaos: $runs runs, $restarted restarted, $identical with weights bitwise equal to the uninterrupted run"
((restarted == runs && identical == runs)) || fail "chaos: $restarted restarted, $identical identical of $runs"

echo "=== 4. the coordinator killed mid-job"
job=$("$ctl" submit "$(spec survivor 240 2)")
wait_step "$job" 8
port=$(cat "$tmp/port")
kill -9 "$coordinator_pid"
sleep 2  # the workers train on without it
start_coordinator "127.0.0.1:$port"
"$ctl" watch "$job" >/dev/null 2>"$tmp/survivor.err" || { cat "$tmp/survivor.err"; fail "the job did not complete after the coordinator restart"; }
[[ -f "$(final_weights "$job" 240)" ]] || fail "no final checkpoint"
[[ $(field "$job" 'j["lastCommittedStep"]') == 240 ]] || fail "committed step lost across the restart"
[[ $(field "$job" 'len(j["attempts"])') == 1 ]] || fail "the running attempt was not adopted"
[[ "$(state_of "$reference")" == SUCCEEDED ]] || fail "an earlier job's record was lost"

echo "=== 5. SIGSTOP: declared dead within 3 intervals"
job=$("$ctl" submit "$(spec stopped 400 0)")
wait_step "$job" 3
victims=($(ranks_of "$job"))
stopped_at=$(date +%s.%N)
kill -STOP "${victims[1]}"
for _ in $(seq 1 200); do [[ "$(state_of "$job")" == FAILED ]] && break; sleep 0.05; done
declared=$(python3 -c "import time; print(round(time.time() - $stopped_at, 2))")
kill -CONT "${victims[1]}" 2>/dev/null || true
[[ "$(state_of "$job")" == FAILED ]] || fail "the stopped rank was not declared dead"
reason=$(field "$job" 'j["reason"]')
echo "  declared dead after ${declared} s (3 x 0.5 s + 0.5 s tolerance + one tick): $reason"
grep -q "out of restarts (max_restarts 0): rank [01] on .* missed 3 heartbeats" <<<"$reason" || fail "reason: $reason"
python3 -c "import sys; sys.exit(0 if $declared < 3.5 else 1)" || fail "declared after $declared s"

echo "=== 6. cancel"
job=$("$ctl" submit "$(spec cancelled 400 0)")
wait_step "$job" 3
"$ctl" cancel "$job" >/dev/null
for _ in $(seq 1 400); do [[ "$(state_of "$job")" == CANCELLED ]] && break; sleep 0.05; done
[[ "$(state_of "$job")" == CANCELLED ]] || fail "not cancelled"
step=$(field "$job" 'j["lastCommittedStep"]')
[[ -f "$tmp/state/jobs/$job/run/checkpoints/step_$step/COMMITTED" && $step -gt 0 ]] || fail "cancel did not commit (step $step)"

echo "=== 7. a rank stuck in compute: the stalled collective is blamed on it"
# A second coordinator whose workers see SBMT_FAULT_STALL=1:6: rank 1 stops before step 6 while
# its heartbeats go on, and rank 0 waits in the collective rank 1 never issues.
kill "$coordinator_pid"
mkdir -p "$tmp/stall"
SBMT_FAULT_STALL=1:6 "$coordinator_bin" --listen=127.0.0.1:0 --port-file="$tmp/stall/port" \
  --state-dir="$tmp/stall/state" --token-file="$tmp/token" --hostfile="$tmp/hosts" \
  --worker="$worker" --heartbeat-interval=0.5 --stall-after=3 >>"$tmp/coordinator.log" 2>&1 &
coordinator_pid=$!
for _ in $(seq 1 100); do [[ -s "$tmp/stall/port" ]] && break; sleep 0.05; done
export SBMT_COORDINATOR="127.0.0.1:$(cat "$tmp/stall/port")"
job=$("$ctl" submit "$(spec stalled 400 0)")
wait_step "$job" 5
stalled_at=$(date +%s.%N)
for _ in $(seq 1 300); do [[ "$(state_of "$job")" == FAILED ]] && break; sleep 0.05; done
blamed=$(python3 -c "import time; print(round(time.time() - $stalled_at, 1))")
reason=$(field "$job" 'j["reason"]')
echo "  blamed ${blamed} s after step 5 (--stall-after=3): $reason"
grep -q "collective stalled: lagging rank 1 on [^ ]* (" <<<"$reason" || fail "reason: $reason"

echo "=== 8. bad input"
expect_error() {  # SPEC_FILE PATTERN
  if "$ctl" submit "$1" 2>"$tmp/err"; then fail "accepted $1"; fi
  grep -q "$2" "$tmp/err" || fail "expected '$2', got: $(cat "$tmp/err")"
}
sed 's/^name: .*/name: ""/' "$(spec bad 10 0)" >"$tmp/empty_name.yaml"
expect_error "$tmp/empty_name.yaml" "INVALID_ARGUMENT: spec.name"
sed 's/^world_size: .*/world_size: -2/' "$tmp/bad.yaml" >"$tmp/negative.yaml"
expect_error "$tmp/negative.yaml" "INVALID_ARGUMENT: spec.world_size"
printf 'name: x\nwrold_size: 2\n' >"$tmp/typo.yaml"
expect_error "$tmp/typo.yaml" "unknown key 'wrold_size'"
if "$ctl" describe j-999999 2>"$tmp/err"; then fail "an unknown job was described"; fi
grep -q "NOT_FOUND: no job j-999999" "$tmp/err" || fail "unknown-job message"
echo "PASS"
