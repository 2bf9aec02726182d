// broker/range_sizer.h — how many numbers the broker's next reservation
// asks the store for (issue 18 §3: no RANGE_SIZE to tune).
//
// Contract
//   * Fixed (RANGE_SIZE set): every reservation asks for that size, as
//     before issue 18.
//   * Automatic (RANGE_SIZE unset or auto): the size aims at one
//     reservation every kTargetInterval at the demand the broker sees,
//     bounded by [min, max] (RANGE_SIZE_MIN, RANGE_SIZE_MAX). Demand is
//     the keys consumers took between two asks (at least kMinWindow
//     apart: a shorter window keeps the size) divided by the time between
//     them; the caller passes both (a running total of keys taken, and
//     the time), so the policy is a pure function of its inputs and tests
//     drive it with a fake clock.
//   * Per reservation the size grows by at most kMaxGrowth and shrinks by
//     at most half, so one burst or one quiet moment cannot swing it from
//     one bound to the other; the first size is min.
//   * Large ranges cost nothing at a stop (zero-waste: the unused rest is
//     returned), so the policy errs on the large side.
//   * Not thread-safe (the broker's loop thread owns it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace forge::broker {

inline constexpr std::chrono::seconds kTargetInterval{2};
inline constexpr std::uint64_t kMaxGrowth = 8;
inline constexpr std::chrono::milliseconds kMinWindow{10};

class RangeSizer {
 public:
  using Clock = std::chrono::steady_clock;

  static RangeSizer Fixed(std::uint64_t size);
  // 1 <= min <= max (the config loader checks it).
  static RangeSizer Automatic(std::uint64_t min, std::uint64_t max);

  bool automatic() const { return automatic_; }
  // The size asked for by the latest granted reservation (min, or the
  // fixed size, before the first).
  std::uint64_t current() const { return current_; }

  // The size to ask for now; `taken` is the running total of keys taken by
  // consumers. Ends the demand window when it is kMinWindow long.
  std::uint64_t Next(Clock::time_point now, std::uint64_t taken);
  // A reservation that asked for `asked` numbers (Next's answer; the store
  // may grant fewer) was granted: the size from now on.
  void Granted(std::uint64_t asked);

 private:
  RangeSizer(std::uint64_t min, std::uint64_t max, bool automatic)
      : min_(min),
        max_(max),
        automatic_(automatic),
        current_(min),
        proposed_(min) {}

  std::uint64_t min_;
  std::uint64_t max_;
  bool automatic_;
  std::uint64_t current_;
  struct Sample {
    Clock::time_point at;
    std::uint64_t taken;
  };
  std::optional<Sample> window_;  // where the demand window began
  std::uint64_t proposed_;        // Next's answer for the open window
};

}  // namespace forge::broker
