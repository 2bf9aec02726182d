// base/status.h — the one convention for errors (docs/design.md
// "Conventions").
//
// Contract
//   * Recoverable errors are values: a function that can fail returns a
//     Status (ok, or a Code and one line for a person) or a Result<T> (a T,
//     or a failed Status). Both are [[nodiscard]]: ignoring one is a
//     compile warning, because ignoring it hides a failure.
//   * message() is the whole user-visible text, exactly as it is printed:
//     what was wrong, where, and what is allowed. The code is for programs
//     (which exit code, whether retrying can help); it never changes the
//     text.
//   * Where a failure must cross a constructor or a deep stack, it is
//     thrown as an Error (a std::runtime_error carrying a Status; what() is
//     the message). Folder-specific errors (SegmentError, ConfigError,
//     StoreError) derive from Error.
//   * Programming errors (a broken precondition, an impossible state) are
//     not recoverable: FORGE_CHECK(condition, message) prints
//     "file:line: check failed: condition: message" to stderr and aborts.
//   * Status, Result and Error are plain values; safe to pass between
//     threads, not to share for writing.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace forge {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad input: config value, name, count, spec
  kNotFound,         // the thing named does not exist
  kBusy,             // held by someone else (a lock)
  kCorruption,       // stored data breaks its own rules
  kUnavailable,      // cannot be used now; retrying may help
  kIoError,          // a system call failed
};

// "ok", "invalid argument", ... (for tests and debug logs, never in the
// user-visible message).
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string message);

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  static Status Busy(std::string message) {
    return Status(Code::kBusy, std::move(message));
  }
  static Status Corruption(std::string message) {
    return Status(Code::kCorruption, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(Code::kUnavailable, std::move(message));
  }
  static Status IoError(std::string message) {
    return Status(Code::kIoError, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // "" when ok, else the one line for a person.
  const std::string& message() const { return message_; }

  // Marks a deliberately ignored Status (say why at the call site).
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// The one ok Status that Result::status() refers to.
const Status& OkStatus();

namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr,
                              const std::string& message);
}  // namespace internal

// Aborts with file:line, the condition and `message` when `cond` is false.
#define FORGE_CHECK(cond, message)                                          \
  do {                                                                      \
    if (!(cond)) {                                                          \
      ::forge::internal::CheckFailed(__FILE__, __LINE__, #cond, (message)); \
    }                                                                       \
  } while (false)

// A value, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {  // NOLINT: as above
    FORGE_CHECK(!std::get<Status>(v_).ok(),
                "a Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; an ok Status when there is a value.
  const Status& status() const {
    return ok() ? OkStatus() : std::get<Status>(v_);
  }

  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &value(); }

 private:
  T& Checked() {
    FORGE_CHECK(
        ok(), "value() of a failed Result: " + std::get<Status>(v_).message());
    return std::get<T>(v_);
  }

  std::variant<T, Status> v_;
};

// A Status thrown across a constructor or a deep stack; what() is the
// message, byte for byte.
class Error : public std::runtime_error {
 public:
  explicit Error(Status status);
  Error(Code code, const std::string& message) : Error(Status(code, message)) {}

  const Status& status() const { return status_; }
  Code code() const { return status_.code(); }

 private:
  Status status_;
};

}  // namespace forge
