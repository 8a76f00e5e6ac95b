#!/usr/bin/env bash
# make_pathfinder: a generated set passes pathfinder_check.py (label balance, snake lengths,
# paddle geometry, marker placement, metadata format, bright markers in the PNGs); the same
# seed gives identical files and another seed other files.
set -euo pipefail
make_pathfinder=$1
check=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; exit 1; }

"$make_pathfinder" --out="$tmp/a" --seed=1 --images=400 --per-batch=150 --geometry
"$make_pathfinder" --out="$tmp/b" --seed=1 --images=400 --per-batch=150 --geometry >/dev/null 2>&1
"$make_pathfinder" --out="$tmp/c" --seed=2 --images=400 --per-batch=150 >/dev/null 2>&1
diff -r "$tmp/a" "$tmp/b" >/dev/null || fail "two runs with seed 1 differ"
! cmp -s "$tmp/a/imgs/0/sample_0.png" "$tmp/c/imgs/0/sample_0.png" || fail "seeds 1 and 2 agree"
[[ -f "$tmp/a/imgs/2/sample_99.png" && ! -e "$tmp/a/imgs/2/sample_100.png" ]] ||
  fail "batches of 150: imgs/2 should end at sample_99"
python3 "$check" "$tmp/a" --contour-length=14 --distractors=5
# Another size (--size=16: a 256-pixel variant) by the same rules.
"$make_pathfinder" --out="$tmp/d" --size=16 --contour-length=4 --distractors=1 --images=200 \
  --geometry >/dev/null 2>&1
python3 "$check" "$tmp/d" --size=16 --contour-length=4 --distractors=1
echo PASS
