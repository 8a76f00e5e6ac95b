#!/usr/bin/env bash
# The MPI conformance suite under real `mpirun`, at world sizes 1, 2 and 3.
set -euo pipefail
source tools/testing/mpirun_env.sh

binary="$1"
for np in 1 2 3; do
  echo "=== mpirun -np $np"
  mpirun_local -np "$np" "$binary"
done
