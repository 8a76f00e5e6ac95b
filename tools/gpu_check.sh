#!/usr/bin/env bash
# Checks sbmt's GPU road on a machine with an NVIDIA GPU and CUDA, without Bazel, in a few
# minutes, then prints one summary:
#   1. builds the CUDA kernels, their tests, the benchmark and (where python3 has a CUDA torch)
#      the GPU training steps with CMake (tools/gpu_check/CMakeLists.txt);
#   2. runs every CUDA test against the CPU reference (sbm_attention_cuda_test, saxpy_test);
#   3. times torch's fused attention (tools/gpu_check/sdpa_benchmark.py), where torch is there;
#   4. runs the benchmark (attention/cuda/sbm_attention_cuda_benchmark.cc) with that fused column;
#   5. runs a few training steps of the tiny model on the GPU in bf16 (tools/gpu_check/
#      gpu_train_steps.cc): the loss falls and the checkpoint reads back equal.
#
#   tools/gpu_check.sh [--quick]      # --quick: benchmark at n = 1024 and 4096 only
#
# Environment: CUDA_HOME (default: where nvcc is, else /usr/local/cuda), CUDA_ARCHITECTURES
# (default: the GPU's), BUILD_DIR (default build/gpu_check),
# RESULTS (default $BUILD_DIR/results: logs and benchmark.md), SBMT_GTEST_SOURCE (GoogleTest's
# source tree when no GoogleTest is installed; .gpu_check/googletest is also looked at),
# SBMT_EXTRA_INCLUDE (a folder holding nlohmann/json.hpp when it is not installed).
# Exit status: 0 when every check that could run passed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
if [[ -z "${CUDA_HOME:-}" ]] && command -v nvcc >/dev/null; then
  CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
fi
cuda_home=${CUDA_HOME:-/usr/local/cuda}
build=${BUILD_DIR:-build/gpu_check}
results=${RESULTS:-$build/results}
mkdir -p "$results"
declare -a summary
failed=0
record() {  # record STATUS NAME DETAIL
  summary+=("$(printf '%-5s %-28s %s' "$1" "$2" "$3")")
  [[ $1 == FAIL ]] && failed=1
  return 0
}
step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "Machine"
if ! nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; then
  echo "gpu_check: nvidia-smi found no GPU" >&2
  exit 2
fi
export PATH="$cuda_home/bin:$PATH"
nvcc --version | tail -1
cmake --version | head -1

python=python3
torch_prefix=$($python -c 'import torch; assert torch.cuda.is_available(); print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
[[ -n "$torch_prefix" ]] && echo "CUDA torch: $($python -c 'import torch; print(torch.__version__)')"

step "Building with CMake ($build)"
common=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_COMPILER=$cuda_home/bin/nvcc")
[[ -n "${SBMT_GTEST_SOURCE:-}" ]] && common+=("-DSBMT_GTEST_SOURCE=$SBMT_GTEST_SOURCE")
# The GPU's own architecture by default; CUDA_ARCHITECTURES=90 (say) builds for another.
[[ -n "${CUDA_ARCHITECTURES:-}" ]] && common+=("-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES")
if [[ -z "${SBMT_EXTRA_INCLUDE:-}" && -f .gpu_check/include/nlohmann/json.hpp ]]; then
  SBMT_EXTRA_INCLUDE=$PWD/.gpu_check/include
fi
[[ -n "${SBMT_EXTRA_INCLUDE:-}" ]] && common+=("-DSBMT_EXTRA_INCLUDE=$SBMT_EXTRA_INCLUDE")
command -v ninja >/dev/null && common+=(-G Ninja)
build_with() {  # build_with LOG [extra cmake args]: configure and build into $build
  local log=$1
  shift
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
  cmake -S tools/gpu_check -B "$build" "${common[@]}" "$@" >"$log" 2>&1 &&
    cmake --build "$build" -j "$(nproc)" >>"$log" 2>&1
}
torch_built=0
if [[ -n "$torch_prefix" ]]; then
  if build_with "$results/cmake.log" -DSBMT_TORCH=ON "-DCMAKE_PREFIX_PATH=$torch_prefix"; then
    torch_built=1
  else
    # The kernels do not need torch: build them alone, and report why torch did not build.
    cp "$results/cmake.log" "$results/cmake_torch.log"
    tail -20 "$results/cmake_torch.log"
    record FAIL build-with-torch "see $results/cmake_torch.log; the kernels are built without it"
  fi
fi
if [[ $torch_built -eq 1 ]] || build_with "$results/cmake.log" -DSBMT_TORCH=OFF; then
  record PASS build "CMake, $(($(date +%s) - started)) s"
else
  tail -40 "$results/cmake.log"
  record FAIL build "see $results/cmake.log"
  printf '\n==> Summary\n'
  printf '%s\n' "${summary[@]}"
  exit 1
fi

for test in sbm_attention_cuda_test saxpy_test; do
  step "Test: $test"
  status=0
  "$build/$test" >"$results/$test.log" 2>&1 || status=$?
  # One line per test: "[       OK ] Suite.Name (12 ms)" (the summary's lists have no time).
  grep -E '^\[ +(OK|FAILED|SKIPPED) +\] .* \([0-9]+ ms\)$' "$results/$test.log"
  passed=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$results/$test.log")
  skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$results/$test.log")
  if [[ $status -ne 0 ]]; then
    record FAIL "$test" "see $results/$test.log"
  elif [[ $skipped -gt 0 ]]; then
    record FAIL "$test" "$skipped skipped: the GPU was not visible to it"
  else
    record PASS "$test" "$passed tests"
  fi
done

sizes=1024,4096,16384
[[ $quick -eq 1 ]] && sizes=1024,4096
fused=()
if [[ -n "$torch_prefix" ]]; then
  step "Fused attention (torch scaled_dot_product_attention, bf16)"
  if $python tools/gpu_check/sdpa_benchmark.py --out="$results/fused.json" --sizes="$sizes"; then
    fused=(--fused="$results/fused.json")
    record PASS fused-attention "timed: $results/fused.json"
  else
    record FAIL fused-attention "sdpa_benchmark.py failed"
  fi
else
  record SKIP fused-attention "no CUDA torch in $python"
fi

step "Benchmark (bf16, batch 8, heads 8, d 64)"
if "$build/sbm_attention_cuda_benchmark" --sizes="$sizes" "${fused[@]}" | tee "$results/benchmark.md"; then
  record PASS benchmark "$results/benchmark.md"
else
  record FAIL benchmark "exit status ${PIPESTATUS[0]}"
fi

if [[ $torch_built -eq 1 ]]; then
  step "GPU training steps (tiny model, SBM attention, bf16)"
  if "$build/gpu_train_steps" --out="$results/train" | tee "$results/train.log"; then
    record PASS training "$(grep -o 'loss [0-9.]* -> [0-9.]*' "$results/train.log")"
  else
    record FAIL training "see $results/train.log"
  fi
elif [[ -z "$torch_prefix" ]]; then
  record SKIP training "no CUDA LibTorch found (python3 -c 'import torch')"
else
  record FAIL training "not built (see build-with-torch)"
fi

printf '\n==> Summary (%d s)\n' "$(($(date +%s) - started))"
printf '%s\n' "${summary[@]}"
exit $failed
