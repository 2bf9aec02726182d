#include "frontend/conn_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace forge::frontend {
namespace {

void Describe(const sockaddr_storage& addr, std::string* ip, int* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    *port = ntohs(a->sin6_port);
  }
  *ip = text;
}

bool PollFor(int fd, short events) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, 0);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

}  // namespace

void ResetOnClose(int fd) {
  const linger now{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
}

ConnStream::ConnStream(int fd, bool with_addresses, SendLimits send_limits)
    : fd_(fd), send_limits_(send_limits) {
  if (!with_addresses) return;
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    Describe(addr, &remote_ip_, &remote_port_);
  }
  len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    Describe(addr, &local_ip_, &local_port_);
  }
}

bool ConnStream::is_readable() const {
  return buffered() > 0 || PollFor(fd_, POLLIN);
}

bool ConnStream::is_writable() const { return PollFor(fd_, POLLOUT); }

bool ConnStream::Preload(std::string_view bytes) {
  if (bytes.size() > in_.size() - in_end_) return false;
  std::memcpy(in_.data() + in_end_, bytes.data(), bytes.size());
  in_end_ += bytes.size();
  return true;
}

bool ConnStream::ReceiveMore() { return Receive() > 0; }

ssize_t ConnStream::Receive() {
  if (!Flush()) return -1;
  if (budget_ == 0) {
    limit_hit_ = Limit::kTooLarge;
    return -1;
  }
  if (in_pos_ > 0) {  // keep the unconsumed bytes, at the front
    std::memmove(in_.data(), in_.data() + in_pos_, buffered());
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  const std::size_t want = std::min(in_.size() - in_end_, budget_);
  if (want == 0) return -1;  // full: the caller's limit is below kInputBytes
  // With a deadline the first try never blocks: waiting is WaitReadable's.
  const int flags = deadline_ ? MSG_DONTWAIT : 0;
  for (;;) {
    const ssize_t n = ::recv(fd_, in_.data() + in_end_, want, flags);
    if (n > 0) {
      in_end_ += static_cast<std::size_t>(n);
      budget_ -= static_cast<std::size_t>(n);
      return n;
    }
    if (n == 0) return 0;  // peer closed
    if (errno == EINTR) continue;
    if (!deadline_ || (errno != EAGAIN && errno != EWOULDBLOCK)) return -1;
    if (!WaitReadable()) return -1;
  }
}

bool ConnStream::WaitReadable() {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        *deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      limit_hit_ = Limit::kTooSlow;
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(
        &p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (n > 0) return true;  // readable, hung up or failed: recv tells
    if (n < 0 && errno != EINTR) return false;
  }
}

void ConnStream::BeginRequest(std::size_t max_bytes,
                              std::chrono::steady_clock::time_point deadline) {
  budget_ = max_bytes;
  deadline_ = deadline;
  limit_hit_ = Limit::kNone;
  send_deadline_.reset();  // a new request: its response gets its own
}

ssize_t ConnStream::read(char* ptr, size_t size) {
  if (buffered() == 0) {
    const ssize_t got = Receive();
    if (got <= 0) return got;
  }
  const std::size_t n = std::min(size, buffered());
  std::memcpy(ptr, in_.data() + in_pos_, n);
  in_pos_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnStream::write(const char* ptr, size_t size) {
  if (out_len_ + size > out_.size()) {
    if (!Flush()) return -1;
    if (size > out_.size()) {
      return SendAll(ptr, size) ? static_cast<ssize_t>(size) : -1;
    }
  }
  std::memcpy(out_.data() + out_len_, ptr, size);
  out_len_ += size;
  return static_cast<ssize_t>(size);
}

bool ConnStream::Flush() {
  if (out_len_ == 0) return true;
  const bool ok = SendAll(out_.data(), out_len_);
  out_len_ = 0;
  return ok;
}

bool ConnStream::SendAll(const char* data, std::size_t size) {
  if (!send_deadline_) {
    send_deadline_ = std::chrono::steady_clock::now() + send_limits_.whole;
  }
  while (size > 0) {
    // MSG_NOSIGNAL: a vanished peer is an error return, not SIGPIPE.
    // MSG_DONTWAIT: waiting is WaitWritable's, within the send limits.
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && WaitWritable()) {
      continue;
    }
    return false;  // peer gone, or a send limit passed
  }
  return true;
}

bool ConnStream::WaitWritable() {
  const auto now = std::chrono::steady_clock::now();
  const auto until = std::min(*send_deadline_, now + send_limits_.stall);
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      send_timed_out_ = true;
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    const int n = ::poll(
        &p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (n > 0) return true;  // writable, or failed: send tells
    if (n < 0 && errno != EINTR) return false;
  }
}

void ConnStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = remote_ip_;
  port = remote_port_;
}

void ConnStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = local_ip_;
  port = local_port_;
}

}  // namespace forge::frontend
