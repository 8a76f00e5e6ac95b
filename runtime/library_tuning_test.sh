#!/usr/bin/env bash
# ReexecWithTunedLibraries, through runtime_report (a real re-exec, the real system OpenBLAS):
# it sets OMP_WAIT_POLICY and, where OpenBLAS fell back to its generic kernels on a CPU with
# AVX2, better kernels; values the user set are kept.
set -euo pipefail
report="$TEST_SRCDIR/$TEST_WORKSPACE/runtime/runtime_report"

value() { sed -n "s/^$1=//p" <<<"$2"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$(env -u OMP_WAIT_POLICY -u OPENBLAS_CORETYPE "$report")
echo "$out"
[[ $(value OMP_WAIT_POLICY "$out") == PASSIVE ]] || fail "OMP_WAIT_POLICY not set to PASSIVE"
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
echo "PASS"
