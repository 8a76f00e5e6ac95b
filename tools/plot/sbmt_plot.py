#!/usr/bin/env python3
"""sbmt_plot: a run's metrics.jsonl as PNG plots, drawn by gnuplot (Debian's gnuplot-nox), for
people without a Grafana at hand.

    tools/plot/sbmt_plot.py RUN_DIR_OR_METRICS_JSONL [--out=DIR]   (default DIR: <run>/plots)

Writes, and prints the paths of:
    loss.png      training loss per step and evaluation loss
    metrics.png   the task's metrics (mlm_accuracy, accuracy, ...) per step and at evaluations
    tokens.png    training throughput: tokens per second of each step
    density.png   sampled attention density of every (layer, head) over steps, as a heatmap
A resumed run's repeated steps count once (the newest record), as docs/METRICS.md says. A
running run can be plotted too: records are read as they are.
"""
import json
import os
import subprocess
import sys
import tempfile


def read_records(path):
    steps, evals, bad = {}, {}, 0
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                bad += 1  # a line being written, or damaged: skipped, counted
                continue
            (evals if r.get("kind") == "eval" else steps)[r["step"]] = r
    return [steps[s] for s in sorted(steps)], [evals[s] for s in sorted(evals)], bad


def number(value):
    return "NaN" if value is None else repr(float(value))


def main(argv):
    args = [a for a in argv if not a.startswith("--out=")]
    outs = [a[len("--out="):] for a in argv if a.startswith("--out=")]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = args[0]
    path = os.path.join(source, "metrics.jsonl") if os.path.isdir(source) else source
    if not os.path.isfile(path):
        print("sbmt_plot: error: %s: no metrics.jsonl" % path, file=sys.stderr)
        return 1
    out = outs[0] if outs else os.path.join(os.path.dirname(os.path.abspath(path)), "plots")
    steps, evals, bad = read_records(path)
    if not steps:
        print("sbmt_plot: error: %s has no step records yet" % path, file=sys.stderr)
        return 1
    os.makedirs(out, exist_ok=True)
    metric_names = sorted({m for r in steps for m in r.get("metrics", {})})
    heads = sorted({(h["layer"], h["head"]) for r in steps for h in r.get("attention", [])})
    task = steps[-1].get("task", "")

    with tempfile.TemporaryDirectory() as tmp:
        def data(name, rows):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                for row in rows:
                    f.write(" ".join(row) + "\n")
            return p

        step_data = data("steps.dat", [
            [str(r["step"]), number(r.get("loss")),
             number(r["tokens"] / r["step_seconds"] if r.get("step_seconds") else None)] +
            [number(r.get("metrics", {}).get(m)) for m in metric_names] for r in steps])
        eval_data = data("evals.dat", [
            [str(r["step"]), number(r.get("loss"))] +
            [number(r.get("metrics", {}).get(m)) for m in metric_names] for r in evals])
        # The heatmap: one row per (layer, head), one column per step, blank lines between rows.
        density_rows = []
        for y, (layer, head) in enumerate(heads):
            for r in steps:
                d = {(h["layer"], h["head"]): h["density"] for h in r.get("attention", [])}
                density_rows.append([str(r["step"]), str(y), number(d.get((layer, head)))])
            density_rows.append([])
        density_data = data("density.dat", density_rows)
        labels = ", ".join('"L%d H%d" %d' % (layer, head, y) for y, (layer, head) in
                           enumerate(heads))
        has_evals = "1" if evals else "0"
        metric_plots = ", ".join(
            ['"%s" using 1:%d with lines title "%s (train)"' % (step_data, 4 + i, m)
             for i, m in enumerate(metric_names)] +
            (['"%s" using 1:%d with linespoints title "%s (eval)"' % (eval_data, 3 + i, m)
              for i, m in enumerate(metric_names)] if evals else []))
        script = """
set terminal pngcairo size 960,540 font ",10" noenhanced
set grid
set key outside right
set xlabel "step"
set output "{out}/loss.png"
set title "{task}: loss"
set ylabel "loss"
plot "{steps}" using 1:2 with lines title "train", \\
     {has_evals} ? "{evals}" : 1/0 using 1:2 with linespoints title "eval"
set output "{out}/tokens.png"
set title "{task}: throughput"
set ylabel "tokens / s"
plot "{steps}" using 1:3 with lines title "tokens/s"
""".format(out=out, task=task, steps=step_data, evals=eval_data, has_evals=has_evals)
        if not evals:  # gnuplot cannot plot an empty file: the eval curve only when there is one
            script = script.replace(
                ', \\\n     0 ? "%s" : 1/0 using 1:2 with linespoints title "eval"' % eval_data, "")
        else:
            script = script.replace('1 ? "%s" : 1/0' % eval_data, '"%s"' % eval_data)
        if metric_names:
            script += """
set output "{out}/metrics.png"
set title "{task}: task metrics"
set ylabel ""
plot {plots}
""".format(out=out, task=task, plots=metric_plots)
        if heads:
            script += """
set output "{out}/density.png"
set title "{task}: sampled attention density per layer and head"
set ylabel ""
set ytics ({labels})
set cblabel "density (colour range: this run's)"
set palette defined (0 "#f7fbff", 0.5 "#6baed6", 1 "#08306b")
set xrange [{first}:{last}]
set yrange [-0.5:{top}]
plot "{density}" using 1:2:3 with image notitle
""".format(out=out, task=task, labels=labels, top=len(heads) - 0.5, density=density_data,
           first=steps[0]["step"], last=steps[-1]["step"])
        script_path = os.path.join(tmp, "plot.gp")
        with open(script_path, "w") as f:
            f.write(script)
        try:
            subprocess.run(["gnuplot", script_path], check=True, capture_output=True, text=True)
        except FileNotFoundError:
            print("sbmt_plot: error: gnuplot not found (apt-get install gnuplot-nox)",
                  file=sys.stderr)
            return 1
        except subprocess.CalledProcessError as e:
            print("sbmt_plot: error: gnuplot failed:\n" + e.stderr, file=sys.stderr)
            return 1
    written = ["loss.png", "tokens.png"] + (["metrics.png"] if metric_names else []) + \
        (["density.png"] if heads else [])
    note = " (%d unreadable line(s) skipped)" % bad if bad else ""
    print("sbmt_plot: %d steps, %d evaluations%s ->" % (len(steps), len(evals), note))
    for name in written:
        print("  " + os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
