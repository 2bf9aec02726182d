// stats/text.cpp — see text.h.
#include "stats/text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>

namespace forge::stats {
namespace {

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string Strftime(std::int64_t unix_s, const char* fmt) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return "?";
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof(buf), fmt, &tm);
  return n == 0 ? "?" : std::string(buf, n);
}

}  // namespace

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string ByteSize(std::uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  const std::string exact = std::to_string(bytes) + " bytes";
  if (bytes < 1024) return exact;
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  for (; value >= 1024.0 && unit + 1 < std::size(kUnits); ++unit) {
    value /= 1024.0;
  }
  return Fixed(value, 1) + " " + kUnits[unit] + " (" + exact + ")";
}

std::string Significant(double v) { return Format("%.9g", v); }

std::string Percent(double fraction) {
  return Format("%.3g", 100.0 * fraction) + "%";
}

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string FillBar(double fraction, int width) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::floor(f * width));
  const double tenths = std::floor(f * 1000.0) / 10.0;
  // Appended, not `"[" + std::string(...)`: GCC 12 warns (-Wrestrict, a
  // false positive) on a literal prepended to a temporary string.
  std::string bar = "[";
  bar.append(static_cast<std::size_t>(filled), '#')
      .append(static_cast<std::size_t>(width - filled), '.')
      .append("] ");
  const std::string pct = Fixed(tenths, 1) + "%";
  return bar + std::string(pct.size() < 6 ? 6 - pct.size() : 0, ' ') + pct;
}

std::string HumanDuration(double seconds) {
  constexpr double kMinute = 60, kHour = 3600, kDay = 86400;
  constexpr double kYear = 365.25 * kDay;
  if (seconds < kMinute) return Fixed(seconds, 0) + " s";
  if (seconds < kHour) return Fixed(seconds / kMinute, 1) + " min";
  if (seconds < 2 * kDay) return Fixed(seconds / kHour, 1) + " h";
  if (seconds < kYear) return Fixed(seconds / kDay, 1) + " days";
  const double years = seconds / kYear;
  return Fixed(years, years < 100 ? 1 : 0) + " years";
}

std::string UtcDate(std::int64_t unix_s) {
  return Strftime(unix_s, "%Y-%m-%d %H:%M UTC");
}

std::string UtcIso(std::int64_t unix_s) {
  return Strftime(unix_s, "%Y-%m-%dT%H:%M:%SZ");
}

std::optional<std::uint64_t> ParseDecimal(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() ? value : UINT64_MAX;
}

}  // namespace forge::stats
