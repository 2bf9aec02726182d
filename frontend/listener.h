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
//     in TIME_WAIT. One shared socket (BindListener) means one shared accept
//     queue, so a busy or dead worker's share is taken by the others. With
//     WORKER_CPU_AFFINITY=auto there is one socket per CPU instead
//     (BindListeners, a SO_REUSEPORT group steered by cpu_steer.h); the
//     master holds every one, so a dead worker's queued connections wait
//     for its restart instead of being reset.
//   * O_NONBLOCK: all workers poll() the socket and race to accept(); the
//     losers must get EAGAIN, not block in accept() where a drain cannot
//     reach them. Accepted sockets do not inherit O_NONBLOCK.
//   * Stopping (RefuseNewConnections): before the frontend closes the
//     socket, the master makes the kernel drop new connection attempts, so
//     that what sits in the accept queue is all there will be; the workers
//     accept and answer that (server.h), and a client that tried too late
//     retries its SYN and is refused (ECONNREFUSED) once the socket is
//     closed, instead of being accepted by the kernel and then reset.
//   * Accept errors (AcceptBackoff): no accept() error ends a worker except
//     the ones that say the listening fd itself is unusable (kFatal).
//     Resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) pause accepting for
//     10 ms, doubling to 100 ms while they last, so the queue is left to
//     other workers and fds can free up; they are logged at most once a
//     second. Errors of one queued connection (ECONNABORTED, EPROTO, ...)
//     are retried at once: Linux reports a connection's pending network
//     error through accept() (accept(2), "Error handling").
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

// `count` sockets on one port, a SO_REUSEPORT group joined in order (the
// order cpu_steer.h's program indexes); one plain socket when count is 1.
// The port is first bound alone, so a port in use (even by another
// SO_REUSEPORT group) fails as BindListener does. Throws ListenError.
std::vector<Listener> BindListeners(const std::string& host, int port,
                                    int backlog, std::size_t count);

// Makes the kernel drop bare SYNs to listening socket `fd` from now on (a
// socket filter, shared by every process holding the socket). Connections
// already queued, or completing their handshake, are not affected. False
// (errno set) if the filter could not be attached.
[[nodiscard]] bool RefuseNewConnections(int fd);

enum class AcceptFailure {
  kRetry,    // that connection failed, or no connection: accept again
  kBackOff,  // out of fds or memory: pause, then accept again
  kFatal,    // the listening fd is unusable: stop serving
};
AcceptFailure ClassifyAcceptError(int err);

// The pause and the log line after accept() failed; one per accept loop.
class AcceptBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kFirstPause{10};
  static constexpr std::chrono::milliseconds kMaxPause{100};
  static constexpr std::chrono::seconds kLogEvery{1};

  struct Step {
    std::chrono::milliseconds pause{0};  // before the next accept()
    std::optional<std::string> log;      // a WARN line to write now
  };
  // After accept() failed with `err` (not kFatal) at `now`.
  Step Failed(int err, Clock::time_point now);
  // After accept() returned a connection: the next failure pauses briefly.
  void Succeeded() { pause_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds pause_{0};
  std::optional<Clock::time_point> last_log_;
  std::size_t unlogged_ = 0;  // failures since the last line
};

}  // namespace forge::frontend
