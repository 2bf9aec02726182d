#include "tests/support/loopback.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace forge::testing {

sockaddr_in LoopbackAddress(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket: " + std::string(strerror(errno)));
  sockaddr_in addr = LoopbackAddress(0);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind to a free port: " +
                             std::string(strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

int ConnectLoopback(int port, std::chrono::milliseconds io_timeout,
                    int socket_flags) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | socket_flags, 0);
  if (fd < 0) return -1;
  if (io_timeout.count() > 0) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(io_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((io_timeout.count() % 1000) * 1000);
    // SO_SNDTIMEO also bounds connect() on Linux.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  const sockaddr_in addr = LoopbackAddress(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) !=
          0 &&
      !((socket_flags & SOCK_NONBLOCK) != 0 && errno == EINPROGRESS)) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace forge::testing
