// prometheus-cpp links and serves: an exposer on an ephemeral loopback port serves a counter
// that we read back over HTTP in the text exposition format.
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "tests/util/http_get.h"

TEST(Prometheus, ExposerServesCounterOverHttp) {
  prometheus::Exposer exposer("127.0.0.1:0");
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("sbmt_test_events_total")
                     .Help("Events counted by the wiring test.")
                     .Register(*registry);
  family.Add({{"kind", "wiring"}}).Increment(3);
  exposer.RegisterCollectable(registry);

  std::vector<int> ports = exposer.GetListeningPorts();
  ASSERT_EQ(ports.size(), 1u);
  ASSERT_GT(ports[0], 0);

  sbmt::testing::HttpResponse response =
      sbmt::testing::HttpGet("127.0.0.1", ports[0], "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("# TYPE sbmt_test_events_total counter"), std::string::npos)
      << response.body;
  EXPECT_NE(response.body.find("sbmt_test_events_total{kind=\"wiring\"} 3"), std::string::npos)
      << response.body;
}
