#!/usr/bin/env bash
# Runs mpi_allreduce_check under a real `mpirun -np 2` and requires it to report world size 2.
set -euo pipefail
source tools/testing/mpirun_env.sh

binary="$1"
output=$(mpirun_local -np 2 "$binary")
echo "$output"
grep -q "world size 2: allreduce sum 3 (expected 3), failures 0" <<<"$output"
