// tests/faults/tcp_proxy.h — a loopback TCP forwarder between a program and
// a server, that can turn into a network blackhole (issue 10 item 2).
//
// Contract
//   * TcpProxy(target_port) listens on 127.0.0.1 at port() and forwards
//     every connection to 127.0.0.1:target_port, both ways, on one thread
//     of its own (poll, non-blocking sockets, bounded buffers).
//   * SetBlackhole(true): from then on nothing is forwarded in either
//     direction and nothing is answered: bytes clients send are read and
//     dropped (counted by swallowed()), new connections are accepted and
//     treated the same, the server side hears nothing. Like a network that
//     loses every packet, except that the client's kernel sees its bytes
//     acknowledged (so only the client's own timeouts can notice).
//   * SetBlackhole(false): the connections that lived through the
//     blackhole are closed (their streams lost bytes and cannot go on);
//     new connections are forwarded again.
//   * The destructor stops the thread and closes every socket. Thread-safe:
//     the setters and counters may be used from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace forge::faults {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void SetBlackhole(bool on);
  // Bytes clients sent into the blackhole so far.
  std::uint64_t swallowed() const {
    // relaxed: a counter for a test's polling; no data depends on it.
    return swallowed_.load(std::memory_order_relaxed);
  }

 private:
  void Loop();

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> blackhole_{false};
  std::atomic<std::uint64_t> generation_{0};  // bumped by SetBlackhole(false)
  std::atomic<std::uint64_t> swallowed_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace forge::faults
