#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <string_view>

#include "tests/support/http_frame.h"
#include "tests/support/loopback.h"

namespace forge::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

void RaiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// ---- the load client ------------------------------------------------------

enum class State { kClosed, kConnecting, kIdle, kWriting, kReading };

struct Conn {
  int fd = -1;
  State state = State::kClosed;
  std::string out;
  std::size_t out_pos = 0;
  std::string in;
  bool retired = false;
};

void Retire(Conn& c) {
  c = Conn{};
  c.retired = true;
}

class LoadRun {
 public:
  explicit LoadRun(const LoadOptions& o) : o_(o), conns_(o.connections) {
    result_.per_connection.assign(o.connections, 0);
  }
  ~LoadRun() {
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
  }

  LoadResult Run();

 private:
  bool StopRequested() const {
    // acquire: the test's flag; nothing else is published through it.
    return o_.stop != nullptr && o_.stop->load(std::memory_order_acquire);
  }
  bool WorkLeft() const {
    return result_.sent < o_.requests && !StopRequested();
  }
  bool InFlight() const {
    return std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) {
      return c.state == State::kWriting || c.state == State::kReading;
    });
  }
  bool AnyOpen() const {
    return std::any_of(conns_.begin(), conns_.end(),
                       [](const Conn& c) { return c.state != State::kClosed; });
  }
  bool CanOpen(const Conn& c) const { return !c.retired && WorkLeft(); }

  void Open(std::size_t i);
  void Close(std::size_t i);
  void Fail(std::size_t i, const std::string& why, bool reset);
  void Watch(std::size_t i, std::uint32_t events, int op = EPOLL_CTL_MOD);
  void SendNext(std::size_t i);
  void Flush(std::size_t i);
  void Receive(std::size_t i);
  void OnEvent(std::size_t i, std::uint32_t events);
  void Note(const std::string& error) {
    if (result_.errors.size() < 8) result_.errors.push_back(error);
  }

  const LoadOptions& o_;
  std::vector<Conn> conns_;
  LoadResult result_;
  int epoll_ = -1;
};

void LoadRun::Watch(std::size_t i, std::uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = i;
  ::epoll_ctl(epoll_, op, conns_[i].fd, &ev);
}

void LoadRun::Open(std::size_t i) {
  Conn& c = conns_[i];
  const bool retired = c.retired;
  c = Conn{};
  c.retired = retired;
  c.fd = ConnectLoopback(o_.port, {}, SOCK_NONBLOCK);
  if (c.fd < 0) {
    ++result_.connect_failures;
    Note(ErrnoText("connect", errno));
    Retire(c);
    return;
  }
  const int on = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  c.state = State::kConnecting;
  Watch(i, EPOLLOUT, EPOLL_CTL_ADD);
}

void LoadRun::Close(std::size_t i) {
  Conn& c = conns_[i];
  if (c.fd >= 0) ::close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.state = State::kClosed;
  if (!o_.reconnect) c.retired = true;
  if (CanOpen(c)) Open(i);
}

void LoadRun::Fail(std::size_t i, const std::string& why, bool reset) {
  Conn& c = conns_[i];
  if (c.state == State::kWriting || c.state == State::kReading) {
    ++result_.lost_in_flight;
    if (reset) ++result_.resets;
    Note("connection " + std::to_string(i) + ": " + why);
  }
  Close(i);
}

void LoadRun::SendNext(std::size_t i) {
  Conn& c = conns_[i];
  if (!WorkLeft()) {
    c.state = State::kIdle;
    Watch(i, EPOLLIN);  // notice a server close while idle
    return;
  }
  const std::size_t n = result_.sent++;
  c.out = "GET " + o_.target(n) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  c.out_pos = 0;
  c.in.clear();
  c.state = State::kWriting;
  Flush(i);
}

void LoadRun::Flush(std::size_t i) {
  Conn& c = conns_[i];
  while (c.out_pos < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_pos,
                             c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      Watch(i, EPOLLOUT | EPOLLIN);
      return;
    }
    if (n < 0) {
      Fail(i, ErrnoText("send", errno), errno == ECONNRESET || errno == EPIPE);
      return;
    }
    c.out_pos += static_cast<std::size_t>(n);
  }
  c.state = State::kReading;
  Watch(i, EPOLLIN);
}

void LoadRun::Receive(std::size_t i) {
  Conn& c = conns_[i];
  char buf[16384];
  bool eof = false;
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      Fail(i, ErrnoText("recv", errno), errno == ECONNRESET);
      return;
    }
    // EOF. A complete response may still be in c.in.
    ResponseHead head;
    if (c.state == State::kReading &&
        FrameResponse(c.in, &head) == Framing::kComplete) {
      eof = true;  // answer what arrived, then do not reuse the connection
      break;
    }
    Fail(i, "closed by the server before a full response", false);
    return;
  }
  if (c.state != State::kReading) {
    if (!c.in.empty()) {
      ++result_.malformed;
      Note("connection " + std::to_string(i) + ": data while idle");
      Close(i);
    }
    return;
  }
  ResponseHead head;
  const Framing p = FrameResponse(c.in, &head);
  if (p == Framing::kIncomplete) return;
  if (p == Framing::kMalformed) {
    ++result_.malformed;
    Fail(i, "malformed response", false);
    return;
  }
  ++result_.completed;
  ++result_.per_connection[i];
  ++result_.statuses[head.status];
  if (o_.progress != nullptr) {
    // relaxed: a progress gauge for the test thread.
    o_.progress->fetch_add(1, std::memory_order_relaxed);
  }
  if (head.status == 200) {
    result_.bodies_200.push_back(c.in.substr(head.head_size, head.body_size));
  }
  if (head.close || eof) {
    if (head.close) ++result_.server_closes;
    c.state = State::kIdle;  // nothing in flight: not a loss
    Close(i);
    return;
  }
  SendNext(i);
}

void LoadRun::OnEvent(std::size_t i, std::uint32_t events) {
  Conn& c = conns_[i];
  if (c.state == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
      ++result_.connect_failures;
      if (err == ECONNRESET) ++result_.connect_resets;
      Note(ErrnoText("connect", err != 0 ? err : ECONNREFUSED));
      ::close(c.fd);
      Retire(c);
      return;
    }
    SendNext(i);
    return;
  }
  if (c.state == State::kWriting && (events & EPOLLOUT) != 0) Flush(i);
  if (c.state != State::kClosed && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    Receive(i);
  }
}

LoadResult LoadRun::Run() {
  RaiseFileLimit();
  const auto start = Clock::now();
  const auto deadline = start + o_.deadline;
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  for (std::size_t i = 0; i < conns_.size(); ++i) Open(i);
  std::vector<epoll_event> events(256);
  while (AnyOpen() && (WorkLeft() || InFlight())) {
    if (Clock::now() >= deadline) {
      result_.timed_out = true;
      Note("deadline passed with " +
           std::to_string(result_.sent - result_.completed -
                          result_.lost_in_flight) +
           " requests unanswered");
      break;
    }
    const int n = ::epoll_wait(epoll_, events.data(),
                               static_cast<int>(events.size()), 50);
    for (int k = 0; k < n; ++k) {
      OnEvent(static_cast<std::size_t>(events[k].data.u64), events[k].events);
    }
  }
  result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return std::move(result_);
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  const auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse RawRequest(int port, const std::string& request,
                        std::chrono::milliseconds timeout) {
  HttpResponse r;
  std::string in;
  const auto deadline = Clock::now() + timeout;
  const int fd = ConnectLoopback(port, timeout);
  if (fd < 0) {
    r.error = ErrnoText("connect", errno);
  }
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    r.error = ErrnoText("send", errno);
  } else {
    ResponseHead head;
    const bool to_head = request.rfind("HEAD ", 0) == 0;
    for (;;) {
      const Framing p = FrameResponse(in, &head, to_head);
      if (p == Framing::kComplete) {
        r.status = head.status;
        r.headers = head.headers;
        r.body = in.substr(head.head_size, head.body_size);
        break;
      }
      if (p == Framing::kMalformed) {
        r.error = "malformed response: " + in.substr(0, 200);
        break;
      }
      char buf[16384];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR && Clock::now() < deadline) continue;
      if (n <= 0) {
        r.error = n == 0 ? "connection closed before a full response"
                         : ErrnoText("recv", errno);
        break;
      }
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return r;
}

HttpResponse Get(int port, const std::string& target,
                 std::chrono::milliseconds timeout) {
  return RawRequest(port,
                    "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Connection: close\r\n\r\n",
                    timeout);
}

LoadOptions LoadOptions::On(int port, std::size_t connections,
                            std::size_t requests,
                            std::chrono::milliseconds deadline) {
  LoadOptions o;
  o.port = port;
  o.connections = connections;
  o.requests = requests;
  o.deadline = deadline;
  return o;
}

std::size_t LoadResult::Status(int code) const {
  const auto it = statuses.find(code);
  return it == statuses.end() ? 0 : it->second;
}

std::size_t LoadResult::Starved() const {
  return static_cast<std::size_t>(
      std::count(per_connection.begin(), per_connection.end(), 0));
}

std::string LoadResult::Summary() const {
  std::ostringstream s;
  s << "sent=" << sent << " completed=" << completed << " statuses={";
  for (const auto& [status, n] : statuses) s << status << ":" << n << " ";
  s << "} lost_in_flight=" << lost_in_flight << " resets=" << resets
    << " connect_failures=" << connect_failures
    << " connect_resets=" << connect_resets
    << " server_closes=" << server_closes << " malformed=" << malformed
    << " starved=" << Starved() << " timed_out=" << timed_out
    << " seconds=" << seconds;
  for (const std::string& e : errors) s << " | " << e;
  return s.str();
}

LoadResult RunLoad(const LoadOptions& options) {
  LoadRun run(options);
  return run.Run();
}

}  // namespace forge::testing
