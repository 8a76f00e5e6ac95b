#!/usr/bin/env bash
# deploy/ is what an operator loads into Prometheus: promtool accepts the config and the rules,
# every alert fires on its failing series and stays silent on a healthy one (alerts_test.yml),
# and every sbmt_ metric the rules read is one the coordinator exports (docs/METRICS.md, which
# coordinator/metrics_test keeps equal to the code's definitions).
set -euo pipefail
deploy=deploy
docs=docs/METRICS.md
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v promtool >/dev/null || fail "promtool not found (tools/install_deps.sh installs prometheus)"
tmp="${TEST_TMPDIR:-$(mktemp -d)}/deploy"
rm -rf "$tmp" && mkdir -p "$tmp" && cp "$deploy"/prometheus.yml "$deploy"/alerts*.yml "$tmp/"
(cd "$tmp" && promtool check config prometheus.yml && promtool check rules alerts.yml &&
  promtool test rules alerts_test.yml) || fail "promtool"
missing=0
for metric in $(grep -o 'sbmt_[a-z0-9_]*' "$deploy/alerts.yml" | sort -u); do
  if ! grep -q "^| \`$metric\` |" "$docs"; then
    echo "alerts.yml reads $metric, which the coordinator does not export" >&2
    missing=$((missing + 1))
  fi
done
((missing == 0)) || fail "$missing metric(s) in the rules are not exported"
python3 "$deploy/dashboard_check.py" "$deploy/grafana/sbmt-training.json" "$docs" \
  "$deploy/alerts.yml" || fail "the Grafana dashboard"
echo "PASS"
