// tests/fuzz/fuzz_check.h — property checks shared by the fuzz targets.
//
// Contract
//   * FUZZ_CHECK(cond, detail) prints the failed condition and `detail` to
//     stderr and aborts, which libFuzzer (and the corpus runner) report as
//     a crash with the input that caused it.
//   * OneLine / Printable are pure predicates.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace forge::fuzz {

[[noreturn]] inline void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz check failed: %s\n  detail: %s\n", what,
               detail.c_str());
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                       \
  do {                                                 \
    if (!(cond)) ::forge::fuzz::Fail(#cond, (detail)); \
  } while (false)

// No line break anywhere (a message for people is one line).
inline bool OneLine(std::string_view s) {
  return s.find('\n') == std::string_view::npos &&
         s.find('\r') == std::string_view::npos;
}

// Only printable ASCII (echoed request text is sanitised).
inline bool Printable(std::string_view s) {
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7f) return false;
  }
  return true;
}

}  // namespace forge::fuzz
