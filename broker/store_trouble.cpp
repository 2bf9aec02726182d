// broker/store_trouble.cpp — see store_trouble.h for the contract.
#include "broker/store_trouble.h"

namespace forge::broker {
namespace {

std::string Seconds(StoreTrouble::Clock::duration d) {
  return std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(d).count()) +
         " s";
}

std::string Attempts(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " failed attempt" : " failed attempts");
}

}  // namespace

std::optional<std::string> StoreTrouble::Failed(Clock::time_point now,
                                                std::string_view error,
                                                std::string_view detail) {
  ++failures_;
  ++since_last_line_;
  std::string head;
  if (!active_) {
    active_ = true;
    started_ = now;
    head = what_;
  } else if (now - last_line_ >= every_) {
    head = what_ + " for " + Seconds(now - started_) + ", " +
           Attempts(since_last_line_) + " since the last line";
  } else {
    return std::nullopt;
  }
  last_line_ = now;
  since_last_line_ = 0;
  return head + " (" + std::string(detail) + "): " + std::string(error);
}

std::optional<std::string> StoreTrouble::Recovered(Clock::time_point now,
                                                   std::string_view recovered) {
  if (!active_) return std::nullopt;
  active_ = false;
  const std::uint64_t failures = failures_;
  failures_ = 0;
  since_last_line_ = 0;
  return std::string(recovered) + " after " + Seconds(now - started_) +
         " and " + Attempts(failures);
}

}  // namespace forge::broker
