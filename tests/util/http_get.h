// A blocking HTTP/1.0 GET over a plain TCP socket, for tests that read back what a server
// (e.g. a Prometheus exposer) serves. Not a general HTTP client: no TLS, no redirects, no
// chunked encoding (HTTP/1.0 servers close the connection instead).
//
//   HttpResponse r = HttpGet("127.0.0.1", port, "/metrics");
//   EXPECT_EQ(r.status, 200);
#pragma once

#include <string>

namespace sbmt::testing {

struct HttpResponse {
  int status = 0;    // e.g. 200; 0 if the response could not be parsed
  std::string body;  // everything after the blank line that ends the headers
};

// Throws std::runtime_error naming host, port and the failing step when the request fails.
HttpResponse HttpGet(const std::string& host, int port, const std::string& path);

}  // namespace sbmt::testing
