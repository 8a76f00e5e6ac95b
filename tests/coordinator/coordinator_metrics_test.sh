#!/usr/bin/env bash
# The coordinator's /metrics and a rank's own during a real 2-rank job: `promtool check metrics`
# (Debian's prometheus package) accepts both without a warning, and the series agree with the
# job's record: its step, both ranks up, per-(layer, head) density, the job counted as RUNNING,
# the rank's step counter.
set -euo pipefail
source tools/testing/mpirun_env.sh
coordinator_bin="$1" ctl="$2" worker="$3" tool="$4" config="$5"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/coordinator_metrics"
rm -rf "$tmp" && mkdir -p "$tmp/data"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v promtool >/dev/null || fail "promtool not found (tools/install_deps.sh installs prometheus)"
"$tool" shards "$tmp/data"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
echo "localhost slots=2" >"$tmp/hosts"
# The default launch template, plus each rank's own /metrics on a free port.
template="mpirun -np {np} --host {hosts} --bind-to none {worker} --config={config} {overrides}"
template+=" --coordinator={address} --coordinator-token-file={token_file} --job={job}"
template+=" --attempt={attempt} --gpu-slots={slots} {tls}"
template+=" --metrics-port=0 --metrics-port-file=$tmp/rank_port"
"$coordinator_bin" --listen=127.0.0.1:0 --port-file="$tmp/port" --state-dir="$tmp/state" \
  --token-file="$tmp/token" --hostfile="$tmp/hosts" --worker="$worker" \
  --metrics-listen=127.0.0.1:0 --metrics-port-file="$tmp/metrics_port" \
  --launch-template="$template" >"$tmp/coordinator.log" 2>&1 &
coordinator=$!
trap 'kill $coordinator 2>/dev/null; pkill -9 -f -- "--coordinator-token-file=$tmp/token" || true' EXIT
for _ in $(seq 1 100); do [[ -s "$tmp/port" && -s "$tmp/metrics_port" ]] && break; sleep 0.05; done
export SBMT_COORDINATOR="127.0.0.1:$(cat "$tmp/port")" SBMT_TOKEN_FILE="$tmp/token"
metrics_url="http://127.0.0.1:$(cat "$tmp/metrics_port")/metrics"

cat >"$tmp/job.yaml" <<EOF
name: watched
config: $(pwd)/$config
world_size: 2
overrides:
  data.train: $tmp/data/train.shard
  data.valid: $tmp/data/valid.shard
  data.vocab: $tmp/data/vocab.txt
  optim.total_steps: 100000
EOF
job=$("$ctl" submit "$tmp/job.yaml")
field() { "$ctl" describe "$job" --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
for _ in $(seq 1 300); do
  [[ $(field 'int(j.get("lastReport", {}).get("step", 0))') -ge 10 ]] && break
  sleep 0.1
done
curl -sf "$metrics_url" >"$tmp/metrics.txt" || fail "no /metrics at $metrics_url"
[[ -s "$tmp/rank_port.1" ]] || fail "rank 1 wrote no metrics port"
curl -sf "http://127.0.0.1:$(cat "$tmp/rank_port.1")/metrics" >"$tmp/rank1.txt" ||
  fail "no /metrics of rank 1"
step=$(field 'int(j["lastReport"]["step"])')

echo "=== promtool check metrics"
if ! promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1; then
  cat "$tmp/promtool.out"; fail "promtool rejected the exposition"
fi
[[ ! -s "$tmp/promtool.out" ]] || { cat "$tmp/promtool.out"; fail "promtool warned"; }
if ! promtool check metrics <"$tmp/rank1.txt" >"$tmp/promtool_rank.out" 2>&1; then
  cat "$tmp/promtool_rank.out"; fail "promtool rejected rank 1's exposition"
fi
[[ ! -s "$tmp/promtool_rank.out" ]] || { cat "$tmp/promtool_rank.out"; fail "promtool warned on rank 1's"; }
rank_steps=$(grep -E '^sbmt_rank_steps_total\{rank="1"\} ' "$tmp/rank1.txt" | awk '{print $2}')
python3 -c "import sys; sys.exit(0 if float('${rank_steps:-0}') >= 10 else 1)" ||
  fail "rank 1 counted ${rank_steps:-no} steps"

echo "=== the series agree with the job"
value() { grep -E "^$1 " "$tmp/metrics.txt" | awk '{print $2}'; }
[[ "$(value "sbmt_jobs\\{state=\"RUNNING\"\\}")" == 1 ]] || fail "sbmt_jobs RUNNING"
[[ "$(value "sbmt_worker_up\\{job_id=\"$job\",rank=\"0\",host=\"localhost\"\\}")" == 1 ]] || fail "rank 0 up"
[[ "$(value "sbmt_worker_up\\{job_id=\"$job\",rank=\"1\",host=\"localhost\"\\}")" == 1 ]] || fail "rank 1 up"
scraped_step=$(value "sbmt_training_step\\{job_id=\"$job\"\\}")
# The scrape came first; the job moved on by at most a few heartbeats since.
python3 -c "import sys; s, d = float('$scraped_step'), $step; sys.exit(0 if 10 <= s <= d else 1)" ||
  fail "sbmt_training_step $scraped_step, describe says $step"
density=$(value "sbmt_attention_density_ratio\\{job_id=\"$job\",layer=\"1\",head=\"1\"\\}")
python3 -c "import sys; sys.exit(0 if 0 < float('$density') <= 1 else 1)" || fail "density $density"
grep -q "^sbmt_training_task_metric{job_id=\"$job\",metric=\"mlm_accuracy\"} " "$tmp/metrics.txt" ||
  fail "no mlm_accuracy"
grep -q "^# TYPE sbmt_job_restarts_total counter" "$tmp/metrics.txt" || fail "restarts counter type"
size=$(value "sbmt_checkpoint_size_bytes\\{job_id=\"$job\"\\}")
python3 -c "import sys; sys.exit(0 if float('${size:-0}') > 1000 else 1)" || fail "checkpoint size '$size'"
echo "  step $scraped_step, layer 1 head 1 density $density, $(grep -c '^sbmt_' "$tmp/metrics.txt") samples"
"$ctl" cancel "$job" >/dev/null
echo "PASS"
