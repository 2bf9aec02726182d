// tests/faults/raw_conn.h — one loopback TCP connection driven byte by
// byte, for HTTP abuse tests: send anything, read any number of responses,
// see when (and how) the server closes.
//
// Contract
//   * Every wait is bounded by the deadline it is given; nothing blocks
//     forever. The socket is closed by the destructor.
//   * Responses are framed by tests/support/http_frame.h.
//   * Not thread-safe per object.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/http_client.h"

namespace forge::faults {

class RawConn {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RawConn(int port);  // connects (check ok())
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Sends all of `data`; false when the server closed or reset.
  bool Send(const std::string& data);
  void ShutdownWrite();

  // Reads until `n` full responses arrived, the server closed, or
  // `timeout` passed; returns those that arrived.
  std::vector<testing::HttpResponse> Read(std::size_t n,
                                          std::chrono::milliseconds timeout);
  // Waits for the server to close (EOF or reset), discarding data;
  // returns how long that took from now, nullopt after `timeout`.
  std::optional<std::chrono::milliseconds> WaitClosed(
      std::chrono::milliseconds timeout);
  // True when the server has closed (EOF or reset) by now; reads and
  // keeps what arrived so far.
  bool ClosedNow();
  bool closed() const { return closed_; }
  // The close was a reset (ECONNRESET), not an orderly EOF.
  bool reset() const { return reset_; }

 private:
  bool Receive(int timeout_ms);  // false on EOF/error (sets closed_)

  int fd_ = -1;
  std::string in_;
  bool closed_ = false;
  bool reset_ = false;
};

// Splits complete responses off the front of `buf`.
std::vector<testing::HttpResponse> TakeResponses(std::string* buf);

}  // namespace forge::faults
