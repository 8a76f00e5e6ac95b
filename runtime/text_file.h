// Small files read whole as text: bearer tokens, certificates.
//
//   std::string pem = ReadTextFile("server.pem", "--tls-cert");
//   std::string token = ReadTokenFile("token", "--token-file");   // trailing newline dropped
#pragma once

#include <string>

namespace sbmt::runtime {

// Throws Error(kNotFound) "WHAT PATH: cannot read".
std::string ReadTextFile(const std::string& path, const std::string& what);

// As ReadTextFile, without the trailing newlines and spaces `echo TOKEN > file` leaves.
std::string ReadTokenFile(const std::string& path, const std::string& what);

}  // namespace sbmt::runtime
