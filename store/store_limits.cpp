// store/store_limits.cpp — see store_limits.h for the contract.
#include "store/store_limits.h"

#include <algorithm>

namespace forge::store {

using std::chrono::milliseconds;

bool CallClock::Stopping() const {
  // relaxed: a flag set by a signal handler; nothing is read through it.
  return limits_.stop != nullptr &&
         limits_.stop->load(std::memory_order_relaxed);
}

void CallClock::Begin(milliseconds allowed) {
  const Clock::time_point now = Clock::now();
  allowed_ = allowed;
  deadline_ = now + allowed;
  interrupted_ = false;
  stop_at_begin_ = Stopping();
  if (stop_at_begin_ && !stop_seen_) stop_seen_ = now;
}

milliseconds CallClock::Left() {
  if (limits_.on_wait) limits_.on_wait();
  const Clock::time_point now = Clock::now();
  Clock::time_point end = deadline_;
  if (Stopping()) {
    if (!stop_seen_) stop_seen_ = now;
    if (!stop_at_begin_) {
      interrupted_ = true;
      return milliseconds::zero();
    }
    end = std::min(end, *stop_seen_ + limits_.stop_budget);
  }
  if (now >= end) return milliseconds::zero();
  // Rounded up: a wait of less than 1 ms left is still a wait.
  return std::chrono::ceil<milliseconds>(end - now);
}

std::string CallClock::Why() const {
  if (interrupted_) return "interrupted: the broker is stopping";
  if (stop_at_begin_) {
    return "gave up: the broker is stopping and its " +
           std::to_string(limits_.stop_budget.count()) +
           " ms for the store are spent";
  }
  return "no answer within " + std::to_string(allowed_.count()) +
         " ms (STORE_TIMEOUT_MS=" + std::to_string(limits_.timeout.count()) +
         ")";
}

}  // namespace forge::store
