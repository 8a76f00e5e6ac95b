// The job store keeps jobs (in submission order, updated in place) and events across a reopen,
// which is what a coordinator restart does.
#include "coordinator/job_store.h"

#include <gtest/gtest.h>

#include "tests/util/test_files.h"

namespace sbmt::coordinator {
namespace {

TEST(JobStore, JobsAndEventsSurviveAReopen) {
  const std::string path = (testing::FreshDir("job_store") / "state.db").string();
  {
    JobStore store(path);
    v1::Job a, b;
    a.set_id("j-000001");
    a.set_state(v1::QUEUED);
    b.set_id("j-000002");
    b.set_state(v1::RUNNING);
    store.Save(a);
    store.Save(b);
    a.set_state(v1::SUCCEEDED);  // an update keeps its place
    a.set_last_committed_step(300);
    store.Save(a);
    v1::JobEvent e;
    e.set_job_id("j-000002");
    e.set_text("attempt 1 launched");
    store.AddEvents({e, e});
  }
  JobStore store(path);
  const std::vector<v1::Job> jobs = store.LoadJobs();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id(), "j-000001");
  EXPECT_EQ(jobs[0].state(), v1::SUCCEEDED);
  EXPECT_EQ(jobs[0].last_committed_step(), 300);
  EXPECT_EQ(jobs[1].state(), v1::RUNNING);
  EXPECT_EQ(store.LoadEvents("j-000002").size(), 2u);
  EXPECT_TRUE(store.LoadEvents("j-000001").empty());
}

TEST(JobStore, AnUnopenableDatabaseIsNamed) {
  try {
    JobStore store("/nonexistent-dir/state.db");
    FAIL() << "opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/state.db"), std::string::npos);
  }
}

}  // namespace
}  // namespace sbmt::coordinator
