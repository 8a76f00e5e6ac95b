#!/usr/bin/env python3
"""An independent implementation of GLUE's metrics (Python standard library only), and the
generator of trainer/tasks/glue/testdata/metrics_cases.json, which glue_metrics_test checks the
C++ metrics against.

Written from the definitions, not from the C++ code: confusion counts for accuracy, F1 and
Matthews correlation (scikit-learn's conventions for empty denominators: 0); Pearson from
sums of products; Spearman as Pearson of ranks, where a value's rank is (number of smaller
values) + (number of equal values + 1) / 2, which is the average rank of ties (SciPy's
rankdata(method="average")).

    tools/glue/glue_metrics_reference.py > trainer/tasks/glue/testdata/metrics_cases.json
"""
import json
import math
import random


def confusion(pred, gold, positive="1"):
    tp = sum(p == positive and g == positive for p, g in zip(pred, gold))
    fp = sum(p == positive and g != positive for p, g in zip(pred, gold))
    fn = sum(p != positive and g == positive for p, g in zip(pred, gold))
    tn = len(gold) - tp - fp - fn
    return tp, fp, fn, tn


def accuracy(pred, gold):
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def f1(pred, gold):
    tp, fp, fn, _ = confusion(pred, gold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def mcc(pred, gold):
    tp, fp, fn, tn = confusion(pred, gold)
    d = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return (tp * tn - fp * fn) / math.sqrt(d) if d else 0.0


def pearson(x, y):
    n = len(x)
    sx, sy = sum(x), sum(y)
    sxx = sum(a * a for a in x) - sx * sx / n
    syy = sum(b * b for b in y) - sy * sy / n
    sxy = sum(a * b for a, b in zip(x, y)) - sx * sy / n
    if sxx <= 1e-300 or syy <= 1e-300:
        return None  # SciPy: NaN for a constant series
    return sxy / math.sqrt(sxx * syy)


def ranks(values):
    return [sum(w < v for w in values) + (sum(w == v for w in values) + 1) / 2 for v in values]


def spearman(x, y):
    return pearson(ranks(x), ranks(y))


def main():
    rng = random.Random(2026)
    cases = []

    def classification(task, pred, gold, note):
        expected = {"accuracy": accuracy(pred, gold)}
        if task in ("mrpc", "qqp"):
            expected["f1"] = f1(pred, gold)
        if task == "cola":
            expected = {"mcc": mcc(pred, gold)}
        cases.append({"task": task, "note": note, "predictions": pred, "labels": gold,
                      "expected": expected})

    gold = [rng.choice("01") for _ in range(200)]
    pred = [g if rng.random() < 0.8 else rng.choice("01") for g in gold]
    classification("mrpc", pred, gold, "random binary, 80 % agreement")
    classification("cola", pred, gold, "random binary, 80 % agreement")
    classification("cola", ["1"] * 50, gold[:50], "constant predictions: MCC 0")
    classification("qqp", ["0"] * 30, gold[:30], "no positive prediction: F1 0")
    classification("mrpc", pred[:40], ["0"] * 40, "positive class absent from the labels: F1 0")
    mnli = ["entailment", "neutral", "contradiction"]
    gold3 = [rng.choice(mnli) for _ in range(90)]
    classification("mnli", [g if rng.random() < 0.6 else rng.choice(mnli) for g in gold3], gold3,
                   "three classes")

    def regression(pred, gold, note):
        cases.append({"task": "stsb", "note": note,
                      "predictions": [repr(v) for v in pred], "labels": [repr(v) for v in gold],
                      "expected": {"pearson": pearson(pred, gold), "spearman": spearman(pred, gold)}})

    gold_s = [round(rng.uniform(0, 5) * 2) / 2 for _ in range(120)]  # many ties
    regression([min(5.0, max(0.0, g + rng.gauss(0, 1))) for g in gold_s], gold_s,
               "scores with ties in the labels")
    regression([round(g + rng.gauss(0, 0.7)) for g in gold_s], gold_s,
               "ties in both series")
    regression([2.5] * 20, gold_s[:20], "constant predictions: both correlations NaN (null)")
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
