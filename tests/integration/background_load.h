// tests/integration/background_load.h — RunChaosLoad on its own thread.
//
// Contract
//   * The load starts in the constructor and runs until Finish() (or the
//     destructor) sets its stop flag; Finish() joins and returns the
//     result. The destructor stops and joins too, so a test that fails
//     half-way never leaves a thread running (declare it after the
//     processes it loads, so it stops first).
//   * progress() is safe to read from the test thread while it runs.
#pragma once

#include <atomic>
#include <thread>

#include "tests/support/chaos_client.h"

namespace forge::testing {

class BackgroundLoad {
 public:
  explicit BackgroundLoad(ChaosLoadOptions options) : options_(options) {
    options_.stop = &stop_;
    options_.progress = &progress_;
    thread_ = std::thread([this] { result_ = RunChaosLoad(options_); });
  }
  ~BackgroundLoad() { Finish(); }
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  const ChaosProgress& progress() const { return progress_; }

  // Stops sending, waits for the requests in flight, returns the tallies.
  const ChaosLoadResult& Finish() {
    // release: the load threads' acquire loads see the flag; nothing else
    // is published through it.
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  ChaosLoadOptions options_;
  std::atomic<bool> stop_{false};
  ChaosProgress progress_;
  ChaosLoadResult result_;
  std::thread thread_;
};

}  // namespace forge::testing
