#!/usr/bin/env bash
# glue_eval end to end: rows matched by index (in any order), the task's official metrics as one
# JSON object, and errors naming the index or value that is wrong.
set -euo pipefail
eval_bin="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'index\tprediction\n2\t1\n0\t1\n1\t0\n3\t1\n' > "$tmp/p.tsv"
printf 'index\tlabel\n0\t1\n1\t0\n2\t0\n3\t1\n' > "$tmp/l.tsv"
out=$("$eval_bin" --task=mrpc --predictions="$tmp/p.tsv" --labels="$tmp/l.tsv")
echo "$out"
# tp 2, fp 1, fn 0: F1 = 4/5; accuracy 3/4.
[[ "$out" == '{"task":"mrpc","n":4,"f1":0.8,"accuracy":0.75}' ]] || fail "unexpected: $out"

printf 'index\tprediction\n0\t2.5\n1\t2.5\n' > "$tmp/sp.tsv"
printf 'index\tlabel\n0\t1.0\n1\t4.0\n' > "$tmp/sl.tsv"
out=$("$eval_bin" --task=STS-B --predictions="$tmp/sp.tsv" --labels="$tmp/sl.tsv")
[[ "$out" == '{"task":"stsb","n":2,"pearson":null,"spearman":null}' ]] || fail "unexpected: $out"

printf 'index\tprediction\n0\t1\n7\t0\n' > "$tmp/bad.tsv"
printf 'index\tlabel\n0\t1\n1\t0\n' > "$tmp/l2.tsv"
set +e
err=$("$eval_bin" --task=mrpc --predictions="$tmp/bad.tsv" --labels="$tmp/l2.tsv" 2>&1)
s1=$?
err2=$("$eval_bin" --task=rte --predictions="$tmp/p.tsv" --labels="$tmp/l.tsv" 2>&1)
s2=$?
set -e
(( s1 != 0 )) && [[ "$err" == *"no prediction for index 1"* ]] || fail "index not named: $err"
(( s2 != 0 )) && [[ "$err2" == *"value '1' is not a rte label"* ]] || fail "label not named: $err2"
echo "PASS"
