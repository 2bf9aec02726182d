// ctl/stats_command.h — `forge-ctl stats`: one snapshot (with rates over a
// short interval) or a view refreshed until Ctrl-C (--watch).
//
// Contract
//   * Read-only: the segment is attached as a shm::ReadOnlySegment.
//   * Namespaces: every namespace served under SHM_NAME (its segment
//     exists: shm::ServedNamespaces) is read, "default" first, into one
//     Overview (stats.h). The default segment is attached by name as
//     before namespaces: its errors end the command (exit 1), except a
//     missing one while other namespaces are served; another namespace
//     whose segment cannot be read is shown with the reason.
//   * One-shot: reads a snapshot, waits `interval` (0: no rates), reads
//     again and prints the second one with the rates between them.
//   * Watch: prints a frame every `watch` period until SIGINT/SIGTERM, then
//     returns 0. The segment is re-attached for every frame, so a broker
//     restart is followed; rates are measured between consecutive frames
//     (the first frame has none). When stdout is a terminal each frame
//     redraws the screen in place (ANSI: cursor home, clear to end of line
//     and of screen); otherwise frames are written one after the other as
//     plain text (JSON: one object per line) with no escape codes.
//   * Exit codes: 0 ok, 1 no segment at all, or an unusable default one, at
//     start. Messages go to
//     stderr as one line.
#pragma once

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

namespace forge::ctl {

struct StatsOptions {
  std::string shm_name;
  bool json = false;
  std::chrono::milliseconds interval{1000};        // one-shot rate window
  std::optional<std::chrono::milliseconds> watch;  // refresh period
};

int RunStats(const StatsOptions& options, std::ostream& out);

}  // namespace forge::ctl
