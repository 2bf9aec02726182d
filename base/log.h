// base/log.h — one line per event, to stderr.
//
// Contract
//   * Format text: "2026-11-26T10:00:00.123Z INFO  forge-broker[123] msg";
//     json (LOG_FORMAT=json): {"ts":"…","level":"info","prog":"…",
//     "pid":123,"msg":"…"}. One write(2) per line, so lines from several
//     processes sharing stderr never interleave.
//   * Thread-safe. Debug lines are dropped unless DEBUG_ENABLED.
//   * Never on the request path unless DEBUG_ENABLED (request logging).
#pragma once

#include <string>
#include <string_view>

namespace forge::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };  // LOG_FORMAT

// Programs call it once their config is loaded (LOG_FORMAT, DEBUG_ENABLED);
// until then lines are text from "forge", debug off. May be called again.
void Init(std::string_view program, Format format, bool debug);

// The line Write would print for `program` in `format`, '\n' included;
// pure apart from the clock and getpid(). Lets a program print an error
// in the asked-for format before Init (a bad config).
std::string FormatLine(std::string_view program, Format format, Level level,
                       std::string_view message);
bool DebugEnabled();
void Write(Level level, std::string_view message);

inline void Debug(std::string_view m) {
  if (DebugEnabled()) Write(Level::kDebug, m);
}
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }

}  // namespace forge::log
