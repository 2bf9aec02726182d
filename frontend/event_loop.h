// frontend/event_loop.h — one worker's epoll loop: accepts connections and
// serves the hot routes (fast_path.h) without a thread per connection.
//
// Why: with a thread per connection every request cost a context switch and
// a poll() per idle wait; under wrk a worker spent more CPU per request than
// nginx (issue 18). Here one thread waits on every connection at once,
// answers each ready request, and sends all the answers a wake-up produced
// for one connection (pipelined requests too) with one send().
//
// Contract
//   * Run() is called once, on one thread; nothing here is shared with other
//     threads except the draining flag (read), the drain eventfd (polled)
//     and Adopt(), which any thread may call.
//   * Connections start here. A request that is not hot (fast_path.h), a
//     head that is bad, bigger than kLoopInputBytes or not complete within
//     read_timeout, and every connection when the fast path is off, are
//     handed off (HandOff) with the bytes already read, the requests left and
//     the started request's deadline: the fd is blocking again. So is a key
//     request that would wait for the ring (Router::HandleNow): the loop
//     never blocks, a thread waits up to EMPTY_WAIT_MS. Answers produced
//     before the hand-off are sent first, so responses stay in request
//     order. When the thread has answered and the connection is idle, it
//     gives it back (Adopt).
//   * Same rules as the threaded path (server.h): keep_alive_max requests per
//     connection, the last one says `Connection: close`; an idle connection
//     closes after keep_alive_timeout; answers make progress every
//     send.stall and are sent within send.whole of their first byte, else
//     the connection is reset; a client that closed its side still gets the
//     answers to what it sent.
//   * Draining (the drain eventfd is readable): accepts what the kernel
//     already queued (for at most kDrainAcceptFor), stops listening, answers
//     every further request with `Connection: close`, gives idle connections
//     kDrainIdleGrace for one more request, and returns once no connection
//     is left here (handed-off ones are the pool's).
//   * Sharing (accept_share.h): a worker holding more than its share of the
//     connections stops watching the listening socket for 1 ms at a time,
//     for at most kAcceptDeferFor, so that a less loaded worker takes the
//     next connection; then it takes it itself.
//   * Moving (seat.relay set, WORKER_CPU_AFFINITY): after its first request and
//     then every kCpuCheckEvery requests, an idle connection (nothing to
//     send, no byte of a next request read) whose packets now arrive on the
//     CPU of another slot (IncomingCpu, cpu_steer.h) is passed to that
//     slot's worker (conn_relay.h) with the requests it has left, unless
//     draining. Connections passed to this slot are served like accepted
//     ones, during a drain too; before Run() returns it takes (and serves)
//     whatever waits for it then.
//   * Accept errors follow AcceptBackoff (listener.h); one that says the
//     listening fd is unusable calls on_fatal (which begins the drain) and
//     makes Run() return false.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "frontend/accept_share.h"
#include "frontend/conn_relay.h"
#include "frontend/conn_stream.h"
#include "frontend/handlers.h"
#include "frontend/listener.h"

namespace forge::frontend {

inline constexpr std::chrono::milliseconds kDrainIdleGrace{1000};
// The most a drain spends accepting what the kernel had queued.
inline constexpr std::chrono::milliseconds kDrainAcceptFor{5000};
// Input held per connection in the loop: a larger head is handed off.
inline constexpr std::size_t kLoopInputBytes = 4096;

// What a handed-off connection brings to its thread.
struct Carried {
  std::string bytes;  // received, not yet consumed
  std::size_t left;   // requests the connection may still make
  // The deadline of the request whose first bytes are in `bytes`.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct LoopOptions {
  int listen_fd = -1;
  int drain_fd = -1;  // eventfd, readable once draining
  std::size_t keep_alive_max = 1000;
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::seconds read_timeout{5};
  SendLimits send;
  std::string keep_alive_value;  // the Keep-Alive header's value
  bool fast_path = true;         // false: every connection is handed off
  // The workers' connection counts (nullptr: a lone server, no sharing)
  // and this worker's slot in them.
  AcceptShare* share = nullptr;
  std::size_t share_slot = 0;
  CpuSeat seat;  // where connections move to follow their CPU
};

// Requests between two looks at the CPU a connection's packets arrive on.
inline constexpr std::size_t kCpuCheckEvery = 64;

// How long a worker holding more than its share of connections leaves a
// waiting connection to the others before it takes it anyway.
inline constexpr std::chrono::milliseconds kAcceptDeferFor{5};

class EventLoop {
 public:
  using HandOff = std::function<void(int fd, Carried carried)>;
  EventLoop(LoopOptions options, const Router& router, HandOff hand_off,
            std::function<void()> on_fatal, const std::atomic<bool>& draining);
  ~EventLoop();  // closes the connections still here
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Serves until drained. False if the listening fd turned out unusable.
  [[nodiscard]] bool Run();

  // From a pool thread: takes back a handed-off connection that is idle
  // (no byte of a next request read), with `left` requests to go. False
  // once Run() has ended; the caller then keeps serving it.
  [[nodiscard]] bool Adopt(int fd, std::size_t left);

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn;
  enum class Accepted { kAgain, kEmpty, kPause, kFatal };

  void OnListener(Clock::time_point now);
  void OnAdopted(Clock::time_point now);
  // Takes the connections other workers passed to this slot.
  void OnRelayed(Clock::time_point now);
  // Passes idle `c` to the worker of the CPU its packets arrive on, when
  // that is another slot's; true if it left (c is gone).
  [[nodiscard]] bool MoveToItsCpu(Conn& c);
  // Starts watching connection `fd` with `left` requests to go.
  Conn* Watch(int fd, std::size_t left);
  Accepted AcceptOne(Clock::time_point now, std::chrono::milliseconds* pause);
  void BeginDrain(Clock::time_point now);
  void AcceptQueued();
  void OnConn(Conn& c, std::uint32_t events, Clock::time_point now);
  [[nodiscard]] bool Receive(Conn& c, Clock::time_point now);
  void Answer(Conn& c, Clock::time_point now);
  [[nodiscard]] bool Send(Conn& c, Clock::time_point now);
  // After an event: close, hand off, or wait for the next one.
  void Settle(Conn& c, Clock::time_point now);
  void Expire(Clock::time_point now);
  void WatchOutput(Conn& c, bool out);
  // Stops watching `c` and hands it off with what it read.
  void HandOffConn(Conn& c);
  // Makes `fd` blocking (SO_RCVTIMEO: read_timeout) and hands it off.
  void ToThread(int fd, Carried carried);
  void Close(Conn& c, bool reset);
  int WaitMillis(Clock::time_point now) const;
  void SetListening(bool on);
  // Counts one more or one less connection here (open_ and the share).
  void Opened();
  void Closed();

  LoopOptions options_;
  const Router& router_;
  HandOff hand_off_;
  std::function<void()> on_fatal_;
  const std::atomic<bool>& draining_;
  int epoll_fd_ = -1;
  int adopt_fd_ = -1;  // eventfd: Adopt() queued a connection
  std::mutex adopt_mu_;
  std::vector<std::pair<int, std::size_t>> adopted_;  // fd, left
  bool ended_ = false;                                // under adopt_mu_
  std::vector<std::unique_ptr<Conn>> conns_;          // by fd
  std::size_t open_ = 0;
  bool listening_ = false;
  bool drained_ = false;  // BeginDrain ran
  bool fatal_ = false;
  AcceptBackoff backoff_;
  std::optional<Clock::time_point> resume_accept_;    // after a pause
  std::optional<Clock::time_point> deferring_since_;  // left to others
  Clock::time_point next_expiry_ = Clock::time_point::max();
  Clock::time_point drain_until_ = Clock::time_point::max();  // idle grace
};

}  // namespace forge::frontend
