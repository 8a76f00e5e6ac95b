"""An independent check of ListOps files (basic_{train,val,test}.tsv): every Target equals the
value of its Source by a stack evaluator written apart from the generator, every tree's token
count is strictly within the length bounds, no tree appears twice, and the header is the
original's.

    python3 tools/lra/listops_check.py DIR --min-length=500 --max-length=2000
"""
import argparse
import os
import statistics
import sys


def evaluate(tokens):
    """Value of a ListOps expression given as tokens ([MAX 3 [MIN 4 5 ] ])."""
    stack = []  # frames: [operator, args]
    value = None
    for tok in tokens:
        if tok.startswith("["):
            stack.append([tok[1:], []])
        elif tok == "]":
            op, args = stack.pop()
            if op == "MIN":
                value = min(args)
            elif op == "MAX":
                value = max(args)
            elif op == "MED":
                value = int(statistics.median(args))  # the floor for non-negative values
            elif op == "SM":
                value = sum(args) % 10
            else:
                raise ValueError("unknown operator " + op)
            if stack:
                stack[-1][1].append(value)
        else:
            digit = int(tok)
            if stack:
                stack[-1][1].append(digit)
            else:
                value = digit
    if stack:
        raise ValueError("unclosed operator")
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--min-length", type=int, default=500)
    p.add_argument("--max-length", type=int, default=2000)
    a = p.parse_args()
    seen = set()
    total = 0
    for name in ("basic_train.tsv", "basic_val.tsv", "basic_test.tsv"):
        path = os.path.join(a.dir, name)
        with open(path) as f:
            lines = f.read().split("\n")
        assert lines[0] == "Source\tTarget", (path, lines[0])
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            source, target = line.split("\t")
            tokens = source.replace("(", " ").replace(")", " ").split()
            where = "%s:%d" % (path, number)
            assert a.min_length < len(tokens) < a.max_length, (where, len(tokens))
            assert evaluate(tokens) == int(target), (where, evaluate(tokens), target)
            assert source not in seen, (where, "a tree seen before")
            seen.add(source)
            total += 1
    print("listops_check: %d trees: labels agree with an independent evaluator, lengths in "
          "(%d, %d), no duplicates" % (total, a.min_length, a.max_length))


if __name__ == "__main__":
    sys.exit(main())
