// config/yaml_file.h — the config.yml reader (internal to config/).
//
// Contract
//   * The document is a flat map of known keys (KeySpec::yml) to scalars;
//     an empty document sets nothing. Unknown or repeated keys, nested
//     values and YAML syntax errors throw ConfigError naming file:line.
//   * A null value (`port:` or `port: ~`) means "not set in this file".
//   * ${NAME} and ${NAME:-default} in values are replaced from `lookup`
//     (the default also applies when NAME is empty); `$${` is a literal
//     "${". An unset NAME without a default throws ConfigError naming the
//     variable, file and line. Expansion is done once, never recursively.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace forge::config::internal {

using Lookup = std::function<std::optional<std::string>(const std::string&)>;

struct YamlFile {
  struct Entry {
    std::string value;  // after ${VAR} expansion
    int line = 0;
  };
  std::string path;
  std::map<std::string, Entry> entries;  // by yml key; null values absent

  // "config.yml /x/config.yml:3" for messages.
  std::string Origin(int line) const;
};

YamlFile ParseYamlFile(const std::string& text, const std::string& path,
                       const Lookup& lookup);

// Expands ${...} in `value`; `where` names file:line for errors.
std::string Expand(std::string_view value, const Lookup& lookup,
                   std::string_view where);

}  // namespace forge::config::internal
