// frontend/status.h — what GET /status and GET /status.json answer: the
// operator's page and the JSON it refreshes from.
//
// Contract
//   * kStatusHtml is frontend/status.html, compiled in at build time
//     (forge_embed_text): one self-contained page (inline CSS and JS, no
//     external asset) that polls /status.json every second. Edit the HTML
//     file, not generated code.
//   * StatusSource::Json answers exactly stats::FormatJson(Overview) of the
//     worker's SHM_NAME — what `forge-ctl stats --json` prints — read with
//     stats::ReadOverview. Rates (stats::AddRates) are measured against
//     the newest earlier Overview at least kRateWindow old that this
//     source kept; until one exists (the first calls after start) the
//     JSON has `"rates":null`. So two pollers a few milliseconds apart
//     still get rates over half a second or more, never a jumpy ratio.
//   * A segment that cannot be read (none yet, damaged): a failed Status
//     (kUnavailable) whose message says why in one line; the kept
//     Overviews are dropped (rates restart when it comes back), as in
//     `forge-ctl stats --watch`.
//   * Thread-safe: one mutex guards the kept Overviews (the reads of the
//     segment happen under it too; /status.json is not a hot route).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "stats/stats.h"

namespace forge::frontend {

extern const std::string_view kStatusHtml;  // frontend/status.html

inline constexpr std::chrono::milliseconds kRateWindow{500};

class StatusSource {
 public:
  // Reads the Overview at wall-clock time `now_unix_ns` (throws
  // shm::SegmentError as stats::ReadOverview does).
  using Reader = std::function<stats::Overview(std::uint64_t now_unix_ns)>;
  using Clock = std::function<std::uint64_t()>;  // Unix time, nanoseconds

  // SHM_NAME's namespaces, read with stats::ReadOverview at base::UnixNowNs.
  explicit StatusSource(std::string shm_name);
  // For tests: any reader and clock.
  StatusSource(Reader read, Clock clock);

  // stats::FormatJson of the Overview now, with rates when measurable.
  [[nodiscard]] Result<std::string> Json();

 private:
  struct Kept {
    stats::Overview overview;
    std::uint64_t at_ns = 0;
  };

  Reader read_;
  Clock clock_;
  std::mutex mu_;
  // The last Overview kept, and the one kept before it (always at least
  // kRateWindow older).
  std::optional<Kept> last_;
  std::optional<Kept> before_last_;
};

}  // namespace forge::frontend
