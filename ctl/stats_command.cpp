// ctl/stats_command.cpp — see stats_command.h.
#include "ctl/stats_command.h"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "base/signals.h"
#include "shm/segment.h"
#include "stats/stats.h"
#include "stats/text.h"

namespace forge::ctl {
namespace {

// ANSI sequences for the in-place view.
constexpr const char* kClearScreen = "\x1b[2J";
constexpr const char* kCursorHome = "\x1b[H";
constexpr const char* kClearToEol = "\x1b[K";
constexpr const char* kClearBelow = "\x1b[J";

// The one-line message for a segment that cannot be attached.
std::string AttachError(const std::string& shm_name,
                        const shm::SegmentError& e) {
  if (dynamic_cast<const shm::SegmentMissing*>(&e) != nullptr) {
    return stats::MissingSegmentMessage(shm_name);
  }
  return std::string("forge-ctl: ") + e.what();
}

std::string Render(const StatsOptions& o, const stats::Overview& view) {
  return o.json ? stats::FormatJson(view) : stats::FormatTable(view);
}

int OneShot(const StatsOptions& o, std::ostream& out) {
  stats::Overview view = stats::ReadOverview(o.shm_name, base::UnixNowNs());
  if (o.interval.count() > 0) {
    std::this_thread::sleep_for(o.interval);
    const stats::Overview before = std::move(view);
    view = stats::ReadOverview(o.shm_name, base::UnixNowNs());
    stats::AddRates(before, &view);
  }
  out << Render(o, view) << std::flush;
  return 0;
}

std::string WatchTitle(const StatsOptions& o, std::uint64_t now_ns) {
  const double period_s = static_cast<double>(o.watch->count()) / 1000.0;
  return "forge-ctl stats " + o.shm_name + "  " +
         stats::UtcIso(static_cast<std::int64_t>(now_ns / 1'000'000'000)) +
         "  every " + stats::Fixed(period_s, period_s < 1 ? 1 : 0) +
         " s (Ctrl-C to quit)\n\n";
}

// One frame: the stats (rates since `prev`), or the reason there are none.
std::string Frame(const StatsOptions& o, std::optional<stats::Overview>* prev) {
  const std::uint64_t now = base::UnixNowNs();
  const std::string title = o.json ? "" : WatchTitle(o, now);
  try {
    stats::Overview view = stats::ReadOverview(o.shm_name, now);
    if (*prev) stats::AddRates(**prev, &view);
    std::string text = title + Render(o, view);
    *prev = std::move(view);
    return text;
  } catch (const shm::SegmentError& e) {
    prev->reset();  // rates restart when the segment comes back
    return title + AttachError(o.shm_name, e) + "\n";
  }
}

// Redraws in place: home, each line cleared to its end, rest of screen
// cleared (no flicker from clearing the whole screen every time).
void DrawInPlace(const std::string& frame, bool first, std::ostream& out) {
  if (first) out << kClearScreen;
  out << kCursorHome;
  std::istringstream lines(frame);
  for (std::string line; std::getline(lines, line);) {
    out << line << kClearToEol << "\n";
  }
  out << kClearBelow;
}

int Watch(const StatsOptions& o, std::ostream& out) {
  // No segment at start is an error (exit 1), later only a frame.
  (void)stats::ReadOverview(o.shm_name, base::UnixNowNs());
  const bool tty = ::isatty(STDOUT_FILENO) == 1 && &out == &std::cout;
  const bool in_place = tty && !o.json;
  // Blocked between frames, taken in the wait: a Ctrl-C while a frame is
  // drawn ends the watch at once, never after a full extra period.
  Signals stop({SIGINT, SIGTERM}, Signals::Between::kBlocked);
  std::optional<stats::Overview> prev;
  for (bool first = true;; first = false) {
    const std::string frame = Frame(o, &prev);
    if (in_place) {
      DrawInPlace(frame, first, out);
    } else {
      out << (first || o.json ? "" : "\n") << frame;
    }
    out << std::flush;
    // A lost frame (full disk, closed stdout) ends the watch; main reports it.
    if (!out || stop.WaitFor(*o.watch) != 0) break;
  }
  return 0;
}

}  // namespace

int RunStats(const StatsOptions& options, std::ostream& out) {
  try {
    return options.watch ? Watch(options, out) : OneShot(options, out);
  } catch (const shm::SegmentError& e) {
    std::cerr << AttachError(options.shm_name, e) << "\n";
    return 1;
  }
}

}  // namespace forge::ctl
