#!/usr/bin/env bash
# make_listops: labels agree with an independent evaluator (listops_check.py), lengths within
# the strict bounds, no duplicates, the report printed; the same seed gives identical files and
# another seed other files; the reader parses what it writes (lra_data_test covers the reader).
set -euo pipefail
make_listops=$1
check=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; exit 1; }

small=(--train=600 --val=100 --test=100 --min-length=20 --max-length=120)
"$make_listops" --out="$tmp/a" --seed=1 "${small[@]}" | tee "$tmp/report.txt"
"$make_listops" --out="$tmp/b" --seed=1 "${small[@]}" >/dev/null
"$make_listops" --out="$tmp/c" --seed=2 "${small[@]}" >/dev/null
for f in basic_train.tsv basic_val.tsv basic_test.tsv; do
  cmp -s "$tmp/a/$f" "$tmp/b/$f" || fail "$f differs between two runs with seed 1"
  ! cmp -s "$tmp/a/$f" "$tmp/c/$f" || fail "$f is the same for seeds 1 and 2"
done
(( $(wc -l <"$tmp/a/basic_train.tsv") == 601 )) || fail "basic_train.tsv should hold 600 trees"
python3 "$check" "$tmp/a" --min-length=20 --max-length=120
grep -q "^| length min / median / max | .* | strictly between 20 and 120 |" "$tmp/report.txt" ||
  fail "no length row in the report"
grep -q "^| mean arguments per operator |" "$tmp/report.txt" || fail "no argument row"
# The original sizes' bounds, on a few trees.
"$make_listops" --out="$tmp/full" --seed=3 --train=20 --val=5 --test=5 >/dev/null
python3 "$check" "$tmp/full" --min-length=500 --max-length=2000
echo PASS
