// frontend/conn_stream.h — one accepted connection as a cpp-httplib Stream.
//
// Why our own Stream: cpp-httplib's SocketStream sends the response head and
// body in two send() calls (two packets, and with Nagle on a ~40 ms stall on
// the client's delayed ACK). ConnStream collects what httplib writes for one
// response and sends it with one send() in Flush(). It also reads through a
// buffer that holds a whole request head (kInputBytes, 64 KiB), because
// httplib reads the request line byte by byte, and because every head is
// checked (request_head.h) and maybe answered by the fast path
// (fast_path.h) before httplib reads it.
//
// Contract
//   * Used by one thread at a time (the connection's thread); not shared.
//   * The fd is blocking with SO_RCVTIMEO (set by the accept loop), so a
//     read never waits longer than that.
//   * Sends (SendLimits): a response must make progress every `stall` and
//     be sent in full within `whole` of its first byte (the clock restarts
//     at BeginRequest); past either, writes fail and send_timed_out() says
//     so. A client reading a large answer a byte at a time cannot hold the
//     thread longer than `whole`.
//   * Pending output is flushed before any read that would block, so an
//     interim response (100 Continue) is never held back.
//   * Per-request limits (BeginRequest): a request may take at most
//     `max_bytes` from the socket, all before a deadline; past either, reads
//     fail and limit_hit() says which. So a client sending headers forever,
//     or one byte at a time (slowloris), cannot grow memory or hold a thread
//     beyond them. Within the deadline a read that would block waits in
//     poll(); the first recv() never blocks (no extra syscall when the
//     request has arrived).
//   * ConnStream does not own the fd.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "frontend/httplib_seam.h"

namespace forge::frontend {

// Makes the coming close(fd) a reset: the kernel drops what is still unsent
// instead of trying to deliver it to a client that reads too slowly.
void ResetOnClose(int fd);

struct SendLimits {
  std::chrono::milliseconds stall{5000};   // without any byte sent
  std::chrono::milliseconds whole{10000};  // for one whole response
};

class ConnStream final : public httplib::Stream {
 public:
  // `with_addresses`: look up peer and local addresses once (for request
  // logging); otherwise they are reported empty, saving two syscalls.
  ConnStream(int fd, bool with_addresses, SendLimits send_limits = {});

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

  // Sends everything written so far. False when the peer is gone or the
  // write timed out.
  [[nodiscard]] bool Flush();
  // Bytes received but not yet consumed.
  std::size_t buffered() const { return in_end_ - in_pos_; }
  // The unconsumed bytes, for a parser that looks before httplib reads.
  std::string_view Peek() const { return {in_.data() + in_pos_, buffered()}; }
  // Puts bytes read elsewhere (the event loop) in front of what the socket
  // brings next; only before the first read. False if they do not fit.
  [[nodiscard]] bool Preload(std::string_view bytes);
  // Drops the first n (<= buffered()) bytes of Peek().
  void Consume(std::size_t n) { in_pos_ += n; }
  // Flushes pending output, then receives once more, appending to the
  // bytes still buffered (moved to the front of the buffer first). False
  // when the peer closed, the read failed or timed out, a limit was hit
  // (limit_hit()), or the buffer is full.
  bool ReceiveMore();

  // Input buffer size: a whole request head (request_head.h's
  // kMaxHeadBytes) fits.
  static constexpr std::size_t kInputBytes = 64 * 1024;

  enum class Limit { kNone, kTooLarge, kTooSlow };
  // From now on (until the next call) reads take at most `max_bytes` more
  // from the socket and fail after `deadline`. Bytes already buffered (a
  // pipelined request) do not count.
  void BeginRequest(std::size_t max_bytes,
                    std::chrono::steady_clock::time_point deadline);
  // Which limit made a read fail since BeginRequest; kNone if none did.
  Limit limit_hit() const { return limit_hit_; }
  // A send failed because a SendLimits bound passed.
  bool send_timed_out() const { return send_timed_out_; }

 private:
  [[nodiscard]] bool SendAll(const char* data, std::size_t size);
  // Waits until the socket takes more bytes within the send limits.
  bool WaitWritable();
  // Waits until the socket is readable or the deadline passed (false).
  bool WaitReadable();
  // Flushes, then one recv() appended to the input buffer; recv's result.
  ssize_t Receive();

  int fd_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = -1, local_port_ = -1;
  std::array<char, kInputBytes> in_;
  std::size_t in_pos_ = 0, in_end_ = 0;
  std::array<char, 8192> out_;
  std::size_t out_len_ = 0;
  // Request limits; until BeginRequest, reads block within SO_RCVTIMEO.
  std::size_t budget_ = SIZE_MAX;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  Limit limit_hit_ = Limit::kNone;
  // Send limits; the response deadline is set by its first send.
  SendLimits send_limits_;
  std::optional<std::chrono::steady_clock::time_point> send_deadline_;
  bool send_timed_out_ = false;
};

}  // namespace forge::frontend
