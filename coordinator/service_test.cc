// The service's gRPC boundary on a real server (loopback, port 0): the bearer token, and the
// status code of each kind of bad request (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION for
// a stale attempt, UNAUTHENTICATED), none of which changes anything.
#include "coordinator/service.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/util/test_files.h"

namespace sbmt::coordinator {
namespace {

const char kToken[] = "0123456789abcdef0123";

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceOptions o;
    o.state_dir = testing::FreshDir("service_state").string();
    o.token = kToken;
    o.launch_template = "sleep 60";  // stands in for the ranks; killed at the end
    o.tick_s = 0.02;
    service_ = std::make_unique<CoordinatorService>(std::vector<Host>{{"localhost", 2}}, o);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_GT(port, 0);
    service_->Start("127.0.0.1:" + std::to_string(port));
    stub_ = v1::Coordinator::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                         grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    for (int pid : launched_) kill(-pid, SIGKILL);
    service_->Stop();
    server_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kToken) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    return c;
  }

  grpc::StatusCode Submit(const std::string& name, int world, std::string* id = nullptr) {
    v1::SubmitJobRequest r;
    r.mutable_spec()->set_name(name);
    r.mutable_spec()->set_config("configs/tiny.yaml");
    r.mutable_spec()->set_world_size(world);
    v1::SubmitJobReply reply;
    const grpc::Status s = stub_->SubmitJob(Context().get(), r, &reply);
    if (id) *id = reply.job_id();
    return s.error_code();
  }

  int Jobs() {
    v1::ListJobsReply reply;
    EXPECT_TRUE(stub_->ListJobs(Context().get(), {}, &reply).ok());
    return reply.jobs_size();
  }

  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::vector<int> launched_;
};

TEST_F(ServiceTest, EveryCallNeedsTheToken) {
  v1::ListJobsReply list;
  EXPECT_EQ(stub_->ListJobs(Context("").get(), {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->ListJobs(Context("0123456789abcdef0124").get(), {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::SubmitJobRequest r;
  r.mutable_spec()->set_name("x");
  r.mutable_spec()->set_config("c.yaml");
  r.mutable_spec()->set_world_size(1);
  v1::SubmitJobReply reply;
  EXPECT_EQ(stub_->SubmitJob(Context("wrong").get(), r, &reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::HeartbeatRequest beat;
  v1::HeartbeatReply beat_reply;
  EXPECT_EQ(stub_->Heartbeat(Context("").get(), beat, &beat_reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Jobs(), 0);  // nothing changed
}

TEST_F(ServiceTest, BadRequestsGetPreciseCodes) {
  EXPECT_EQ(Submit("", 1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Submit("negative", -1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Submit("too-big", 3), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Jobs(), 0);
  v1::JobRequest unknown;
  unknown.set_job_id("j-424242");
  v1::Job job;
  EXPECT_EQ(stub_->DescribeJob(Context().get(), unknown, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(stub_->CancelJob(Context().get(), unknown, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A launched job: its attempt 1 may join; attempt 2 and unknown jobs may not.
  std::string id;
  ASSERT_EQ(Submit("ok", 1, &id), grpc::StatusCode::OK);
  v1::JobRequest request;
  request.set_job_id(id);
  for (int i = 0; i < 200 && job.attempts_size() == 0; ++i) {
    ASSERT_TRUE(stub_->DescribeJob(Context().get(), request, &job).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(job.state(), v1::RUNNING);
  launched_.push_back(job.attempts(0).launcher_pid());
  v1::WorkerId worker;
  worker.set_job_id(id);
  worker.set_attempt(1);
  worker.set_rank(0);
  v1::JoinReply join;
  EXPECT_TRUE(stub_->Join(Context().get(), worker, &join).ok());
  EXPECT_GT(join.heartbeat_interval_s(), 0);
  v1::HeartbeatRequest beat;
  *beat.mutable_worker() = worker;
  beat.mutable_worker()->set_attempt(2);
  v1::HeartbeatReply reply;
  const grpc::Status stale = stub_->Heartbeat(Context().get(), beat, &reply);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(stale.error_message().find("attempt 2 of job " + id + " is stale (current: 1)"),
            std::string::npos)
      << stale.error_message();
  beat.mutable_worker()->set_attempt(1);
  beat.mutable_worker()->set_rank(5);
  EXPECT_EQ(stub_->Heartbeat(Context().get(), beat, &reply).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  beat.mutable_worker()->set_job_id("j-424242");
  EXPECT_EQ(stub_->Heartbeat(Context().get(), beat, &reply).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Cancelled: the next heartbeat of the live attempt asks it to stop.
  ASSERT_TRUE(stub_->CancelJob(Context().get(), request, &job).ok());
  beat.mutable_worker()->set_job_id(id);
  beat.mutable_worker()->set_rank(0);
  ASSERT_TRUE(stub_->Heartbeat(Context().get(), beat, &reply).ok());
  EXPECT_TRUE(reply.stop());
}

}  // namespace
}  // namespace sbmt::coordinator
