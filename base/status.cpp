// base/status.cpp — see status.h.
#include "base/status.h"

#include <cstdio>
#include <cstdlib>

namespace forge {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kNotFound:
      return "not found";
    case Code::kBusy:
      return "busy";
    case Code::kCorruption:
      return "corruption";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kIoError:
      return "I/O error";
  }
  return "unknown";
}

Status::Status(Code code, std::string message)
    : code_(code), message_(std::move(message)) {
  FORGE_CHECK(code_ != Code::kOk || message_.empty(),
              "an ok Status carries no message");
}

const Status& OkStatus() {
  static const Status ok;
  return ok;
}

Error::Error(Status status)
    : std::runtime_error(status.message()), status_(std::move(status)) {
  FORGE_CHECK(!status_.ok(), "an Error needs a failed Status");
}

namespace internal {

void CheckFailed(const char* file, int line, const char* expr,
                 const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", file, line, expr,
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal
}  // namespace forge
