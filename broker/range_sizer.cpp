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

std::uint64_t RangeSizer::Next(Clock::time_point now,
                               std::uint64_t taken) const {
  if (!automatic_ || !last_grant_) return current_;
  const double seconds =
      std::chrono::duration<double>(now - last_grant_->at).count();
  const std::uint64_t keys = taken - std::min(taken, last_grant_->taken);
  const double rate = seconds > 0 ? static_cast<double>(keys) / seconds : 0;
  const double wanted =
      rate * std::chrono::duration<double>(kTargetInterval).count();
  const double lowest = static_cast<double>(current_ / 2);
  const double highest = static_cast<double>(current_) * kMaxGrowth;
  const double size = std::clamp(wanted, lowest, highest);
  return std::clamp(static_cast<std::uint64_t>(size), min_, max_);
}

void RangeSizer::Granted(Clock::time_point now, std::uint64_t taken,
                         std::uint64_t asked) {
  if (automatic_) current_ = std::clamp(asked, min_, max_);
  last_grant_ = Sample{now, taken};
}

}  // namespace forge::broker
