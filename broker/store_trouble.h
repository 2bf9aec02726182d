// broker/store_trouble.h — the log lines of a run of transient store
// errors (full disk, a lock held elsewhere, a silent or unreachable
// server): one line when it starts, at most one per `every` while it
// lasts, one when it ends, instead of one per retry.
//
// Contract
//   * Failed(now, error, detail) is called after every failed attempt. It
//     returns the WARN line to log when a run starts
//       "<what> (<detail>): <error>"
//     and afterwards only once `every` has passed since the last line
//       "<what> for 61 s, 57 failed attempts since the last line
//        (<detail>): <latest error>";
//     otherwise nullopt (the attempt is only counted).
//   * Recovered(now, recovered) ends a run: it returns the INFO line
//       "<recovered> after 12 s and 9 failed attempts"
//     or nullopt when no run was going on.
//   * Times are passed in, so tests need no clock. One thread per object.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace forge::broker {

class StoreTrouble {
 public:
  using Clock = std::chrono::steady_clock;

  // what: "store error"; recovered (below): "store recovered".
  StoreTrouble(std::string what, std::chrono::milliseconds every)
      : what_(std::move(what)), every_(every) {}

  [[nodiscard]] std::optional<std::string> Failed(Clock::time_point now,
                                                  std::string_view error,
                                                  std::string_view detail);
  [[nodiscard]] std::optional<std::string> Recovered(
      Clock::time_point now, std::string_view recovered);
  bool active() const { return active_; }

 private:
  std::string what_;
  std::chrono::milliseconds every_;
  bool active_ = false;
  Clock::time_point started_{};
  Clock::time_point last_line_{};
  std::uint64_t failures_ = 0;         // in the whole run
  std::uint64_t since_last_line_ = 0;  // attempts not yet reported
};

}  // namespace forge::broker
