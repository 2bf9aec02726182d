// tests/support/process.h — helpers for process-level tests.
//
// Contract
//   * Process starts a real binary (fork + execve) with its own environment,
//     working directory and captured stdout/stderr files, or forks a child
//     that runs a function (Fork). Its destructor
//     SIGKILLs and reaps the child if it is still running, so a failing test
//     never leaves a process behind; only the pid this object started is
//     ever signalled.
//   * WaitUntil polls a condition until a deadline: the one way tests wait.
//   * Not thread-safe per object; distinct objects are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/loopback.h"  // FreePort, for every process test

namespace forge::testing {

using Env = std::map<std::string, std::string>;
using std::chrono::milliseconds;

// The whole of `path`; "" when it cannot be read.
std::string ReadFile(const std::string& path);

// Field `n` (numbered as in proc(5): 3 is the state, 19 the niceness) of a
// /proc/.../stat file, past the parenthesised command name (which may
// hold spaces); nullopt when the file is gone or shorter.
std::optional<std::string> ProcStatField(const std::string& stat_path, int n);

// True when process `pid` has a file whose name starts with `soname` (e.g.
// "libpq.so") mapped, as /proc/PID/maps lists it now.
bool MapsLibrary(pid_t pid, const std::string& soname);

// Writes `text` to `path` (replacing it); throws std::runtime_error when
// it cannot.
void WriteFile(const std::string& path, const std::string& text);

// build/bin, from $FORGE_BIN_DIR (set by CTest), else ./bin next to the test.
std::string BinDir();
std::string Bin(const std::string& program);  // BinDir() + "/" + program

// A fresh directory under $TMPDIR, removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

// A SHM_NAME unique to this test process; its /dev/shm objects (segment
// and lock file) are removed on destruction.
class ShmName {
 public:
  ShmName();
  ~ShmName();
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;
  const std::string& str() const { return name_; }

 private:
  std::string name_;
};

// Polls `pred` every few milliseconds until it is true (returns true) or
// `timeout` passes (returns false).
bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout);

class Process {
 public:
  // argv[0] is a path. `env` is the complete environment of the child
  // (plus PATH, HOME and TMPDIR from ours when absent). cwd "" = ours.
  static Process Start(const std::vector<std::string>& argv, Env env = {},
                       const std::string& cwd = "");
  // Forks a child that runs `body` and leaves with _exit(its result) (3
  // if it threw), so it never returns into GoogleTest or runs the parent's
  // destructors. Nothing is captured: Stdout()/Stderr() are "".
  static Process Fork(const std::function<int()>& body);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool Running();        // false once it exited (and was reaped)
  void Signal(int sig);  // no-op after it was reaped
  // Exit code, or 128 + signal number; nullopt if still running at timeout.
  std::optional<int> Wait(milliseconds timeout);
  // Sends SIGKILL and reaps.
  void Kill();
  std::string Stdout() const;  // what it wrote so far
  std::string Stderr() const;

 private:
  Process() = default;
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
  std::string dir_;  // owns the capture files
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed; -1 on timeout
  std::string out;
  std::string err;
};

// Runs a program to completion (killed after `timeout`).
RunResult Run(const std::vector<std::string>& argv, Env env = {},
              milliseconds timeout = milliseconds(30000),
              const std::string& cwd = "");

}  // namespace forge::testing
