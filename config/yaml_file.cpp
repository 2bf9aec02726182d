#include "config/yaml_file.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "config/internal.h"
#include "config/keys.h"

namespace forge::config::internal {
namespace {

constexpr std::string_view kShape = "a flat map of \"key: value\" lines";
constexpr std::string_view kReference =
    "${NAME} or ${NAME:-default}, NAME of letters, digits and _";

std::string AllowedKeys() {
  std::string out = "the keys ";
  for (const KeySpec& key : Keys()) {
    if (&key != &Keys().front()) out += ", ";
    out += key.yml;
  }
  return out;
}

bool IsKnownKey(const std::string& name) {
  for (const KeySpec& key : Keys()) {
    if (key.yml == name) return true;
  }
  return false;
}

// A hint when the key is known in another case, e.g. PORT for port.
std::string UnknownKey(const std::string& name) {
  std::string what = "unknown key " + Quote(name);
  for (const KeySpec& key : Keys()) {
    if (key.env == name) what += " (keys are lower case: " + key.yml + ")";
  }
  return what;
}

int Line(const YAML::Node& node) { return node.Mark().line + 1; }

const char* Kind(const YAML::Node& node) {
  return node.IsSequence() ? "a list" : "a map";
}

// yaml-cpp's messages may quote a raw byte of the input (a NUL, a line
// break): escaped, minus Quote's quotes, they stay one printable line.
std::string Unquoted(const std::string& quoted) {
  return quoted.substr(1, quoted.size() - 2);
}

YAML::Node Parse(const std::string& text, const std::string& path) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    FailAt("config.yml " + path + ":" + std::to_string(e.mark.line + 1) + ":" +
               std::to_string(e.mark.column + 1),
           "invalid YAML (" + Unquoted(Quote(e.msg)) + ")", kShape);
  }
}

}  // namespace

std::string YamlFile::Origin(int line) const {
  return "config.yml " + path + ":" + std::to_string(line);
}

std::string Expand(std::string_view value, const Lookup& lookup,
                   std::string_view where) {
  std::string out;
  for (std::size_t i = 0; i < value.size();) {
    if (value.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (value.substr(i, 2) != "${") {
      out += value[i++];
      continue;
    }
    const auto close = value.find('}', i + 2);
    if (close == std::string_view::npos) {
      FailAt(where, "unterminated \"${\" in " + Quote(value), kReference);
    }
    const std::string_view body = value.substr(i + 2, close - i - 2);
    const auto sep = body.find(":-");
    const std::string name(body.substr(0, sep));
    if (!IsVarName(name)) {
      FailAt(where,
             "bad variable reference " + Quote(value.substr(i, close - i + 1)),
             kReference);
    }
    const std::optional<std::string> found = lookup(name);
    if (sep != std::string_view::npos && (!found || found->empty())) {
      out += body.substr(sep + 2);
    } else if (!found) {
      FailAt(where, "${" + name + "} is not set in the environment or .env",
             "set " + name + ", or write ${" + name + ":-default}");
    } else {
      out += *found;
    }
    i = close + 1;
  }
  return out;
}

YamlFile ParseYamlFile(const std::string& text, const std::string& path,
                       const Lookup& lookup) {
  YamlFile file;
  file.path = path;
  const YAML::Node root = Parse(text, path);
  if (root.IsNull()) return file;
  if (!root.IsMap()) {
    FailAt(file.Origin(Line(root)), "the document is not a map", kShape);
  }
  std::map<std::string, int> seen;  // key -> line, null values included
  for (const auto& kv : root) {
    const int line = Line(kv.first);
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (!IsKnownKey(name)) {
      FailAt(file.Origin(line), UnknownKey(name), AllowedKeys());
    }
    if (const auto [it, fresh] = seen.emplace(name, line); !fresh) {
      FailAt(file.Origin(line),
             "key " + name + " is set again (first on line " +
                 std::to_string(it->second) + ")",
             "each key once");
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsScalar()) {
      FailAt(file.Origin(line),
             "key " + name + " has " + Kind(kv.second) + " as its value",
             "one plain value per key");
    }
    file.entries[name] = {Expand(kv.second.Scalar(), lookup, file.Origin(line)),
                          line};
  }
  return file;
}

}  // namespace forge::config::internal
