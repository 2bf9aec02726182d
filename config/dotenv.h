// config/dotenv.h — the .env reader (internal to config/).
//
// Contract
//   * Lines are KEY=VALUE, `# comments` and blank lines; an optional
//     leading `export `; VALUE may be 'single-quoted' (literal),
//     "double-quoted" (\n \t \r \" \\ escapes) or bare (a ` #` starts a
//     comment; surrounding blanks are trimmed).
//   * Any other line, or a key given twice, throws ConfigError naming
//     file:line. Every variable is kept, known key or not: unknown ones
//     only feed ${VAR} expansion in config.yml.
//   * A missing file is an empty DotEnv, not an error. A UTF-8 byte order
//     mark at the start is skipped. Names are case-sensitive (they are
//     environment variable names): PORT is the key, port only feeds
//     ${port}.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace forge::config::internal {

struct DotEnv {
  struct Entry {
    std::string value;
    int line = 0;
  };
  std::string path;
  std::map<std::string, Entry> entries;

  // ".env /x/.env:3" for messages.
  std::string Origin(int line) const;
};

DotEnv ParseDotEnv(std::string_view text, const std::string& path);
DotEnv ReadDotEnv(const std::string& path);

}  // namespace forge::config::internal
