// frontend/conn_relay.h — passes an idle keep-alive connection to the
// worker that runs on the CPU its packets arrive on (cpu_steer.h).
//
// Why: a connection is steered to the worker of the CPU that processed its
// SYN, but a client thread may move to another CPU afterwards (wrk's
// threads start on one CPU and spread out after connecting). Its requests
// then wake a worker on another CPU for every request. The worker notices
// (IncomingCpu) and passes the connection on.
//
// Contract
//   * Created by the master before it forks: one AF_UNIX datagram socket
//     pair per slot. Every process keeps every pair, so a worker started
//     again after a crash finds what was passed to its slot meanwhile. All
//     fds are non-blocking and close-on-exec.
//   * Send(to, fd, left) passes a duplicate of `fd` (SCM_RIGHTS) with the
//     requests the connection may still make. True: the receiver owns the
//     connection; the caller must stop watching it and close its own fd.
//     False (queue full, fd limit): nothing was passed; keep serving it.
//   * Receive(slot) takes one passed connection, or nullopt when none waits.
//     Any worker of `slot` may take it; each is taken once. The receiver
//     gets it idle: no byte of a next request was read by the sender (bytes
//     already in the socket's buffer travel with it).
//   * A connection still queued when the last process holding the pair
//     exits is closed by the kernel, like an idle keep-alive connection.
//   * Process- and thread-safe (the kernel orders the datagrams).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace forge::frontend {

class ConnRelay;

// A worker's seat among the CPU slots (cpu_steer.h): the relay between
// the slots (nullptr: connections stay where they are accepted), its own
// slot, and each slot's CPU.
struct CpuSeat {
  const ConnRelay* relay = nullptr;
  std::size_t slot = 0;
  std::vector<int> cpus;
};

class ConnRelay {
 public:
  struct Passed {
    int fd;
    std::size_t left;
  };

  // Throws std::system_error when the sockets cannot be made.
  explicit ConnRelay(std::size_t slots);
  ~ConnRelay();
  ConnRelay(const ConnRelay&) = delete;
  ConnRelay& operator=(const ConnRelay&) = delete;

  std::size_t slots() const { return ends_.size(); }
  [[nodiscard]] bool Send(std::size_t to, int fd, std::size_t left) const;
  [[nodiscard]] std::optional<Passed> Receive(std::size_t slot) const;
  // Readable when Receive(slot) has something (for epoll).
  int receive_fd(std::size_t slot) const { return ends_[slot].receive; }

 private:
  void CloseAll();

  struct Ends {
    int receive = -1;
    int send = -1;
  };
  std::vector<Ends> ends_;
};

}  // namespace forge::frontend
