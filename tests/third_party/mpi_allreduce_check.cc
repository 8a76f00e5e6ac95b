// Run under `mpirun -np N`: every rank contributes (rank + 1) to an MPI_Allreduce and a
// broadcast from rank 0, and checks the results. Exits non-zero, naming the rank, on a mismatch.
// Driven by mpi_test.sh.
#include <mpi.h>

#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  int failures = 0;
  // Sum of 1..size.
  long contribution = rank + 1;
  long sum = 0;
  MPI_Allreduce(&contribution, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  const long expected_sum = static_cast<long>(size) * (size + 1) / 2;
  if (sum != expected_sum) {
    std::fprintf(stderr, "rank %d: allreduce sum %ld, expected %ld\n", rank, sum, expected_sum);
    ++failures;
  }

  double payload[3] = {0, 0, 0};
  if (rank == 0) {
    payload[0] = 1.5;
    payload[1] = -2.25;
    payload[2] = 1e300;
  }
  MPI_Bcast(payload, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (payload[0] != 1.5 || payload[1] != -2.25 || payload[2] != 1e300) {
    std::fprintf(stderr, "rank %d: broadcast payload differs from rank 0's\n", rank);
    ++failures;
  }

  int all_failures = 0;
  MPI_Allreduce(&failures, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    std::printf("world size %d: allreduce sum %ld (expected %ld), failures %d\n", size, sum,
                expected_sum, all_failures);
  }
  MPI_Finalize();
  return all_failures == 0 ? 0 : 1;
}
