// stats/text.h — small text helpers shared by forge-ctl's renderings.
//
// Contract
//   * Pure functions, no locale dependence beyond the "C" number format
//     snprintf uses; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace forge::stats {

// "12.35" for (12.3456, 2).
std::string Fixed(double v, int digits);

// Nine significant digits ("4.83e-08"): a JSON number exact enough however
// small the value.
std::string Significant(double v);

// "0.5%", "4.83e-05%": three significant digits however small.
std::string Percent(double fraction);

// The value of a string of decimal digits; UINT64_MAX (outside every key
// space) when it has too many digits; nullopt when it is not digits.
std::optional<std::uint64_t> ParseDecimal(const std::string& text);

// A JSON string literal with quotes, backslashes and control characters
// escaped.
std::string JsonQuote(const std::string& text);

// "[##########..........]  52.0%": `width` cells, '#' for the filled part
// (rounded down, so a bar is full only when the ring is), then the
// percentage rounded down to 0.1.
std::string FillBar(double fraction, int width);

// "45 s", "12.5 min", "3.2 h", "4.0 days", "3.1 years".
std::string HumanDuration(double seconds);

// "1.3 MiB (1376256 bytes)", "512 bytes": memory sizes for a person.
std::string ByteSize(std::uint64_t bytes);

// "2031-04-05 12:00 UTC".
std::string UtcDate(std::int64_t unix_s);

// "2031-04-05T12:00:00Z" (ISO 8601, UTC).
std::string UtcIso(std::int64_t unix_s);

}  // namespace forge::stats
