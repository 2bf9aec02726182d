// frontend/conn_stream.h — one accepted connection as a cpp-httplib Stream.
//
// Why our own Stream: cpp-httplib's SocketStream sends the response head and
// body in two send() calls (two packets, and with Nagle on a ~40 ms stall on
// the client's delayed ACK). ConnStream collects what httplib writes for one
// response and sends it with one send() in Flush(). It also reads through a
// 4 KiB buffer, because httplib reads the request line byte by byte.
//
// Contract
//   * Used by one thread at a time (the connection's thread); not shared.
//   * The fd is blocking with SO_RCVTIMEO/SO_SNDTIMEO (set by httplib's
//     accept loop), so read() and Flush() never wait longer than those.
//   * Pending output is flushed before any read that would block, so an
//     interim response (100 Continue) is never held back.
//   * ConnStream does not own the fd.
#pragma once

#include <httplib.h>

#include <array>
#include <cstddef>
#include <string>

namespace forge::frontend {

class ConnStream final : public httplib::Stream {
 public:
  // `with_addresses`: look up peer and local addresses once (for request
  // logging); otherwise they are reported empty, saving two syscalls.
  ConnStream(int fd, bool with_addresses);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

  // Sends everything written so far. False when the peer is gone or the
  // write timed out.
  bool Flush();
  // Bytes received but not yet consumed.
  std::size_t buffered() const { return in_end_ - in_pos_; }

 private:
  bool SendAll(const char* data, std::size_t size);

  int fd_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = -1, local_port_ = -1;
  std::array<char, 4096> in_;
  std::size_t in_pos_ = 0, in_end_ = 0;
  std::array<char, 8192> out_;
  std::size_t out_len_ = 0;
};

}  // namespace forge::frontend
