// The conformance suite over real MPI: run by mpi_communicator_test.sh under `mpirun -np N`;
// every rank runs the suite against MPI_COMM_WORLD.
#include "trainer/dist/mpi_communicator.h"

#include <gtest/gtest.h>

#include "trainer/dist/conformance_suite.h"

namespace sbmt::dist {
namespace {

Communicator* comm = nullptr;

TEST(MpiCommunicator, PassesTheConformanceSuite) {
  ASSERT_GE(comm->size(), 1);
  std::unique_ptr<testing::TestMemory> memory = testing::HostMemory();
  testing::RunConformanceSuite(*comm, *memory);
}

TEST(MpiCommunicator, SeesTheLaunchersWorld) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  ASSERT_NE(size, nullptr) << "run under mpirun";
  EXPECT_EQ(comm->size(), std::atoi(size));
  EXPECT_EQ(comm->rank(), std::atoi(rank));
  EXPECT_EQ(comm->backend(), "mpi");
}

}  // namespace
}  // namespace sbmt::dist

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::unique_ptr<sbmt::dist::Communicator> comm =
      sbmt::dist::MpiCommunicator::Create(std::chrono::seconds(120));
  sbmt::dist::comm = comm.get();
  if (comm->rank() != 0) {  // one report per job
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // A failure on any rank fails every rank, so mpirun's exit status reflects it.
  int64_t failures = failed != 0;
  comm->AllReduce(sbmt::dist::Buffer::Of(&failures, 1), sbmt::dist::ReduceOp::kSum)
      ->Wait(std::chrono::seconds(120));
  if (failures > 0 && comm->rank() == 0)
    std::fprintf(stderr, "%lld rank(s) failed\n", static_cast<long long>(failures));
  return failures > 0 ? 1 : 0;
}
