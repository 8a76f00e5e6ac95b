#!/usr/bin/env bash
# sbmt_plot on metrics.jsonl files: a real run's (two evaluations, resumed steps written twice, a
# half-written last line) gives four PNGs of the promised size, and the repeated steps count once;
# a run without evaluations or task metrics still plots; a missing file is an error naming it.
set -euo pipefail
plot=tools/plot/sbmt_plot.py
tmp="${TEST_TMPDIR:-$(mktemp -d)}/sbmt_plot"
rm -rf "$tmp" && mkdir -p "$tmp/run" "$tmp/bare"
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 - "$tmp" <<'PYEOF'
import json, math, sys
tmp = sys.argv[1]
def step(s, resumed=False):
    return {"kind": "step", "step": s, "total_steps": 60, "task": "mlm", "tokens": 2000,
            "loss": 10 * math.exp(-s / 20) + (0.5 if resumed else 0), "step_seconds": 0.5,
            "metrics": {"mlm_accuracy": s / 100},
            "attention": [{"layer": l, "head": h, "density": 0.2 + 0.01 * (2 * l + h) + s / 1000,
                           "expected_density": 0.25, "edges": 100.0}
                          for l in range(2) for h in range(2)]}
with open(tmp + "/run/metrics.jsonl", "w") as f:
    f.write(json.dumps({"kind": "eval", "step": 0, "loss": 10.5, "metrics": {"mlm_accuracy": 0}}) + "\n")
    for s in range(1, 41):
        f.write(json.dumps(step(s, resumed=True)) + "\n")
    for s in range(31, 61):  # resumed from step 30: steps 31-40 again, the newest counts
        f.write(json.dumps(step(s)) + "\n")
    f.write(json.dumps({"kind": "eval", "step": 60, "loss": 1.5, "metrics": {"mlm_accuracy": 0.5}}) + "\n")
    f.write('{"kind": "step", "step": 61, "los')  # being written when plotted
with open(tmp + "/bare/metrics.jsonl", "w") as f:
    for s in range(1, 11):
        f.write(json.dumps({"kind": "step", "step": s, "task": "classification", "tokens": 100,
                            "loss": 1.0 / s, "step_seconds": 0.1}) + "\n")
PYEOF
out=$(python3 "$plot" "$tmp/run")
echo "$out"
grep -q "60 steps, 2 evaluations (1 unreadable line(s) skipped)" <<<"$out" || fail "counts: $out"
python3 - "$tmp/run/plots" loss tokens metrics density <<'PYEOF'
import struct, sys
for name in sys.argv[2:]:
    data = open("%s/%s.png" % (sys.argv[1], name), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (960, 540), (name, width, height)
    assert len(data) > 5000, (name, len(data))  # drawn, not blank
print("4 PNGs, 960x540")
PYEOF
bare=$(python3 "$plot" "$tmp/bare" --out="$tmp/bare_plots")
grep -q "10 steps, 0 evaluations" <<<"$bare" || fail "bare run: $bare"
[[ -s "$tmp/bare_plots/loss.png" && -s "$tmp/bare_plots/tokens.png" ]] || fail "bare run plots"
[[ ! -e "$tmp/bare_plots/density.png" ]] || fail "a density plot without attention records"
if python3 "$plot" "$tmp/nowhere" 2>"$tmp/err"; then fail "a missing run was plotted"; fi
grep -q "nowhere: no metrics.jsonl" "$tmp/err" || fail "missing-run message: $(cat "$tmp/err")"
echo "PASS"
