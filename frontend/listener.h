// frontend/listener.h — the one listening socket all workers share.
//
// Contract
//   * BindListener is called once, by the master, before forking. The fd is
//     inherited by every worker through fork() (no exec is involved, so
//     FD_CLOEXEC is set and only keeps it out of unrelated programs).
//   * We bind it ourselves, not cpp-httplib, because the backlog is ours to
//     choose: Debian's libcpp-httplib 0.11.4 compiles in listen(fd, 5), and
//     a 5-deep accept queue overflows hundreds of times a second under load.
//     The kernel caps the backlog at net.core.somaxconn; we warn if it does.
//   * SO_REUSEADDR lets a restarted frontend bind while old connections sit
//     in TIME_WAIT. No SO_REUSEPORT: one shared socket means one shared
//     accept queue, so a busy or dead worker's share is taken by the others
//     (with per-worker REUSEPORT sockets the kernel hashes each connection
//     to one worker, and a dead worker's queued connections are reset).
//   * O_NONBLOCK: all workers poll() the socket and race to accept(); the
//     losers must get EAGAIN, not block in accept() where a drain cannot
//     reach them. Accepted sockets do not inherit O_NONBLOCK.
#pragma once

#include <stdexcept>
#include <string>

namespace forge::frontend {

class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Listener {
  int fd = -1;
  int port = 0;         // the bound port (useful when asked for port 0)
  std::string address;  // numeric address actually bound
};

// Throws ListenError with one line: the address, the system error, a hint.
Listener BindListener(const std::string& host, int port, int backlog);

}  // namespace forge::frontend
