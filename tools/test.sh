#!/usr/bin/env bash
# Installs everything, fetches the data, builds and runs the whole test suite.
#
#   tools/test.sh            # what CI runs (.ci/run)
#
# Steps: Debian packages (tools/install_deps.sh, skipped when present), data cache
# (tools/fetch_data.sh, verified by checksum), `bazel test -c opt //...` (optimized, as the
# quickstart builds, so the two share one cache), and, where the CUDA toolkit is installed,
# `bazel build --config=cuda //...` so the GPU code keeps compiling.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing dependencies"
tools/install_deps.sh

step "Fetching data"
tools/fetch_data.sh

step "Checking BUILD file hygiene (tools/lint/check_build_files.py)"
python3 tools/lint/check_build_files.py

step "Building and running tests: bazel test -c opt //..."
bazel test -c opt //...

if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  step "Compiling the CUDA configuration: bazel build --config=cuda //..."
  bazel build --config=cuda //...
else
  step "Skipping the CUDA build: no nvcc at /usr/local/cuda/bin/nvcc"
fi

step "All tests passed."
