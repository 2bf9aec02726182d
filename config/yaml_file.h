// config/yaml_file.h — the config.yml reader (internal to config/).
//
// Contract
//   * The file is one YAML document, a flat map of known keys to scalars;
//     an empty document sets nothing. A key may be written in lower or
//     upper case (port, PORT: the Go service's files use PORT); entries
//     are stored under KeySpec::yml. Unknown keys, a key given twice (in
//     any spelling), nested values, a second document and YAML syntax
//     errors throw ConfigError naming file:line. A UTF-8 byte order mark
//     at the start is skipped.
//   * A null value (`port:` or `port: ~`) means "not set in this file".
//   * One key is not flat: `namespaces` (any case) is a map of namespace
//     names to maps of their fields (kNamespaceFields, lower or upper
//     case; null or {} for all defaults), kept in YamlFile::namespaces in
//     file order with ${VAR} expanded. Names and values are checked by the
//     loader (config/namespaces.h); the shape, unknown fields and repeats
//     are errors here.
//   * ${NAME} and ${NAME:-default} in values are replaced from `lookup`
//     (the default also applies when NAME is empty); `$${` is a literal
//     "${". An unset NAME without a default throws ConfigError naming the
//     variable, file and line. Expansion is done once, never recursively.
//   * A value longer than kMaxExpandedBytes after expansion, or values
//     adding up to more than that in one file, throw ConfigError before
//     the memory is taken (10,000 references to a 100 KB variable stop
//     after the first megabyte).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forge::config::internal {

using Lookup = std::function<std::optional<std::string>(const std::string&)>;

struct YamlFile {
  struct Entry {
    std::string value;  // after ${VAR} expansion
    int line = 0;
  };
  std::string path;
  std::map<std::string, Entry> entries;  // by yml key; null values absent
  struct Namespace {
    std::string name;
    int line = 0;
    std::map<std::string, Entry> fields;  // by lower-case field name
  };
  std::vector<Namespace> namespaces;  // `namespaces:`, in file order

  // "config.yml /x/config.yml:3" for messages.
  std::string Origin(int line) const;
};

inline constexpr std::size_t kMaxExpandedBytes = 1 << 20;
inline constexpr std::string_view kNamespacesKey = "namespaces";
// The fields of one namespace under `namespaces:`.
inline constexpr std::string_view kNamespaceFields[] = {
    "key_length", "key_order", "pool_capacity", "alphabet",
    "check",      "prefix",    "blocklist"};

YamlFile ParseYamlFile(const std::string& text, const std::string& path,
                       const Lookup& lookup);

// Expands ${...} in `value`; `where` names file:line for errors. Throws
// ConfigError when the result would be longer than `limit` bytes.
std::string Expand(std::string_view value, const Lookup& lookup,
                   std::string_view where,
                   std::size_t limit = kMaxExpandedBytes);

// Best effort, never throws: the expanded value of `yml_key` (any case)
// in `text`, or nullopt when the file has none or cannot be read. For
// choosing the format of an error message about a file that failed.
std::optional<std::string> PeekValue(const std::string& text,
                                     const std::string& yml_key,
                                     const Lookup& lookup);

}  // namespace forge::config::internal
