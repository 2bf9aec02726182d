// tests/shm/raw_file.h — a segment file mapped read-write behind the
// segment code's back, so a test can damage it on purpose.
//
// Contract: maps the whole file (its size when opened) MAP_SHARED; unmaps
// and closes on destruction. Not copyable. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "shm/layout.h"

namespace forge::shm::testing {

// The whole segment file mapped read-write, to damage it on purpose.
class RawFile {
 public:
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;
  explicit RawFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR);
    struct stat st {};
    ::fstat(fd_, &st);
    size_ = static_cast<std::size_t>(st.st_size);
    addr_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  }
  ~RawFile() {
    ::munmap(addr_, size_);
    ::close(fd_);
  }
  SegmentPrefix& prefix() { return *static_cast<SegmentPrefix*>(addr_); }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::size_t size_;
  void* addr_;
};

}  // namespace forge::shm::testing
