// tests/support/capture_fd.h — what a test's code writes to a descriptor.
//
// Contract
//   * CaptureFd redirects one file descriptor (stderr, stdout) to a file in
//     its own TempDir for its lifetime and restores it on destruction.
//   * Text() returns everything written so far.
//   * Not thread-safe per object (tests use it from the main thread; the
//     code under test may write from any thread).
#pragma once

#include <string>

#include "tests/support/process.h"

namespace forge::testing {

class CaptureFd {
 public:
  explicit CaptureFd(int fd);
  ~CaptureFd();
  CaptureFd(const CaptureFd&) = delete;
  CaptureFd& operator=(const CaptureFd&) = delete;
  std::string Text() const;  // what was written so far

 private:
  int fd_;
  int saved_;
  TempDir dir_;
};

}  // namespace forge::testing
