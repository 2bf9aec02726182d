// broker/range_sizer.cpp — see range_sizer.h for the contract.
#include "broker/range_sizer.h"

#include <algorithm>

namespace forge::broker {

RangeSizer RangeSizer::Fixed(std::uint64_t size) {
  return RangeSizer(size, size, false);
}

RangeSizer RangeSizer::Automatic(std::uint64_t min, std::uint64_t max) {
  return RangeSizer(min, std::max(min, max), true);
}

std::uint64_t RangeSizer::Next(Clock::time_point now, std::uint64_t taken) {
  if (!automatic_) return current_;
  if (!window_) {
    window_ = Sample{now, taken};
    return proposed_ = current_;
  }
  const Clock::duration span = now - window_->at;
  if (span < kMinWindow) return proposed_;  // too short to tell
  const double seconds = std::chrono::duration<double>(span).count();
  const std::uint64_t keys = taken - std::min(taken, window_->taken);
  window_ = Sample{now, taken};
  const double wanted = static_cast<double>(keys) / seconds *
                        std::chrono::duration<double>(kTargetInterval).count();
  const double size = std::clamp(wanted, static_cast<double>(current_ / 2),
                                 static_cast<double>(current_) * kMaxGrowth);
  proposed_ = std::clamp(static_cast<std::uint64_t>(size), min_, max_);
  return proposed_;
}

void RangeSizer::Granted(std::uint64_t asked) {
  if (automatic_) current_ = std::clamp(asked, min_, max_);
}

}  // namespace forge::broker
