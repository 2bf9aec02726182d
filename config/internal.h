// config/internal.h — helpers shared by the config/*.cpp files only; not
// part of the public API (programs include config/config.h).
//
// Contract
//   * Every Fail* function throws ConfigError with a one-line message that
//     starts with "config: " and ends with "; allowed: <rule>".
//   * Pure functions of their arguments except ReadFile (reads the file).
#pragma once

#include <string>
#include <string_view>

namespace forge::config::internal {

// One raw value from one layer, with its origin for messages:
// "flag --port", "environment", ".env /x/.env:3", "config.yml /x/c.yml:4".
struct Raw {
  std::string value;
  std::string origin;
};

struct FileText {
  enum class Status { kOk, kMissing, kError };
  Status status = Status::kMissing;
  std::string text;   // the contents when kOk
  std::string error;  // strerror text when kError ("Is a directory")
};
// Reads a regular file of at most 1 MiB. Anything else is kError without
// blocking: a longer file, a directory, a FIFO (opened O_NONBLOCK, never
// read), a device such as /dev/zero, a socket.
FileText ReadFile(const std::string& path);

// `text` without a leading UTF-8 byte order mark (EF BB BF), which some
// editors write at the start of a file.
std::string_view StripBom(std::string_view text);

// `path` itself when absolute, else dir + "/" + path.
std::string JoinPath(const std::string& dir, const std::string& path);

// "value" in double quotes with \", \\, \n, \t, \r and \xNN escapes (and
// \ufeff for an invisible byte order mark), cut after 120 bytes with "…":
// safe to embed in a one-line message.
std::string Quote(std::string_view value);

// True for a shell variable name: [A-Za-z_][A-Za-z0-9_]*.
bool IsVarName(std::string_view name);

std::string_view Trim(std::string_view s);

// ASCII only (config words, keys, URL schemes): no locale.
bool IsDigit(char c);
char LowerAscii(char c);
std::string ToLower(std::string_view s);

// "config: <where>: <what>; allowed: <allowed>".
[[noreturn]] void FailAt(std::string_view where, std::string_view what,
                         std::string_view allowed);

// "config: KEY=\"value\" (from <origin>) <problem>; allowed: <allowed>".
// `shown_value` is printed as given (the caller masks secrets).
[[noreturn]] void FailValue(std::string_view key, std::string_view shown_value,
                            std::string_view origin, std::string_view problem,
                            std::string_view allowed);

}  // namespace forge::config::internal
