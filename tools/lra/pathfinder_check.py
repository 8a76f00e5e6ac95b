"""Checks a make_pathfinder set against the rules, from its geometry/*.jsonl and its PNGs:
labels balanced; two target snakes of the contour length and the distractor snakes of a third
of it; every paddle 2 px long, consecutive paddles 1 px apart; the markers on the tail of one
target snake and the head of the same (label 1) or the other (label 0); the markers bright in
the image; the metadata lines in the original format. PNGs are decoded here with zlib (8-bit
grayscale only), apart from the generator's libpng.

    python3 tools/lra/pathfinder_check.py DIR --contour-length=14 --distractors=5 [--size=32]
"""
import argparse
import glob
import json
import math
import os
import struct
import sys
import zlib


def read_gray_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    at, idat, width, height = 8, b"", 0, 0
    while at < len(data):
        n, = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        at += 12 + n
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 0), (path, depth, color)
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(width)
    for y in range(height):
        kind = raw[y * (width + 1)]
        line = bytearray(raw[y * (width + 1) + 1:(y + 1) * (width + 1)])
        for x in range(width):
            a = line[x - 1] if x else 0
            b, c = prev[x], (prev[x - 1] if x else 0)
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, rows


def close(p, q, tol=1e-3):
    return abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--contour-length", type=int, default=14)
    ap.add_argument("--distractors", type=int, default=5)
    ap.add_argument("--size", type=int, default=32)
    a = ap.parse_args()
    records = []
    for path in sorted(glob.glob(os.path.join(a.dir, "geometry", "*.jsonl"))):
        records += [json.loads(line) for line in open(path)]
    assert records, "no geometry/*.jsonl (run make_pathfinder with --geometry)"
    meta = []
    for path in sorted(glob.glob(os.path.join(a.dir, "metadata", "*.npy"))):
        meta += [line.split() for line in open(path) if line.strip()]
    assert len(meta) == len(records), (len(meta), len(records))
    labels = [r["label"] for r in records]
    distractor_counts = []
    for r, m in zip(records, meta):
        assert len(m) == 11 and m[1].startswith("sample_") and m[3] in ("0", "1"), m
        assert int(m[3]) == r["label"] and m[5] == str(a.contour_length), (m, r["label"])
        targets = r["targets"]
        assert len(targets) == 2 and all(len(s) == a.contour_length for s in targets), r["image"]
        distractor_counts.append(len(r["distractors"]))
        for s in r["distractors"]:
            assert len(s) == max(1, a.contour_length // 3), r["image"]
        for s in targets + r["distractors"]:
            for p in s:
                assert abs(math.hypot(p[2] - p[0], p[3] - p[1]) - 2.0) < 1e-3, (r["image"], p)
            for p, q in zip(s, s[1:]):
                assert abs(math.hypot(q[0] - p[2], q[1] - p[3]) - 1.0) < 1e-3, (r["image"], p, q)
        marked = r["marked"]
        other = marked if r["label"] == 1 else 1 - marked
        assert close(r["marker_tail"], targets[marked][0][:2]), r["image"]
        assert close(r["marker_head"], targets[other][-1][2:]), r["image"]
        width, height, rows = read_gray_png(os.path.join(a.dir, r["image"]))
        assert (width, height) == (a.size, a.size), (r["image"], width, height)
        for x, y in (r["marker_tail"], r["marker_head"]):
            last = a.size - 1
            assert rows[min(last, int(y))][min(last, int(x))] >= 200, (r["image"], x, y)
    share = sum(labels) / len(labels)
    print("pathfinder_check: %d images; label 1 share %.3f; target snakes %d paddles; "
          "distractors per image %.2f (of %d); paddles 2 px with 1 px gaps; markers on the "
          "right tips and bright" % (len(records), share, a.contour_length,
                                     sum(distractor_counts) / len(records), a.distractors))
    # Labels are fair coin flips: within 4 standard deviations of one half.
    assert abs(share - 0.5) <= 4 * math.sqrt(0.25 / len(records)), share
    assert sum(distractor_counts) >= 0.9 * a.distractors * len(records), distractor_counts[:20]


if __name__ == "__main__":
    sys.exit(main())
