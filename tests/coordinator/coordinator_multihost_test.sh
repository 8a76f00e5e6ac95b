#!/usr/bin/env bash
# Placement over two hosts with real mpirun: the hostfile lists 127.0.0.1 and 127.0.0.2 with 2
# slots each; OpenMPI starts its daemon on the second "host" through an rsh agent that runs the
# command here (the operator's launch template names the agent, as it would ssh). Then:
#  1. a 2-rank job X runs on the first host; a 4-rank job Y does not fit and waits; a later
#     2-rank job Z is backfilled beside X on the second host (describe shows all three);
#  2. X and Z are cancelled; Y is placed over both hosts and runs to the end, each rank pinned
#     to its slot's GPU (CUDA_VISIBLE_DEVICES).
set -euo pipefail
source tools/testing/mpirun_env.sh
coordinator_bin="$1" ctl="$2" worker="$3" tool="$4" config="$5"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/coordinator_multihost"
rm -rf "$tmp" && mkdir -p "$tmp/data"
fail() { echo "FAIL: $*" >&2; tail -n 30 "$tmp/coordinator.log" >&2 || true; exit 1; }
"$tool" shards "$tmp/data"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
printf '127.0.0.1 slots=2\n127.0.0.2 slots=2\n' >"$tmp/hosts"
cat >"$tmp/rsh" <<'EOF'
#!/bin/sh
# rsh agent for tests: "rsh [options] HOST COMMAND..." runs COMMAND on this machine.
while [ "${1#-}" != "$1" ]; do shift; done
shift
exec /bin/sh -c "$*"
EOF
chmod +x "$tmp/rsh"
# Both "hosts" are this machine: shared-memory transport between their ranks would collide in
# one session directory, so ranks talk over TCP on loopback, as across real hosts.
template="mpirun -np {np} --host {hosts} --bind-to none --mca plm_rsh_agent $tmp/rsh"
template+=" --mca btl self,tcp {worker}"
template+=" --config={config} {overrides} --coordinator={address}"
template+=" --coordinator-token-file={token_file} --job={job} --attempt={attempt}"
template+=" --gpu-slots={slots} --log-all-ranks"
"$coordinator_bin" --listen=127.0.0.1:0 --port-file="$tmp/port" --state-dir="$tmp/state" \
  --token-file="$tmp/token" --hostfile="$tmp/hosts" --worker="$worker" \
  --heartbeat-interval=0.5 --launch-template="$template" >"$tmp/coordinator.log" 2>&1 &
coordinator=$!
trap 'kill $coordinator 2>/dev/null; pkill -9 -f -- "--coordinator-token-file=$tmp/token" || true' EXIT
for _ in $(seq 1 100); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
export SBMT_COORDINATOR="127.0.0.1:$(cat "$tmp/port")" SBMT_TOKEN_FILE="$tmp/token"

spec() {  # NAME RANKS STEPS
  cat >"$tmp/$1.yaml" <<EOF
name: $1
config: $(pwd)/$config
world_size: $2
overrides:
  data.train: $tmp/data/train.shard
  data.valid: $tmp/data/valid.shard
  data.vocab: $tmp/data/vocab.txt
  data.global_batch: 8
  optim.total_steps: $3
  run.checkpoint_every: 5
  run.eval_every: 1000
EOF
  echo "$tmp/$1.yaml"
}
field() { "$ctl" describe "$1" --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }
hosts_of() { field "$1" '" ".join(j["attempts"][-1]["hosts"]) if j.get("attempts") else ""'; }
wait_state() {  # JOB STATE
  for _ in $(seq 1 600); do [[ $(field "$1" 'j.get("state","")') == "$2" ]] && return 0; sleep 0.1; done
  fail "job $1 is $(field "$1" 'j.get("state","")'), expected $2"
}
wait_step() {
  for _ in $(seq 1 600); do
    [[ $(field "$1" 'int(j.get("lastReport", {}).get("step", 0))') -ge $2 ]] && return 0
    sleep 0.1
  done
  fail "job $1 did not reach step $2"
}

echo "=== 1. a 4-rank job waits; a later 2-rank job is backfilled beside a 2-rank job"
x=$("$ctl" submit "$(spec x 2 100000)")
wait_state "$x" RUNNING
y=$("$ctl" submit "$(spec y 4 10)")
z=$("$ctl" submit "$(spec z 2 100000)")
wait_state "$z" RUNNING
wait_step "$x" 2
wait_step "$z" 2
echo "  X: $(hosts_of "$x")   Y: $(field "$y" 'j["state"]')   Z: $(hosts_of "$z")"
[[ "$(hosts_of "$x")" == "127.0.0.1:0 127.0.0.1:1" ]] || fail "X placed on $(hosts_of "$x")"
[[ "$(hosts_of "$z")" == "127.0.0.2:0 127.0.0.2:1" ]] || fail "Z placed on $(hosts_of "$z")"
[[ $(field "$y" 'j["state"]') == QUEUED ]] || fail "Y should wait for 4 free slots"

echo "=== 2. with X and Z cancelled, the 4-rank job runs over both hosts"
"$ctl" cancel "$x" >/dev/null
"$ctl" cancel "$z" >/dev/null
"$ctl" watch "$y" >/dev/null 2>"$tmp/y.err" || { cat "$tmp/y.err"; fail "Y did not succeed"; }
echo "  Y: $(hosts_of "$y")"
[[ "$(hosts_of "$y")" == "127.0.0.1:0 127.0.0.1:1 127.0.0.2:0 127.0.0.2:1" ]] || fail "Y placed on $(hosts_of "$y")"
[[ $(field "$x" 'j["state"]') == CANCELLED && $(field "$z" 'j["state"]') == CANCELLED ]] || fail "X, Z not cancelled"
grep -q "world size 4" "$tmp/state/jobs/$y/attempt-1.log" || fail "Y did not train on 4 ranks"
# Each rank's slot on its host is its GPU: ranks 1 and 3 hold slot 1 of their hosts.
for rank_slot in 0:0 1:1 2:0 3:1; do
  grep -q "rank ${rank_slot%:*}: config .*GPU slot ${rank_slot#*:}\$" "$tmp/state/jobs/$y/attempt-1.log" ||
    fail "rank ${rank_slot%:*} was not pinned to slot ${rank_slot#*:}"
done
"$ctl" list
echo "PASS"
