// Protobuf links and round-trips: serialize a generated message and parse it back.
#include <gtest/gtest.h>

#include <string>

#include "proto/coordinator.pb.h"

TEST(Protobuf, MessageRoundTripsThroughWireFormat) {
  sbmt::coordinator::v1::ServerInfo info;
  info.set_version("1.2.3");
  info.set_start_time_unix_s(1795931777);

  std::string wire;
  ASSERT_TRUE(info.SerializeToString(&wire));
  EXPECT_FALSE(wire.empty());

  sbmt::coordinator::v1::ServerInfo parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.version(), "1.2.3");
  EXPECT_EQ(parsed.start_time_unix_s(), 1795931777);
}

TEST(Protobuf, RejectsTruncatedInput) {
  sbmt::coordinator::v1::ServerInfo info;
  info.set_version("a version string long enough to truncate");
  std::string wire = info.SerializeAsString();
  sbmt::coordinator::v1::ServerInfo parsed;
  EXPECT_FALSE(parsed.ParseFromString(wire.substr(0, wire.size() / 2)));
}
