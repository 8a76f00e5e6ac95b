"""Checks a Grafana dashboard JSON: the shape Grafana imports (uid, title, schemaVersion, panels
with unique ids, a type Grafana ships, a grid position, Prometheus targets), and no dead panels:
every sbmt_ metric an expression reads is one the coordinator exports (docs/METRICS.md), and
every sbmt: series is a recording rule in alerts.yml.

    python3 deploy/dashboard_check.py DASHBOARD.json docs/METRICS.md deploy/alerts.yml
"""
import json
import re
import sys

PANEL_TYPES = {"timeseries", "heatmap", "state-timeline", "stat", "gauge", "table", "bargauge"}


def main(dashboard_path, metrics_md, alerts_yml):
    exported = set(re.findall(r"^\| `(sbmt_[a-z0-9_]+)` \|", open(metrics_md).read(), re.M))
    recorded = set(re.findall(r"record: (sbmt:[a-z0-9_:]+)", open(alerts_yml).read()))
    d = json.load(open(dashboard_path))
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in d:
            problems.append("no %r" % key)
    ids = set()
    for p in d.get("panels", []):
        where = "panel %r" % p.get("title")
        if p.get("id") in ids:
            problems.append(where + ": duplicate id %r" % p.get("id"))
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            problems.append(where + ": type %r" % p.get("type"))
        grid = p.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")) or \
                grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(where + ": gridPos %r" % grid)
        targets = p.get("targets", [])
        if not targets:
            problems.append(where + ": no targets")
        for t in targets:
            expr = t.get("expr", "")
            if not expr:
                problems.append(where + ": a target without expr")
            for name in set(re.findall(r"\bsbmt_[a-z0-9_]+", expr)) - exported:
                problems.append(where + ": reads %s, which the coordinator does not export" % name)
            for name in set(re.findall(r"\bsbmt:[a-z0-9_:]+", expr)) - recorded:
                problems.append(where + ": reads %s, which no recording rule makes" % name)
    for p in problems:
        print("dashboard_check: " + p, file=sys.stderr)
    print("%s: %d panels, %d problems" % (dashboard_path, len(d.get("panels", [])), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
