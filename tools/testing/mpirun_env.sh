# Sourced by tests that launch real MPI jobs on this one machine.
#
# mpirun_local ARGS... runs `mpirun ARGS...` configured for a single host inside a test sandbox:
# shared-memory and loopback transports only, oversubscription allowed (CI machines have 2
# cores), root allowed (CI runs as root), and OpenMPI's session files kept in the test's tmpdir.

export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl="self,vader,tcp"
export OMPI_MCA_btl_tcp_if_include="lo"
export OMPI_MCA_oob_tcp_if_include="lo"
# Containers often forbid the cross-memory-attach syscalls vader would use for large messages.
export OMPI_MCA_btl_vader_single_copy_mechanism="none"
export OMPI_MCA_rmaps_base_oversubscribe=1
export TMPDIR="${TEST_TMPDIR:-${TMPDIR:-/tmp}}"
export HOME="${HOME:-$TMPDIR}"

mpirun_local() {
  mpirun --bind-to none "$@"
}
