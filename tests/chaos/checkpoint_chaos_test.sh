#!/usr/bin/env bash
# Fault injection on checkpoints, with real worker processes:
#  - kill -9 at random moments of a run that saves and prunes a checkpoint every step, its
#    writes slowed by the writer's fault hook so that kills land inside saves (20 times for one
#    process, 10 times for a 2-rank mpirun job), resuming after each;
#  - a disk that fills (saves fail) and empties again (the worker is restarted), 4 times, by the
#    checkpoint writer's fault hook (SBMT_FAULT_FREE_BYTES_FILE).
# After every fault, each committed step on disk must be bitwise what an undisturbed run
# committed at that step; every run must finish with the undisturbed run's final weights; no
# temporary directory and no damaged step may be left. Prints the counts.
set -euo pipefail
source tools/testing/mpirun_env.sh

worker="$1"
tool="$2"
config="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/chaos"
rm -rf "$tmp" && mkdir -p "$tmp/data"
"$tool" shards "$tmp/data"
steps=60
common=(--config="$config" --set "data.train=$tmp/data/train.shard"
        --set "data.valid=$tmp/data/valid.shard" --set "data.vocab=$tmp/data/vocab.txt"
        --set optim.total_steps=$steps --set run.checkpoint_every=1 --set run.eval_every=1000
        --set run.log_every=1000)
fail() { echo "FAIL: $*" >&2; exit 1; }
RANDOM=17  # the same moments every run of the test

kills=0 mid_save=0 restarts=0 disk_full=0 checked=0

# Every committed step of run $1 equals reference $2's step, file by file.
check_committed() {
  local run=$1 reference=$2
  for dir in "$run"/checkpoints/step_*; do
    [[ -f "$dir/COMMITTED" ]] || continue
    local step=${dir##*/}
    for f in model.safetensors optimizer.safetensors state.json; do
      cmp -s "$dir/$f" "$reference/checkpoints/$step/$f" \
          || fail "$dir/$f differs from what the undisturbed run committed"
    done
    checked=$((checked + 1))
  done
}

# No damaged step ever; with $2 = finished, no temporary directory either (a kill during a save
# leaves one, which the next start removes).
check_clean() {
  local run=$1 when=${2:-}
  [[ -d "$run/checkpoints/damaged" ]] && fail "a step of $run was damaged: $(ls "$run/checkpoints/damaged")"
  if [[ "$when" == finished ]] && compgen -G "$run/checkpoints/.tmp_*" > /dev/null; then
    fail "temporary directories left in $run"
  fi
  return 0
}

finished() { [[ -f "$1/checkpoints/step_$steps/COMMITTED" ]]; }

echo "=== undisturbed references (every checkpoint kept)"
"$worker" "${common[@]}" --set run.keep_checkpoints=1000 --set run.out_dir="$tmp/ref1" > /dev/null
mpirun_local -np 2 "$worker" "${common[@]}" --set run.keep_checkpoints=1000 \
    --set run.out_dir="$tmp/ref2" > /dev/null

# Runs a job in the background ($1: ranks, $2: run dir), sets `job` to the launcher's pid.
start() {
  local ranks=$1 run=$2
  if (( ranks == 1 )); then
    "$worker" "${common[@]}" --set run.keep_checkpoints=2 --set run.out_dir="$run" \
        >> "$run.log" 2>&1 &
  else
    mpirun_local -np 2 "$worker" "${common[@]}" --set run.keep_checkpoints=2 \
        --set run.out_dir="$run" >> "$run.log" 2>&1 &
  fi
  job=$!
}

kill_job() {
  pkill -9 -P "$job" 2>/dev/null || true  # mpirun under the subshell
  pkill -9 -f "run.out_dir=$1( |$)" 2>/dev/null || true
  kill -9 "$job" 2>/dev/null || true
  wait "$job" 2>/dev/null || true
  for _ in $(seq 1 200); do
    pgrep -f "run.out_dir=$1( |$)" > /dev/null || return 0
    sleep 0.05
  done
  fail "processes of $1 survived kill -9"
}

# kill -9 the job of $1 ranks $2 times at random moments, resuming after each.
chaos() {
  local ranks=$1 times=$2 run="$tmp/chaos$1" reference="$tmp/ref$1"
  mkdir -p "$run"
  for ((i = 0; i < times; ++i)); do
    finished "$run" && { rm -rf "$run"; mkdir -p "$run"; }  # finished early: a fresh run
    start "$ranks" "$run"
    sleep "$(( RANDOM % 2000 + 1000 * ranks ))e-3"
    kill_job "$run"
    kills=$((kills + 1))
    if compgen -G "$run/checkpoints/.tmp_*" > /dev/null; then mid_save=$((mid_save + 1)); fi
    check_committed "$run" "$reference"
    check_clean "$run"
  done
  start "$ranks" "$run"  # resume to the end
  wait "$job" || { tail -5 "$run.log"; fail "the resumed job of $run failed"; }
  restarts=$((restarts + 1))
  finished "$run" || fail "$run did not finish"
  check_committed "$run" "$reference"
  check_clean "$run" finished
}

echo "=== kill -9 during saves and pruning: 1 process x 20, 2 ranks x 10"
# Each file of a save is delayed 20 ms (the writer's fault hook), so that saves and pruning take
# most of a step and the random kills land inside them.
export SBMT_FAULT_SLOW_WRITES_MS=20
chaos 1 20
chaos 2 10
unset SBMT_FAULT_SLOW_WRITES_MS

echo "=== a disk that fills and empties, 4 times"
run="$tmp/disk" free="$tmp/free_bytes"
export SBMT_FAULT_FREE_BYTES_FILE="$free"
# Saves slowed to at least 150 ms a step, so that each of the 4 runs (at most 2 s before its
# disk fills) covers at most 13 of the 60 steps: the disk is always full before the run ends.
# Without it a fast machine finished the run before the fourth fill, and counted 2 or 3 fills.
export SBMT_FAULT_SLOW_WRITES_MS=50
for ((i = 0; i < 4; ++i)); do
  echo 100000000 > "$free"
  start 1 "$run"
  sleep "$(( RANDOM % 1500 + 500 ))e-3"
  echo 1000 > "$free"  # full: the next save fails and the worker exits with the reason
  set +e; wait "$job"; status=$?; set -e
  if (( status != 0 )); then
    grep -q "No space left on device" "$run.log" || { tail -3 "$run.log"; fail "no disk-full error"; }
    grep -q "the save needed" "$run.log" || fail "the error does not say what the save needed"
    disk_full=$((disk_full + 1))
    compgen -G "$run/checkpoints/.tmp_*" > /dev/null && fail "a failed save left its temporary"
  fi
  check_committed "$run" "$tmp/ref1"
  check_clean "$run"
done
echo 100000000 > "$free"  # emptied: the restarted worker resumes and finishes
start 1 "$run"
wait "$job" || fail "the job did not resume after the disk emptied"
finished "$run" || fail "$run did not finish"
check_committed "$run" "$tmp/ref1"
check_clean "$run" finished
unset SBMT_FAULT_FREE_BYTES_FILE SBMT_FAULT_SLOW_WRITES_MS

printf '\n%-44s %s\n' "fault" "count"
printf '%-44s %d\n' "kill -9 (1 process 20, 2 ranks 10)" "$kills"
printf '%-44s %d\n' "  of which left a save unfinished (.tmp_)" "$mid_save"
printf '%-44s %d\n' "saves failed on a full disk" "$disk_full"
printf '%-44s %d\n' "committed steps compared bitwise, all equal" "$checked"
printf '%-44s %s\n' "runs finished with the undisturbed weights" "3 of 3"
(( kills >= 30 )) || fail "only $kills kills"
(( disk_full == 4 )) || fail "the disk filled only $disk_full of 4 times during a run"
echo "PASS"
