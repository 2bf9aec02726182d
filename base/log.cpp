// base/log.cpp — see log.h.
#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"

namespace forge::log {
namespace {

struct State {
  std::string program = "forge";
  bool debug = false;
  Format format = Format::kText;
};

// Replaced whole by Init, never modified: readers need no lock, and no
// lock can be left held across fork() in a child.
std::atomic<const State*> g_state{nullptr};

const State& Current() {
  static const State fallback;
  // acquire: pairs with Init's release store, so the State is fully built.
  const State* s = g_state.load(std::memory_order_acquire);
  return s != nullptr ? *s : fallback;
}

// RFC 3339, UTC, milliseconds: 2026-11-26T10:00:00.123Z.
std::string Timestamp() {
  const std::uint64_t ns = base::UnixNowNs();
  const auto sec = static_cast<std::time_t>(ns / 1'000'000'000u);
  tm utc{};
  gmtime_r(&sec, &utc);
  char buf[40];
  const std::size_t n =
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ",
                static_cast<int>(ns % 1'000'000'000u / 1'000'000u));
  return buf;
}

void AppendHex(unsigned char byte, const char* prefix, std::string& out) {
  char hex[12];
  std::snprintf(hex, sizeof hex, "%s%02x", prefix, byte);
  out += hex;
}

// A UTF-8 lead byte: sequence length and the allowed range of the second
// byte (rules out overlong forms, surrogates and code points > U+10FFFF).
struct Utf8Lead {
  std::size_t len;
  unsigned char lo, hi;
};

Utf8Lead LeadOf(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const Utf8Lead lead = LeadOf(static_cast<unsigned char>(s[i]));
  if (lead.len == 0 || i + lead.len > s.size()) return 0;
  for (std::size_t k = 1; k < lead.len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    const unsigned char lo = k == 1 ? lead.lo : 0x80;
    const unsigned char hi = k == 1 ? lead.hi : 0xBF;
    if (c < lo || c > hi) return 0;
  }
  return lead.len;
}

// JSON string body: escapes quotes, backslashes and control characters;
// invalid UTF-8 becomes U+FFFD so the line is always valid JSON.
std::string JsonEscape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      const std::size_t len = Utf8Length(s, i);
      out += len > 0 ? s.substr(i, len) : "\\ufffd";
      i += len > 0 ? len : 1;
      continue;
    }
    switch (b) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == 0x7f)
          AppendHex(b, "\\u00", out);
        else
          out += static_cast<char>(b);
    }
    ++i;
  }
  return out;
}

// Text lines: control characters escaped so one event stays one line.
std::string TextEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (b < 0x20 || b == 0x7f)
      AppendHex(b, "\\x", out);
    else
      out += c;
  }
  return out;
}

const char* TextLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO ";
    case Level::kWarn:
      return "WARN ";
    case Level::kError:
      return "ERROR";
  }
  return "?    ";
}

const char* JsonLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}

std::string LineOf(const State& s, Level level, std::string_view message) {
  return FormatLine(s.program, s.format, level, message);
}

// One write(2) for the whole line; loops only on a partial write or EINTR.
void WriteAll(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n =
        ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      return;  // stderr closed or broken: logging must never crash us
  }
}

}  // namespace

std::string FormatLine(std::string_view program, Format format, Level level,
                       std::string_view message) {
  const std::string pid = std::to_string(::getpid());  // changes after fork
  if (format == Format::kJson) {
    return "{\"ts\":\"" + Timestamp() + "\",\"level\":\"" + JsonLevel(level) +
           "\",\"prog\":\"" + JsonEscape(program) + "\",\"pid\":" + pid +
           ",\"msg\":\"" + JsonEscape(message) + "\"}\n";
  }
  return Timestamp() + " " + TextLevel(level) + " " + TextEscape(program) +
         "[" + pid + "] " + TextEscape(message) + "\n";
}

void Init(std::string_view program, Format format, bool debug) {
  // Every State ever published stays alive (a concurrent Write may still
  // read an old one); Init is rare, so this costs a few bytes. Only Init
  // takes the mutex, never Write, so fork() cannot strand a logger.
  static std::mutex mu;
  static std::vector<std::unique_ptr<const State>> states;
  const std::lock_guard lock(mu);
  states.push_back(std::make_unique<const State>(
      State{std::string(program), debug, format}));
  // release: a Write that sees the pointer sees the built State.
  g_state.store(states.back().get(), std::memory_order_release);
}

bool DebugEnabled() { return Current().debug; }

void Write(Level level, std::string_view message) {
  const State& s = Current();
  if (level == Level::kDebug && !s.debug) return;
  WriteAll(LineOf(s, level, message));
}

}  // namespace forge::log
