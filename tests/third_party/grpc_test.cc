// gRPC links and serves: a real server on 127.0.0.1 port 0 answers a real client call.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>

#include "proto/coordinator.grpc.pb.h"

namespace {

class InfoService final : public sbmt::coordinator::v1::Coordinator::Service {
 public:
  grpc::Status GetServerInfo(grpc::ServerContext*, const sbmt::coordinator::v1::ServerInfoRequest*,
                             sbmt::coordinator::v1::ServerInfo* reply) override {
    reply->set_version("test-version");
    reply->set_start_time_unix_s(42);
    return grpc::Status::OK;
  }
};

TEST(Grpc, RoundTripOnLoopbackWithEphemeralPort) {
  InfoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0) << "the kernel should have assigned a port";

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = sbmt::coordinator::v1::Coordinator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  sbmt::coordinator::v1::ServerInfo reply;
  grpc::Status status = stub->GetServerInfo(&context, {}, &reply);

  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.version(), "test-version");
  EXPECT_EQ(reply.start_time_unix_s(), 42);
  server->Shutdown();
}

TEST(Grpc, UnreachableServerGivesUnavailable) {
  // Bind then shut down a server so that the port is known to be closed.
  InfoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.BuildAndStart()->Shutdown();

  auto stub = sbmt::coordinator::v1::Coordinator::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  sbmt::coordinator::v1::ServerInfo reply;
  grpc::Status status = stub->GetServerInfo(&context, {}, &reply);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
