#include "tests/util/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sbmt::testing {
namespace {

[[noreturn]] void Fail(const std::string& host, int port, const std::string& step) {
  throw std::runtime_error("HTTP GET " + host + ":" + std::to_string(port) + ": " + step +
                           ": " + std::strerror(errno));
}

}  // namespace

HttpResponse HttpGet(const std::string& host, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Fail(host, port, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    throw std::runtime_error("HTTP GET: not an IPv4 address: " + host);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    Fail(host, port, "connect");
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, 0);
    if (n <= 0) {
      ::close(fd);
      Fail(host, port, "send");
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      ::close(fd);
      Fail(host, port, "recv");
    }
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);

  HttpResponse response;
  // Status line: "HTTP/1.x CODE REASON".
  size_t space = raw.find(' ');
  if (space != std::string::npos) response.status = std::atoi(raw.c_str() + space + 1);
  size_t header_end = raw.find("\r\n\r\n");
  if (header_end != std::string::npos) response.body = raw.substr(header_end + 4);
  return response;
}

}  // namespace sbmt::testing
