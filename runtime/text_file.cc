#include "runtime/text_file.h"

#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace sbmt::runtime {

std::string ReadTextFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, what + " " + path + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ReadTokenFile(const std::string& path, const std::string& what) {
  std::string token = ReadTextFile(path, what);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

}  // namespace sbmt::runtime
