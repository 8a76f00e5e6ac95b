#!/usr/bin/env bash
# Installs everything, fetches the data, builds and runs the whole test suite.
#
#   tools/test.sh            # what CI runs (.ci/run)
#
# Steps: Debian packages (tools/install_deps.sh, skipped when present), data cache
# (tools/fetch_data.sh, verified by checksum), `bazel test -c opt //...` (optimized, as the
# quickstart builds, so the two share one cache), and, where the CUDA toolkit is installed,
# `bazel build --config=cuda //...` so the GPU code keeps compiling, and the CUDA tests (which
# skip without a GPU; tools/gpu_check.sh runs them on GPU machines without Bazel).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

CUDA_TESTS=(
  //attention/cuda:sbm_attention_cuda_test
  //tests/third_party/cuda:saxpy_test
  //trainer/dist:nccl_communicator_test
)

step "Installing dependencies"
tools/install_deps.sh

step "Fetching data"
tools/fetch_data.sh

step "Checking BUILD file hygiene (tools/lint/check_build_files.py)"
python3 tools/lint/check_build_files.py

step "Checking that the CMake GPU build compiles Bazel's sources (tools/lint/check_cmake_sources.py)"
python3 tools/lint/check_cmake_sources.py

step "Building and running tests: bazel test -c opt //..."
bazel test -c opt //...

if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  step "Compiling the CUDA configuration: bazel build --config=cuda //..."
  bazel build --config=cuda //...
  # The CUDA tests run where a GPU is visible, and skip (pass) here without one.
  step "CUDA tests (they skip without a GPU): bazel test --config=cuda ${CUDA_TESTS[*]}"
  bazel test --config=cuda "${CUDA_TESTS[@]}"
else
  step "Skipping the CUDA build: no nvcc at /usr/local/cuda/bin/nvcc"
fi

step "All tests passed."
