// tests/support/capture_fd.cpp — see capture_fd.h.
#include "tests/support/capture_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace forge::testing {

CaptureFd::CaptureFd(int fd) : fd_(fd), saved_(::dup(fd)) {
  const int file = ::open((dir_ / "out").c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ::dup2(file, fd_);
  ::close(file);
}

CaptureFd::~CaptureFd() {
  ::dup2(saved_, fd_);
  ::close(saved_);
}

std::string CaptureFd::Text() const {
  std::ifstream in(dir_ / "out", std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace forge::testing
