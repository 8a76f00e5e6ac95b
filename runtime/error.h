// The project's one error type: a code saying what kind of failure it is, and a message a user
// can act on (which file, line, field or rank; what was expected). Every library throws it (the
// domain errors below are Error with a default code), so a program's top level, and later the
// coordinator's gRPC boundary, map any failure to an exit status or a gRPC status without
// knowing which library raised it.
//
//   throw Error(ErrorCode::kInvalidArgument, path + ":" + line + ": model.heads: expected ...");
//   try { ... } catch (const Error& e) { return ToGrpcStatus(e.code(), e.what()); }
#pragma once

#include <stdexcept>
#include <string>

namespace sbmt {

// The codes match gRPC's (and absl::StatusCode's) meaning, so the mapping is one-to-one.
enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong: config, flags, shapes, file contents
  kNotFound,            // a named file, key or job does not exist
  kFailedPrecondition,  // the system is not in a state that allows it (resume a foreign run)
  kDataLoss,            // stored data is damaged: checksum mismatch, truncated file
  kUnavailable,         // a peer or service cannot be reached or stopped answering
  kInternal,            // a broken invariant of our own code
};

// "invalid argument", "not found", ...
const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Declares a domain error: an Error whose code defaults to `default_code`, so call sites read
// `throw ShardError(path + ": ...")` and handlers that care can still catch the domain.
#define SBMT_DEFINE_ERROR(Name, default_code)                                                  \
  class Name : public ::sbmt::Error {                                                          \
   public:                                                                                     \
    explicit Name(const std::string& message) : ::sbmt::Error(default_code, message) {}        \
    Name(::sbmt::ErrorCode code, const std::string& message) : ::sbmt::Error(code, message) {} \
  }

}  // namespace sbmt
