// tests/shm/child.h — a forked child process running a lambda.
//
// Contract
//   * The child runs `body` and leaves with _exit(its result) (3 if it
//     threw), so it never returns into GoogleTest or runs the parent's
//     destructors (segments, temp dirs).
//   * The destructor SIGKILLs and reaps the child if it is still running:
//     a failing test never leaves a process behind. Only this child's pid
//     is ever signalled.
//   * Not thread-safe per object.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <utility>

#include "tests/support/process.h"

namespace forge::shm::testing {

class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int rc = 3;
      try {
        rc = body();
      } catch (...) {
      }
      ::_exit(rc);
    }
  }
  Child(Child&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Kill(); }

  pid_t pid() const { return pid_; }

  // Exit code, or 128 + signal; nullopt if still running at the timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    forge::testing::WaitUntil([this] { return Reaped(WNOHANG); }, timeout);
    return status_;
  }

  // SIGKILL and reap (no-op once reaped).
  void Kill() {
    if (pid_ <= 0 || status_) return;
    ::kill(pid_, SIGKILL);
    Reaped(0);
  }

 private:
  bool Reaped(int flags) {
    if (status_) return true;
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, flags);
    if (r != pid_) return false;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace forge::shm::testing
