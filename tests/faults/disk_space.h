// tests/faults/disk_space.h — file-system faults for the store tests: a
// full disk and a file or directory even root cannot write.
//
// Contract
//   * DiskSpace makes a directory whose disk can be filled on demand. It
//     mounts a 1 MiB tmpfs there when allowed (mode "tmpfs": Fill writes a
//     filler file until ENOSPC, Free deletes it). Where mounting is not
//     permitted it falls back to RLIMIT_FSIZE (mode "rlimit"): StartBroker
//     runs the broker with SIGXFSZ ignored, so a write past the limit fails
//     with EFBIG instead of killing it, and Fill/Free set the live
//     process's limit with prlimit(2). FORGE_TEST_NO_MOUNT=1 forces the
//     fallback. The destructor unmounts (lazily) what it mounted.
//   * Immutable sets FS_IMMUTABLE_FL on a file or directory (even root may
//     not create, delete or write there) and clears it on destruction.
//     ok() is false, with error(), where the file system or the
//     capabilities do not allow it.
//   * Objects own what they changed; not thread-safe.
#pragma once

#include <sys/types.h>

#include <string>

#include "tests/support/process.h"

namespace forge::faults {

class DiskSpace {
 public:
  explicit DiskSpace(std::string dir);
  ~DiskSpace();
  DiskSpace(const DiskSpace&) = delete;
  DiskSpace& operator=(const DiskSpace&) = delete;

  bool ready() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& path() const { return dir_; }
  const char* mode() const { return mounted_ ? "tmpfs" : "rlimit"; }

  testing::Process StartBroker(const testing::Env& env,
                               const std::string& cwd) const;
  // No more room for new data (for `pid`, in rlimit mode).
  bool Fill(pid_t pid);
  void Free(pid_t pid);

 private:
  std::string dir_;
  std::string filler_;
  std::string error_;
  bool mounted_ = false;
};

class Immutable {
 public:
  explicit Immutable(std::string path);
  ~Immutable();
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  bool Set(bool on);

  std::string path_;
  std::string error_;
};

}  // namespace forge::faults
