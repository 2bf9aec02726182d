#include "frontend/event_loop.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>

#include "base/log.h"
#include "frontend/cpu_steer.h"
#include "frontend/fast_path.h"
#include "frontend/request_head.h"

namespace forge::frontend {
namespace {

// Stop answering pipelined requests of a connection while this much output
// waits: the client must read before it gets more.
constexpr std::size_t kOutputHighWater = 64 * 1024;
constexpr int kMaxEvents = 256;

// epoll_event.data.ptr of the fds that are not connections.
char listener_tag;
char drain_tag;
char adopt_tag;
char relay_tag;

void SetNoDelay(int fd) {
  // TCP_NODELAY: an answer is one small segment; without it Nagle may hold
  // it until the client's delayed ACK (~40 ms).
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int CeilMillis(std::chrono::steady_clock::duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

}  // namespace

struct EventLoop::Conn {
  int fd = -1;
  std::array<char, kLoopInputBytes> in;
  std::size_t begin = 0, end = 0;  // unconsumed input
  std::string out;
  std::size_t sent = 0;
  std::size_t left = 0;  // requests this connection may still make
  std::size_t served = 0;
  std::size_t check_cpu_at = 1;  // `served` at the next IncomingCpu look
  bool watching_out = false;
  bool peer_closed = false;
  enum class Next { kServe, kClose, kHandOff } next = Next::kServe;
  Clock::time_point deadline;
  std::optional<Clock::time_point> head_started;  // first byte of a request
  std::optional<Clock::time_point> send_started;  // output began waiting
  Clock::time_point last_progress;

  std::string_view input() const { return {in.data() + begin, end - begin}; }
  bool pending() const { return sent < out.size(); }
};

EventLoop::EventLoop(LoopOptions options, const Router& router,
                     HandOff hand_off, std::function<void()> on_fatal,
                     const std::atomic<bool>& draining)
    : options_(std::move(options)),
      router_(router),
      hand_off_(std::move(hand_off)),
      on_fatal_(std::move(on_fatal)),
      draining_(draining) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
  adopt_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event drain{EPOLLIN, {.ptr = &drain_tag}};
  epoll_event adopt{EPOLLIN, {.ptr = &adopt_tag}};
  if (adopt_fd_ < 0 ||
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, options_.drain_fd, &drain) != 0 ||
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, adopt_fd_, &adopt) != 0) {
    const int err = errno;
    if (adopt_fd_ >= 0) ::close(adopt_fd_);
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "event loop setup");
  }
  epoll_event relay{EPOLLIN, {.ptr = &relay_tag}};
  if (options_.seat.relay != nullptr &&
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD,
                  options_.seat.relay->receive_fd(options_.seat.slot),
                  &relay) != 0) {
    log::Warn(std::string("connections will not follow their CPU: ") +
              std::strerror(errno));
    options_.seat.relay = nullptr;
  }
}

EventLoop::~EventLoop() {
  for (auto& c : conns_) {
    if (c) ::close(c->fd);
  }
  for (const auto& [fd, left] : adopted_) ::close(fd);
  ::close(adopt_fd_);
  ::close(epoll_fd_);
}

bool EventLoop::Run() {
  SetListening(true);
  std::array<epoll_event, kMaxEvents> events;
  for (;;) {
    // acquire: pairs with HttpServer::BeginDrain's release of the flag.
    if (!drained_ && draining_.load(std::memory_order_acquire)) {
      BeginDrain(Clock::now());
    }
    if (drained_ && open_ == 0 && options_.seat.relay != nullptr) {
      OnRelayed(Clock::now());  // passed here before the sender drained
    }
    if (drained_ && open_ == 0) {
      std::lock_guard lock(adopt_mu_);
      if (adopted_.empty()) {  // else the next wait returns them
        ended_ = true;
        return !fatal_;
      }
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), kMaxEvents,
                               WaitMillis(Clock::now()));
    if (n < 0 && errno != EINTR) {
      log::Error(std::string("epoll_wait failed: ") + std::strerror(errno));
      ::poll(nullptr, 0, 10);  // ENOMEM and the like: do not spin
      continue;
    }
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &listener_tag) {
        OnListener(now);
      } else if (tag == &adopt_tag) {
        OnAdopted(now);
      } else if (tag == &relay_tag) {
        OnRelayed(now);
      } else if (tag != &drain_tag) {
        OnConn(*static_cast<Conn*>(tag), events[i].events, now);
      }  // the drain eventfd: the flag is checked at the top
    }
    if (resume_accept_ && now >= *resume_accept_) {
      resume_accept_.reset();
      if (!drained_) SetListening(true);
    }
    if (now >= next_expiry_) Expire(now);
  }
}

int EventLoop::WaitMillis(Clock::time_point now) const {
  Clock::time_point until = next_expiry_;
  if (resume_accept_) until = std::min(until, *resume_accept_);
  if (until == Clock::time_point::max()) return -1;
  return CeilMillis(until - now);
}

void EventLoop::SetListening(bool on) {
  if (on == listening_ || fatal_) return;
  epoll_event ev{EPOLLIN, {.ptr = &listener_tag}};
  ::epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, options_.listen_fd,
              &ev);
  listening_ = on;
}

void EventLoop::OnListener(Clock::time_point now) {
  if (options_.share != nullptr &&
      !options_.share->Fair(options_.share_slot,
                            static_cast<std::uint32_t>(open_))) {
    if (!deferring_since_) deferring_since_ = now;
    if (now - *deferring_since_ < kAcceptDeferFor) {
      SetListening(false);
      resume_accept_ = now + std::chrono::milliseconds(1);
      return;
    }
  }
  deferring_since_.reset();
  // One connection per wake-up: every worker polls the shared socket, and
  // taking turns spreads the connections over them.
  std::chrono::milliseconds pause{0};
  switch (AcceptOne(now, &pause)) {
    case Accepted::kFatal:
      fatal_ = true;
      listening_ = false;  // the fd stays; nobody waits on it any more
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, options_.listen_fd, nullptr);
      on_fatal_();  // begins the drain
      break;
    case Accepted::kPause:
      SetListening(false);
      resume_accept_ = now + pause;
      break;
    case Accepted::kAgain:
    case Accepted::kEmpty:
      break;
  }
}

EventLoop::Accepted EventLoop::AcceptOne(Clock::time_point now,
                                         std::chrono::milliseconds* pause) {
  const int fd = ::accept4(options_.listen_fd, nullptr, nullptr,
                           SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) {
    backoff_.Succeeded();
    SetNoDelay(fd);
    if (!options_.fast_path) {
      ToThread(fd, Carried{{}, options_.keep_alive_max, std::nullopt});
    } else if (Conn* c = Watch(fd, options_.keep_alive_max)) {
      Settle(*c, now);
    }
    return Accepted::kAgain;
  }
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK) return Accepted::kEmpty;
  switch (ClassifyAcceptError(err)) {
    case AcceptFailure::kRetry:
      return Accepted::kAgain;
    case AcceptFailure::kFatal:
      log::Error(std::string("accept() on the listening socket failed: ") +
                 std::strerror(err) + "; this worker stops serving");
      return Accepted::kFatal;
    case AcceptFailure::kBackOff:
      break;
  }
  const AcceptBackoff::Step step = backoff_.Failed(err, now);
  if (step.log) log::Warn(*step.log);
  *pause = step.pause;
  return Accepted::kPause;
}

EventLoop::Conn* EventLoop::Watch(int fd, std::size_t left) {
  if (conns_.size() <= static_cast<std::size_t>(fd)) conns_.resize(fd + 1);
  conns_[fd] = std::make_unique<Conn>();
  Conn& c = *conns_[fd];
  c.fd = fd;
  c.left = left;
  Opened();
  epoll_event ev{EPOLLIN, {.ptr = &c}};
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    Close(c, false);  // out of memory for the watch: nothing was read
    return nullptr;
  }
  return &c;
}

bool EventLoop::Adopt(int fd, std::size_t left) {
  {
    std::lock_guard lock(adopt_mu_);
    if (ended_) return false;
    adopted_.emplace_back(fd, left);
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(adopt_fd_, &one, sizeof(one));
  return true;
}

void EventLoop::OnAdopted(Clock::time_point now) {
  std::uint64_t count;
  [[maybe_unused]] const ssize_t n = ::read(adopt_fd_, &count, sizeof(count));
  std::vector<std::pair<int, std::size_t>> adopted;
  {
    std::lock_guard lock(adopt_mu_);
    adopted.swap(adopted_);
  }
  for (const auto& [fd, left] : adopted) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (Conn* c = Watch(fd, left)) Settle(*c, now);
  }
}

void EventLoop::BeginDrain(Clock::time_point now) {
  drained_ = true;
  // The eventfd stays readable: stop watching it, or every wait returns.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, options_.drain_fd, nullptr);
  if (!fatal_) AcceptQueued();
  SetListening(false);
  resume_accept_.reset();
  drain_until_ = now + kDrainIdleGrace;
  for (auto& c : conns_) {
    if (c && c->next == Conn::Next::kServe && !c->pending() &&
        !c->head_started) {
      c->deadline = std::min(c->deadline, drain_until_);
      next_expiry_ = std::min(next_expiry_, c->deadline);
    }
  }
}

void EventLoop::AcceptQueued() {
  const auto give_up = Clock::now() + kDrainAcceptFor;
  for (;;) {
    std::chrono::milliseconds pause{0};
    const Accepted got = AcceptOne(Clock::now(), &pause);
    if (got == Accepted::kEmpty || got == Accepted::kFatal) return;
    if (Clock::now() >= give_up) {
      log::Warn("draining: the accept queue did not empty within " +
                std::to_string(kDrainAcceptFor.count()) +
                " ms; no longer accepting (what is left goes to the other "
                "workers, or is reset when none is left)");
      return;
    }
    if (got == Accepted::kPause) {
      ::poll(nullptr, 0,
             std::min(CeilMillis(give_up - Clock::now()),
                      static_cast<int>(pause.count())));
    }
  }
}

void EventLoop::OnConn(Conn& c, std::uint32_t events, Clock::time_point now) {
  if (c.pending() && !Send(c, now)) return Close(c, false);
  if (!c.pending() && c.next == Conn::Next::kServe && !c.peer_closed &&
      (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !Receive(c, now)) {
    return Close(c, false);
  }
  if (!c.pending()) Answer(c, now);
  if (c.pending() && !Send(c, now)) return Close(c, false);
  if (options_.seat.relay != nullptr && MoveToItsCpu(c)) return;
  Settle(c, now);
}

bool EventLoop::MoveToItsCpu(Conn& c) {
  // acquire: pairs with HttpServer::BeginDrain (no moves once draining).
  if (c.served < c.check_cpu_at || c.pending() || c.begin != c.end ||
      c.peer_closed || c.next != Conn::Next::kServe ||
      draining_.load(std::memory_order_acquire)) {
    return false;
  }
  c.check_cpu_at = c.served + kCpuCheckEvery;
  const int cpu = IncomingCpu(c.fd);
  const auto& cpus = options_.seat.cpus;
  const auto it = std::find(cpus.begin(), cpus.end(), cpu);
  const auto slot = static_cast<std::size_t>(it - cpus.begin());
  if (it == cpus.end() || slot == options_.seat.slot ||
      !options_.seat.relay->Send(slot, c.fd, c.left)) {
    return false;
  }
  // The receiver holds the same socket: deregister before closing our fd,
  // or epoll keeps reporting it to a Conn that no longer exists.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  Close(c, false);
  return true;
}

void EventLoop::OnRelayed(Clock::time_point now) {
  while (const std::optional<ConnRelay::Passed> passed =
             options_.seat.relay->Receive(options_.seat.slot)) {
    if (Conn* c = Watch(passed->fd, passed->left)) {
      c->check_cpu_at = kCpuCheckEvery;  // not straight back
      Settle(*c, now);
    }
  }
}

bool EventLoop::Receive(Conn& c, Clock::time_point now) {
  if (c.begin > 0) {  // keep the unconsumed bytes, at the front
    std::memmove(c.in.data(), c.in.data() + c.begin, c.end - c.begin);
    c.end -= c.begin;
    c.begin = 0;
  }
  if (c.end == c.in.size()) return true;  // full: Answer hands it off
  for (;;) {
    const ssize_t n = ::recv(c.fd, c.in.data() + c.end, c.in.size() - c.end, 0);
    if (n > 0) {
      if (c.end == 0) c.head_started = now;
      c.end += static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) {
      c.peer_closed = true;
      return true;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

void EventLoop::Answer(Conn& c, Clock::time_point now) {
  while (c.next == Conn::Next::kServe && c.begin < c.end &&
         c.out.size() - c.sent < kOutputHighWater) {
    RequestHead head;
    HeadError error;
    const HeadResult result = ParseHead(c.input(), &head, &error);
    if (result == HeadResult::kIncomplete) {
      // No room to complete it here (the threaded path has 64 KiB).
      if (c.begin == 0 && c.end == c.in.size()) c.next = Conn::Next::kHandOff;
      return;
    }
    const std::optional<FastRequest> req =
        result == HeadResult::kComplete ? FastRequestFrom(head) : std::nullopt;
    if (!req) {  // bad, or not hot: the threaded path answers it
      c.next = Conn::Next::kHandOff;
      return;
    }
    // acquire: pairs with HttpServer::BeginDrain (a drain closes after this).
    const bool close =
        c.left == 1 || req->close || draining_.load(std::memory_order_acquire);
    const std::optional<Reply> answer = AnswerFast(router_, *req, false);
    if (!answer) {  // it would wait for keys: a thread may block, we may not
      c.next = Conn::Next::kHandOff;
      return;
    }
    const Reply& reply = *answer;
    std::array<char, 512> head_bytes;
    const std::size_t size = FormatHead(
        reply, {close, options_.keep_alive_value}, std::span<char>(head_bytes));
    if (size == 0) {  // a Router reply's head always fits
      c.next = Conn::Next::kClose;
      return;
    }
    c.out.append(head_bytes.data(), size);
    c.out.append(reply.body);
    c.begin += req->size;
    --c.left;
    ++c.served;
    c.head_started = c.begin < c.end ? std::optional(now) : std::nullopt;
    if (close) c.next = Conn::Next::kClose;
  }
}

bool EventLoop::Send(Conn& c, Clock::time_point now) {
  if (!c.send_started) {
    c.send_started = now;
    c.last_progress = now;
  }
  while (c.pending()) {
    // MSG_NOSIGNAL: a vanished peer is an error return, not SIGPIPE.
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      c.last_progress = now;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  c.out.clear();
  c.sent = 0;
  c.send_started.reset();
  return true;
}

void EventLoop::Settle(Conn& c, Clock::time_point now) {
  if (c.pending()) {
    WatchOutput(c, true);
    c.deadline = std::min(*c.send_started + options_.send.whole,
                          c.last_progress + options_.send.stall);
  } else if (c.next == Conn::Next::kClose ||
             (c.peer_closed && c.next == Conn::Next::kServe)) {
    // Closed by the client with nothing (or half a head) left to answer.
    return Close(c, false);
  } else if (c.next == Conn::Next::kHandOff) {
    return HandOffConn(c);
  } else {
    WatchOutput(c, false);
    c.deadline = c.head_started ? *c.head_started + options_.read_timeout
                                : std::min(now + options_.keep_alive_timeout,
                                           drain_until_);
  }
  next_expiry_ = std::min(next_expiry_, c.deadline);
}

void EventLoop::Expire(Clock::time_point now) {
  next_expiry_ = Clock::time_point::max();
  for (auto& slot : conns_) {
    if (!slot) continue;
    Conn& c = *slot;
    if (c.deadline > now) {
      next_expiry_ = std::min(next_expiry_, c.deadline);
    } else if (c.pending()) {
      Close(c, true);  // too slow a reader: reset, drop the unsent rest
    } else if (c.head_started) {
      HandOffConn(c);  // the threaded path answers "too slow" (400)
    } else {
      Close(c, false);  // idle past the keep-alive timeout (or the grace)
    }
  }
}

void EventLoop::WatchOutput(Conn& c, bool out) {
  if (c.watching_out == out) return;
  epoll_event ev{out ? EPOLLOUT : EPOLLIN, {.ptr = &c}};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.watching_out = out;
}

void EventLoop::HandOffConn(Conn& c) {
  const int fd = c.fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  Carried carried{std::string(c.input()), c.left, std::nullopt};
  if (c.head_started) {
    carried.deadline = *c.head_started + options_.read_timeout;
  }
  conns_[fd].reset();
  Closed();
  ToThread(fd, std::move(carried));
}

void EventLoop::ToThread(int fd, Carried carried) {
  // The threaded path reads blocking, within SO_RCVTIMEO.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options_.read_timeout.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  hand_off_(fd, std::move(carried));
}

void EventLoop::Close(Conn& c, bool reset) {
  const int fd = c.fd;
  if (reset) ResetOnClose(fd);
  ::close(fd);  // also removes it from the epoll set
  conns_[fd].reset();
  Closed();
}

void EventLoop::Opened() {
  ++open_;
  if (options_.share) {
    options_.share->Set(options_.share_slot, static_cast<std::uint32_t>(open_));
  }
}

void EventLoop::Closed() {
  --open_;
  if (options_.share) {
    options_.share->Set(options_.share_slot, static_cast<std::uint32_t>(open_));
  }
}

}  // namespace forge::frontend
