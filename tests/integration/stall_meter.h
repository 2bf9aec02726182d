// tests/integration/stall_meter.h — how long this machine left a ready
// thread waiting, measured while a test runs.
//
// Contract
//   * A thread wakes every kTick and records how late it woke. On a loaded
//     CI machine that lateness (CPU starvation, I/O stalls) delays every
//     process alike, so latency bounds can allow for it instead of guessing
//     a margin: a request slower than its bound PLUS the worst stall seen
//     was slow for a reason of its own.
//   * The tick is a measurement, not a synchronisation.
//   * Thread-safe: worst() may be read while it runs; Stop() (also run by
//     the destructor) joins the thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace forge::testing {

class StallMeter {
 public:
  static constexpr std::chrono::milliseconds kTick{5};

  StallMeter()
      : thread_([this] {
          using Clock = std::chrono::steady_clock;
          // acquire: pairs with Stop(); nothing else rides on the flag.
          while (!stop_.load(std::memory_order_acquire)) {
            const auto due = Clock::now() + kTick;
            std::this_thread::sleep_until(due);
            const auto late =
                std::chrono::duration_cast<std::chrono::microseconds>(
                    Clock::now() - due);
            // relaxed: a gauge with a single writer (this thread).
            worst_us_.store(
                std::max<long long>(worst_us_.load(std::memory_order_relaxed),
                                    late.count()),
                std::memory_order_relaxed);
          }
        }) {}
  ~StallMeter() { Stop(); }
  StallMeter(const StallMeter&) = delete;
  StallMeter& operator=(const StallMeter&) = delete;

  void Stop() {
    // release: ends the loop above.
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
  }

  // The longest a wake-up came late so far.
  std::chrono::microseconds worst() const {
    // relaxed: a gauge; see above.
    return std::chrono::microseconds(worst_us_.load(std::memory_order_relaxed));
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long long> worst_us_{0};
  std::thread thread_;  // last: starts after the fields it uses
};

}  // namespace forge::testing
