#!/usr/bin/env bash
# The tokenize CLI: ids and pieces per line with the real vocabulary, and a clear error for a
# vocabulary without the special tokens.
set -euo pipefail
tokenize="$1"
repo=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
vocab="${SBMT_DATA_DIR:-$repo/data}/vocab/bert-base-uncased/vocab.txt"
if [[ ! -f "$vocab" ]]; then
  echo "SKIP: $vocab missing (run tools/fetch_data.sh)"
  exit 0
fi
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$(printf 'Hello, world!!!\nCaf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87\n\n' | "$tokenize" --vocab="$vocab")
[[ "$out" == $'7592 1010 2088 999 999 999\n7668 1746 1861\n' || "$out" == $'7592 1010 2088 999 999 999\n7668 1746 1861' ]] ||
  fail "ids: got '$out'"
out=$(printf 'Hello, world!!!\n' | "$tokenize" --vocab="$vocab" --tokens)
[[ "$out" == "hello , world ! ! !" ]] || fail "tokens: got '$out'"

bad="${TEST_TMPDIR:-/tmp}/bad_vocab.txt"
printf '[PAD]\n[UNK]\nhello\n' >"$bad"
if err=$(echo hi | "$tokenize" --vocab="$bad" 2>&1); then fail "bad vocab accepted"; fi
grep -q "bad_vocab.txt: vocabulary lacks the special token \[CLS\]" <<<"$err" || fail "error: $err"
echo PASS
