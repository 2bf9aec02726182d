// frontend/maintain_schedule.h — when a worker's control thread next looks
// at its segments (worker.cpp).
//
// Contract
//   * A full Maintain (SegmentNamespaces::Maintain: damage checks, every
//     namespace) is due every kMaintainEvery, as before.
//   * While the default segment is detached (no broker yet, or its segment
//     was replaced), the default segment alone is retried every
//     kQuickAttachEvery in between, so a broker started next to the
//     frontend is attached within ~5 ms, not up to 150 ms later, before
//     the first request comes.
//   * The quick retries stop kQuickAttachFor after the segment was first
//     seen detached (a frontend with no broker for good costs one shm_open
//     per kMaintainEvery again, not 200 a second); attaching (or being
//     attached) starts the next detached spell afresh.
//   * Pure: the caller passes the clock, so tests use made-up times.
#pragma once

#include <chrono>
#include <optional>

namespace forge::frontend {

inline constexpr std::chrono::milliseconds kMaintainEvery{150};
inline constexpr std::chrono::milliseconds kQuickAttachEvery{5};
inline constexpr std::chrono::milliseconds kQuickAttachFor{2000};

class MaintainSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  struct Step {
    Clock::time_point at;  // when to run it
    bool full;             // a full Maintain; false: the default segment only
  };

  // A full Maintain ran at `now` (the worker's first, before serving).
  explicit MaintainSchedule(Clock::time_point now) : next_full_(now) {}

  // The step handed out last (or the first full one) ran at `now` and left
  // the default segment `attached` or not: what to run next, and when.
  [[nodiscard]] Step After(bool attached, Clock::time_point now);

 private:
  Clock::time_point next_full_;  // when the last full Maintain is due again
  bool last_full_ = true;        // what the step handed out last was
  std::optional<Clock::time_point> detached_since_;
};

}  // namespace forge::frontend
