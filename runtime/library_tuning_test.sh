#!/usr/bin/env bash
# ReexecWithTunedLibraries, through runtime_report (a real re-exec, the real system OpenBLAS
# and glibc malloc): it sets OMP_WAIT_POLICY, the malloc thresholds under which freed large
# blocks are reused and, where OpenBLAS fell back to its generic kernels on a CPU with AVX2,
# better kernels; values the user set are kept.
set -euo pipefail
report="$TEST_SRCDIR/$TEST_WORKSPACE/runtime/runtime_report"

value() { sed -n "s/^$1=//p" <<<"$2"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

unset_all=(env -u OMP_WAIT_POLICY -u OPENBLAS_CORETYPE -u MALLOC_MMAP_THRESHOLD_
  -u MALLOC_TRIM_THRESHOLD_ -u GLIBC_TUNABLES)
out=$("${unset_all[@]}" "$report")
echo "$out"
[[ $(value OMP_WAIT_POLICY "$out") == PASSIVE ]] || fail "OMP_WAIT_POLICY not set to PASSIVE"
[[ $(value malloc_reuses_large_blocks "$out") == yes* ]] ||
  fail "a freed 64 MiB block was not reused without page faults"
core=$(value openblas_core "$out")
if [[ $core != "(not OpenBLAS)" ]] && grep -qw avx2 /proc/cpuinfo; then
  [[ ${core,,} != prescott ]] || fail "OpenBLAS still runs its Prescott kernels on an AVX2 CPU"
fi

# The user's choices win.
out=$(OMP_WAIT_POLICY=ACTIVE OPENBLAS_CORETYPE=Prescott "$report")
echo "$out"
[[ $(value OMP_WAIT_POLICY "$out") == ACTIVE ]] || fail "the user's OMP_WAIT_POLICY was replaced"
if [[ $core != "(not OpenBLAS)" ]]; then
  [[ $(value openblas_core "$out") == Prescott ]] || fail "the user's OPENBLAS_CORETYPE was replaced"
fi

# Where the user tuned malloc (either spelling), glibc's defaults stay: a 64 MiB block is mapped
# afresh each time.
for user in MALLOC_MMAP_THRESHOLD_=131072 GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072; do
  out=$("${unset_all[@]}" "$user" "$report")
  echo "$out"
  [[ $(value malloc_reuses_large_blocks "$out") == no* ]] ||
    fail "with $user, a freed 64 MiB block was still reused"
done
echo "PASS"
