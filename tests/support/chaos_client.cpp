#include "tests/support/chaos_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "tests/support/http_frame.h"
#include "tests/support/loopback.h"

namespace forge::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;

constexpr std::size_t kMaxErrors = 8;
constexpr std::chrono::milliseconds kConnectRetry{5};

// One connection's thread: its own tallies, merged at the end.
class Connection {
 public:
  Connection(const ChaosLoadOptions& o, std::size_t index)
      : o_(o), index_(index) {}
  ~Connection() { CloseSocket(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Run();
  ChaosLoadResult& result() { return result_; }

 private:
  bool Stopped() const {
    // acquire: the test's flag; nothing else is published through it.
    return final_ ||
           (o_.stop != nullptr && o_.stop->load(std::memory_order_acquire));
  }
  bool Connect();
  void CloseSocket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool Send(const std::string& request);
  void Exchange();
  void Lose(const std::string& why, bool reset);
  void Record(const ResponseHead& a, std::string_view body,
              Clock::time_point sent);
  void Note(const std::string& e) {
    if (result_.errors.size() < kMaxErrors) {
      result_.errors.push_back("connection " + std::to_string(index_) + ": " +
                               e);
    }
  }
  template <typename T>
  static void Bump(std::atomic<T>* counter, T by = 1) {
    // relaxed: a live gauge for the test thread; totals come from the result.
    if (counter != nullptr) counter->fetch_add(by, std::memory_order_relaxed);
  }

  const ChaosLoadOptions& o_;
  const std::size_t index_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::size_t n_ = 0;   // requests sent on this connection's slot
  bool final_ = false;  // got an answer options.is_final accepted
  ChaosLoadResult result_;
  std::set<std::string> seen_503_;
};

bool Connection::Connect() {
  fd_ = ConnectLoopback(o_.port, o_.hang_after);
  if (fd_ < 0) {
    ++result_.connect_failures;
    Note(ErrnoText("connect", errno));
    return false;
  }
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
  port_ = ntohs(local.sin_port);
  ++result_.connects;
  return true;
}

void Connection::Lose(const std::string& why, bool reset) {
  result_.lost.push_back({port_, reset, why, Clock::now()});
  Bump(o_.progress ? &o_.progress->lost : nullptr);
  Note("port " + std::to_string(port_) + ": " + why);
  CloseSocket();
}

bool Connection::Send(const std::string& request) {
  std::size_t done = 0;
  while (done < request.size()) {
    const ssize_t n =
        ::send(fd_, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN) {
        ++result_.hangs;
        Note("send stalled for " + std::to_string(o_.hang_after.count()) +
             " ms");
        CloseSocket();
      } else {
        Lose(ErrnoText("send", err), err == ECONNRESET || err == EPIPE);
      }
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void Connection::Record(const ResponseHead& a, std::string_view body,
                        Clock::time_point sent) {
  const auto now = Clock::now();
  const auto took = std::chrono::duration_cast<microseconds>(now - sent);
  const bool final = o_.is_final && o_.is_final(a.status, body);
  final_ = final_ || final;
  ++result_.completed;
  ++result_.statuses[a.status];
  auto& worst = result_.max_latency[a.status];
  worst = std::max(worst, took);
  ChaosProgress* p = o_.progress;
  Bump(p ? &p->responses : nullptr);
  if (a.status == 503) {
    Bump(p ? &p->unavailable : nullptr);
    if (seen_503_.size() < kMaxErrors && seen_503_.emplace(body).second) {
      result_.bodies_503.emplace_back(body);
    }
  }
  std::size_t keys = 0;
  while (a.status == 200 && !body.empty()) {
    const auto eol = body.find('\n');
    result_.keys.emplace_back(body.substr(0, eol));
    ++keys;
    body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
  }
  if (o_.timeline) {
    result_.answers.push_back({sent, now, index_, a.status, keys, final});
  }
  if (a.status != 200) return;
  Bump(p ? &p->ok : nullptr);
  Bump(p ? &p->keys : nullptr, keys);
}

void Connection::Exchange() {
  const std::string request =
      "GET " + o_.target(index_, n_++) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ++result_.sent;
  const auto start = Clock::now();
  if (!Send(request)) return;
  std::string in;
  char buf[16384];
  ResponseHead a;
  for (;;) {
    const Framing got = FrameResponse(in, &a);
    if (got == Framing::kMalformed) {
      ++result_.malformed;
      Note("malformed answer: " + in.substr(0, 120));
      CloseSocket();
      return;
    }
    if (got == Framing::kComplete) break;
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    const int err = errno;
    if (n < 0 && err == EINTR) continue;
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
      ++result_.hangs;
      Note("no answer for " + std::to_string(o_.hang_after.count()) + " ms");
      CloseSocket();
      return;
    }
    Lose(n == 0 ? "closed before a full answer" : ErrnoText("recv", err),
         n < 0 && err == ECONNRESET);
    return;
  }
  Record(a, std::string_view(in).substr(a.head_size, a.body_size), start);
  if (a.close) {
    ++result_.server_closes;
    CloseSocket();
  }
}

void Connection::Run() {
  while (!Stopped()) {
    if (fd_ < 0 && !Connect()) {
      // Retry pacing while nothing listens (not a synchronisation).
      std::this_thread::sleep_for(kConnectRetry);
      continue;
    }
    Exchange();
  }
}

template <typename Map>
void AddMaps(Map& into, const Map& from, bool take_max) {
  for (const auto& [k, v] : from) {
    into[k] = take_max ? std::max(into[k], v) : into[k] + v;
  }
}

void Merge(ChaosLoadResult& into, ChaosLoadResult& from) {
  into.sent += from.sent;
  into.completed += from.completed;
  AddMaps(into.statuses, from.statuses, false);
  AddMaps(into.max_latency, from.max_latency, true);
  into.keys.insert(into.keys.end(), std::make_move_iterator(from.keys.begin()),
                   std::make_move_iterator(from.keys.end()));
  for (std::string& b : from.bodies_503) {
    if (std::find(into.bodies_503.begin(), into.bodies_503.end(), b) ==
        into.bodies_503.end()) {
      into.bodies_503.push_back(std::move(b));
    }
  }
  into.lost.insert(into.lost.end(), from.lost.begin(), from.lost.end());
  into.answers.insert(into.answers.end(), from.answers.begin(),
                      from.answers.end());
  into.hangs += from.hangs;
  into.connects += from.connects;
  into.connect_failures += from.connect_failures;
  into.server_closes += from.server_closes;
  into.malformed += from.malformed;
  for (std::string& e : from.errors) {
    if (into.errors.size() < kMaxErrors) into.errors.push_back(std::move(e));
  }
}

}  // namespace

std::size_t ChaosLoadResult::Status(int code) const {
  const auto it = statuses.find(code);
  return it == statuses.end() ? 0 : it->second;
}

std::size_t ChaosLoadResult::Resets() const {
  return static_cast<std::size_t>(std::count_if(
      lost.begin(), lost.end(), [](const LostRequest& l) { return l.reset; }));
}

microseconds ChaosLoadResult::MaxLatency() const {
  microseconds worst{0};
  for (const auto& [status, us] : max_latency) worst = std::max(worst, us);
  return worst;
}

std::string ChaosLoadResult::Summary() const {
  std::ostringstream s;
  s << "sent=" << sent << " completed=" << completed << " keys=" << keys.size()
    << " statuses={";
  for (const auto& [status, n] : statuses) {
    s << status << ":" << n << " (max " << max_latency.at(status).count() / 1000
      << " ms) ";
  }
  s << "} lost=" << lost.size() << " (resets " << Resets()
    << ") hangs=" << hangs << " connects=" << connects
    << " connect_failures=" << connect_failures
    << " server_closes=" << server_closes << " malformed=" << malformed
    << " seconds=" << seconds;
  for (const std::string& e : errors) s << " | " << e;
  return s.str();
}

ChaosLoadResult RunChaosLoad(const ChaosLoadOptions& options) {
  const auto start = Clock::now();
  std::vector<std::unique_ptr<Connection>> conns;
  for (std::size_t i = 0; i < options.connections; ++i) {
    conns.push_back(std::make_unique<Connection>(options, i));
  }
  std::vector<std::thread> threads;
  threads.reserve(conns.size());
  for (auto& c : conns) threads.emplace_back([&c] { c->Run(); });
  for (std::thread& t : threads) t.join();
  ChaosLoadResult total;
  for (auto& c : conns) Merge(total, c->result());
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return total;
}

}  // namespace forge::testing
