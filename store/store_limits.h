// store/store_limits.h — how long one store call may wait, and the stop
// signal that cuts a wait short (STORE_TIMEOUT_MS, issue 10 item 2).
//
// Contract
//   * StoreLimits::timeout (STORE_TIMEOUT_MS) is what each store turns into
//     its own timeouts: PostgreSQL lock_timeout, statement_timeout and
//     idle_in_transaction_session_timeout per transaction (the client gives
//     up on a silent server after 2 × timeout for the whole call); the
//     SQLite busy timeout for the whole call.
//   * A CallClock is owned by one store object and used by one thread.
//     Begin(allowed) starts a public store call (open, Reserve, Return,
//     Next); Left() is how long that call may still wait:
//       - at most `allowed` after Begin;
//       - zero at once when *stop becomes true during a call that began
//         before it (a Reserve blocked when SIGTERM comes gives up now);
//       - for calls that begin once *stop is true (the broker giving its
//         numbers back on the way out), at most stop_budget after the
//         first moment this clock saw *stop true, across all those calls.
//     So a stopping broker spends at most about stop_budget in its store,
//     however the store is stuck.
//   * Why() says, in words for a log line, why Left() reached zero.
//   * on_wait, when set, is called on every Left(), i.e. about every 50 ms
//     while a call waits on the store (the broker refreshes its heartbeat
//     there: it is alive, only its store is slow). It runs on the store's
//     thread and must be cheap.
//   * `stop` is only read (relaxed: a flag set by a signal handler, with no
//     data behind it); it must outlive the store.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace forge::store {

struct StoreLimits {
  std::chrono::milliseconds timeout{2000};  // STORE_TIMEOUT_MS
  const std::atomic<bool>* stop = nullptr;  // SIGTERM/SIGINT flag, or none
  std::chrono::milliseconds stop_budget{1000};
  std::function<void()> on_wait;
};

class CallClock {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CallClock(StoreLimits limits) : limits_(limits) {}

  const StoreLimits& limits() const { return limits_; }

  // Starts a call that may wait `allowed` in all.
  void Begin(std::chrono::milliseconds allowed);
  // Time the current call may still wait; zero when it must give up now.
  [[nodiscard]] std::chrono::milliseconds Left();
  // Why the current call gave up (after Left() returned zero).
  std::string Why() const;

 private:
  bool Stopping() const;

  StoreLimits limits_;
  Clock::time_point deadline_{};
  std::chrono::milliseconds allowed_{0};
  bool stop_at_begin_ = false;
  bool interrupted_ = false;
  std::optional<Clock::time_point> stop_seen_;
};

}  // namespace forge::store
