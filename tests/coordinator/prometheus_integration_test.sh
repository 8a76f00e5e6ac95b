#!/usr/bin/env bash
# A real Prometheus server (Debian's prometheus) on loopback, with deploy/prometheus.yml pointed
# at a coordinator running a 2-rank job and at both ranks' own /metrics: after a few scrapes, Prometheus' HTTP query API has the
# loss, token and per-head density series, and their values are the run's own (metrics.jsonl
# records of the same step). Every panel of the shipped Grafana dashboard evaluates with data, and
# the shipped alert rules load and evaluate without error.
set -euo pipefail
source tools/testing/mpirun_env.sh
coordinator_bin="$1" ctl="$2" worker="$3" tool="$4" config="$5"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/prometheus_integration"
rm -rf "$tmp" && mkdir -p "$tmp/data" "$tmp/prometheus"
fail() { echo "FAIL: $*" >&2; tail -n 20 "$tmp/prometheus.log" >&2 2>/dev/null || true; exit 1; }
command -v prometheus >/dev/null || fail "prometheus not found (tools/install_deps.sh installs it)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; pkill -9 -f -- "--coordinator-token-file=$tmp/token" || true' EXIT
"$tool" shards "$tmp/data"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
echo "localhost slots=2" >"$tmp/hosts"
# Rank r serves its own /metrics on a fixed port base + r (Prometheus' config names it).
rank_base=$((41000 + RANDOM % 4000 * 2))
template="mpirun -np {np} --host {hosts} --bind-to none {worker} --config={config} {overrides}"
template+=" --coordinator={address} --coordinator-token-file={token_file} --job={job}"
template+=" --attempt={attempt} --gpu-slots={slots} {tls} --metrics-port=$rank_base"
"$coordinator_bin" --listen=127.0.0.1:0 --port-file="$tmp/port" --state-dir="$tmp/state" \
  --token-file="$tmp/token" --hostfile="$tmp/hosts" --worker="$worker" \
  --metrics-listen=127.0.0.1:0 --metrics-port-file="$tmp/metrics_port" \
  --launch-template="$template" >"$tmp/coordinator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$tmp/port" && -s "$tmp/metrics_port" ]] && break; sleep 0.05; done
export SBMT_COORDINATOR="127.0.0.1:$(cat "$tmp/port")" SBMT_TOKEN_FILE="$tmp/token"

# The shipped config, pointed at this coordinator and its ranks (the commented rank job enabled)
# and scraping every second.
sed -e "s/127.0.0.1:9464/127.0.0.1:$(cat "$tmp/metrics_port")/" -e 's/15s/1s/g' \
  -e 's/^  # \(- job_name: sbmt-ranks\)/  \1/' -e 's/^  #   /    /' \
  -e "s/\"gpu-node-01:9500\", \"gpu-node-01:9501\"/\"127.0.0.1:$rank_base\", \"127.0.0.1:$((rank_base + 1))\"/" \
  deploy/prometheus.yml >"$tmp/prometheus/prometheus.yml"
cp deploy/alerts.yml "$tmp/prometheus/"
promtool check config "$tmp/prometheus/prometheus.yml" >/dev/null 2>&1 || {
  cat "$tmp/prometheus/prometheus.yml"; fail "the derived config"; }
grep -q "127.0.0.1:$((rank_base + 1))" "$tmp/prometheus/prometheus.yml" || fail "rank targets"
for attempt in 1 2 3 4 5; do  # a free port for Prometheus' own API
  api_port=$((20000 + RANDOM % 20000))
  prometheus --config.file="$tmp/prometheus/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$api_port" >"$tmp/prometheus.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$api_port/-/ready" >/dev/null 2>&1 && break 2
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
done
curl -sf "http://127.0.0.1:$api_port/-/ready" >/dev/null || fail "Prometheus did not start"
api="http://127.0.0.1:$api_port/api/v1"

cat >"$tmp/job.yaml" <<EOF
name: scraped
config: $(pwd)/$config
world_size: 2
overrides:
  data.train: $tmp/data/train.shard
  data.valid: $tmp/data/valid.shard
  data.vocab: $tmp/data/vocab.txt
  optim.total_steps: 100000
  run.eval_every: 20
EOF
job=$("$ctl" submit "$tmp/job.yaml")
# One instant query: every series Prometheus holds for this job, from its newest scrape.
query() { curl -sf "$api/query" --data-urlencode "query={job_id=\"$job\"}"; }
for _ in $(seq 1 200); do
  query >"$tmp/result.json" 2>/dev/null && grep -q '"sbmt_attention_density_ratio"' "$tmp/result.json" &&
    grep -q '"sbmt_eval_loss"' "$tmp/result.json" && break
  sleep 0.1
done
for _ in $(seq 1 100); do  # the ranks' own series, from the second scrape job
  curl -sf "$api/query" --data-urlencode 'query=sbmt_rank_steps_total{job="sbmt-ranks"}' |
    grep -q '"rank":"1"' && break
  sleep 0.1
done
sleep 3  # a few more scrapes
curl -sf "$api/query" --data-urlencode 'query=sbmt_rank_steps_total{job="sbmt-ranks"}' >"$tmp/ranks.json"
python3 - "$tmp/ranks.json" <<'PYEOF' || fail "the ranks' own series"
import json, sys
result = json.load(open(sys.argv[1]))["data"]["result"]
ranks = sorted(r["metric"]["rank"] for r in result if float(r["value"][1]) > 0)
assert ranks == ["0", "1"], result
print("both ranks' own /metrics scraped: steps counted on ranks", ranks)
PYEOF
query >"$tmp/result.json" || fail "query API"
# Every panel of the shipped dashboard evaluates, with data, while the job runs.
python3 - "$api" "$job" deploy/grafana/sbmt-training.json <<'PYEOF'
import json, sys, urllib.parse, urllib.request
api, job, path = sys.argv[1:4]
empty = []
panels = json.load(open(path))["panels"]
for p in panels:
    for t in p["targets"]:
        expr = t["expr"].replace("$job_id", job)
        url = api + "/query?" + urllib.parse.urlencode({"query": expr})
        r = json.load(urllib.request.urlopen(url))
        assert r["status"] == "success", (p["title"], expr, r)
        if not r["data"]["result"]:
            empty.append((p["title"], expr))
assert not empty, "dead panels: %r" % empty
print("%d dashboard panels: every query evaluates with data" % len(panels))
PYEOF
"$ctl" cancel "$job" >/dev/null
for _ in $(seq 1 200); do
  [[ $("$ctl" describe "$job" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])') == CANCELLED ]] && break
  sleep 0.1
done

echo "=== the scraped series are the run's own"
python3 - "$tmp/result.json" "$tmp/state/jobs/$job/run/metrics.jsonl" <<'PYEOF'
import json, sys
result = json.load(open(sys.argv[1]))
assert result["status"] == "success", result
series = {}
for s in result["data"]["result"]:
    m = s["metric"]
    key = (m["__name__"], m.get("layer"), m.get("head"))
    series[key] = float(s["value"][1])
    assert m.get("job") == "sbmt-coordinator", m  # the scrape job's label, beside our job_id
step = int(series[("sbmt_training_step", None, None)])
records = [json.loads(l) for l in open(sys.argv[2])]
steps = {r["step"]: r for r in records if r.get("kind") == "step"}
assert step in steps, (step, sorted(steps)[-3:])
r = steps[step]
def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))
assert close(series[("sbmt_training_loss", None, None)], r["loss"]), (series, r["loss"])
assert series[("sbmt_training_step_tokens", None, None)] == r["tokens"], r["tokens"]
heads = 0
for h in r["attention"]:
    got = series[("sbmt_attention_density_ratio", str(h["layer"]), str(h["head"]))]
    assert close(got, h["density"]), (h, got)
    heads += 1
print("step %d: loss %.6f, %d tokens, density of %d heads: equal to metrics.jsonl"
      % (step, r["loss"], r["tokens"], heads))
assert series[("sbmt_training_allreduce_bytes", None, None)] == r["allreduce_bytes"] > 0, r
assert close(series[("sbmt_training_allreduce_seconds", None, None)], r["allreduce_seconds"]), r
eval_step = int(series[("sbmt_eval_step", None, None)])
evals = [e for e in records if e.get("kind") == "eval" and e["step"] == eval_step]
assert evals, eval_step
assert close(series[("sbmt_eval_loss", None, None)], evals[-1]["loss"]), (series, evals[-1])
goodput = series[("sbmt_job_goodput_ratio", None, None)]
assert 0 < goodput <= 1, goodput
print("allreduce %d bytes per step; eval at step %d: loss %.6f equal to metrics.jsonl; "
      "goodput %.2f" % (r["allreduce_bytes"], eval_step, evals[-1]["loss"], goodput))
PYEOF

echo "=== the shipped rules load and evaluate"
rules=$(curl -sf "$api/rules")
python3 - "$rules" <<'PYEOF'
import json, sys
groups = json.loads(sys.argv[1])["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
assert len(rules) == 8, len(rules)
bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") not in ("ok", "unknown")]
assert not bad, bad
print("%d rules loaded, none unhealthy" % len(rules))
PYEOF
echo "PASS"
