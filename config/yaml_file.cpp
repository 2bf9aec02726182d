#include "config/yaml_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <vector>

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
    if (key.yml.empty()) continue;
    if (&key != &Keys().front()) out += ", ";
    out += key.yml;
  }
  return out + ", and " + std::string(kNamespacesKey) +
         " (in lower or upper case)";
}

std::string AllowedFields() {
  std::string out;
  for (std::string_view field : kNamespaceFields) {
    out += out.empty() ? "" : ", ";
    out += field;
  }
  return out + " (in lower or upper case)";
}

// The key's KeySpec::yml for `name` in any case (port, PORT, Port), or ""
// when no key has that name. The Go service's files write PORT.
std::string CanonicalKey(const std::string& name) {
  const std::string lower = ToLower(name);
  for (const KeySpec& key : Keys()) {
    if (key.yml == lower) return key.yml;
  }
  return "";
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

// The one document of the file (an empty file gives a null node). A
// second document ("---" after the first) would be silently ignored by
// YAML::Load: it is an error, naming the line where it starts.
YAML::Node Parse(std::string_view text, const std::string& path) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    FailAt("config.yml " + path + ":" + std::to_string(e.mark.line + 1) + ":" +
               std::to_string(e.mark.column + 1),
           "invalid YAML (" + Unquoted(Quote(e.msg)) + ")", kShape);
  }
  if (docs.size() > 1) {
    FailAt("config.yml " + path + ":" + std::to_string(Line(docs[1])),
           "a second YAML document starts here (after \"---\")",
           "one document: remove the \"---\" line and merge the keys");
  }
  return docs.empty() ? YAML::Node() : docs.front();
}

// A number of bytes of expanded values still allowed in the file.
struct Budget {
  std::size_t used = 0;
  std::string Take(const YAML::Node& value, const Lookup& lookup,
                   const std::string& where) {
    std::string out =
        Expand(value.Scalar(), lookup, where, kMaxExpandedBytes - used);
    used += out.size();
    return out;
  }
};

// The fields of one namespace (`invites: {key_length: 10}`).
std::map<std::string, YamlFile::Entry> NamespaceFields(const YamlFile& file,
                                                       const std::string& name,
                                                       const YAML::Node& node,
                                                       const Lookup& lookup,
                                                       Budget& budget) {
  std::map<std::string, YamlFile::Entry> fields;
  if (node.IsNull()) return fields;
  if (!node.IsMap()) {
    FailAt(file.Origin(Line(node)),
           "namespace " + name + " is not a map of fields",
           "for example: " + name +
               ": { key_length: 10, key_order: "
               "scrambled, pool_capacity: 4096 }");
  }
  for (const auto& kv : node) {
    const int line = Line(kv.first);
    const std::string field =
        ToLower(kv.first.IsScalar() ? kv.first.Scalar() : "");
    const auto known = std::find(std::begin(kNamespaceFields),
                                 std::end(kNamespaceFields), field);
    if (known == std::end(kNamespaceFields)) {
      FailAt(file.Origin(line),
             "namespace " + name + " has an unknown field " +
                 Quote(kv.first.IsScalar() ? kv.first.Scalar() : ""),
             AllowedFields());
    }
    if (fields.count(field) > 0) {
      FailAt(file.Origin(line),
             "namespace " + name + " sets " + field + " twice",
             "each field once");
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsScalar()) {
      FailAt(file.Origin(line),
             "namespace " + name + " field " + field + " is not a plain value",
             "one plain value per field");
    }
    fields[field] = {budget.Take(kv.second, lookup, file.Origin(line)), line};
  }
  return fields;
}

// `namespaces:` (see the contract in yaml_file.h).
void ReadNamespaces(YamlFile& file, const YAML::Node& node,
                    const Lookup& lookup, Budget& budget) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    FailAt(file.Origin(Line(node)),
           "namespaces is not a map (it declares namespaces; to choose "
           "which ones a broker serves, set NAMESPACES in the environment "
           "or --namespaces)",
           "namespaces: followed by lines \"  NAME: { key_length: N, "
           "key_order: WORD, pool_capacity: N }\"");
  }
  for (const auto& kv : node) {
    const int line = Line(kv.first);
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    for (const YamlFile::Namespace& seen : file.namespaces) {
      if (seen.name == name) {
        FailAt(file.Origin(line),
               "namespace " + Quote(name) +
                   " is declared again (first on "
                   "line " +
                   std::to_string(seen.line) + ")",
               "each namespace once");
      }
    }
    file.namespaces.push_back(
        {name, line, NamespaceFields(file, name, kv.second, lookup, budget)});
  }
}

}  // namespace

std::string YamlFile::Origin(int line) const {
  return "config.yml " + path + ":" + std::to_string(line);
}

std::string Expand(std::string_view value, const Lookup& lookup,
                   std::string_view where, std::size_t limit) {
  std::string out;
  const auto grow = [&](std::string_view more) {
    if (out.size() + more.size() > limit) {
      FailAt(where,
             limit < kMaxExpandedBytes
                 ? "the values of the file add up to more than " +
                       std::to_string(kMaxExpandedBytes) +
                       " bytes after ${VAR} expansion"
                 : "the value is longer than " + std::to_string(limit) +
                       " bytes after ${VAR} expansion",
             "at most " + std::to_string(kMaxExpandedBytes) +
                 " bytes per value and per file after expansion");
    }
    out += more;
  };
  for (std::size_t i = 0; i < value.size();) {
    if (value.substr(i, 3) == "$${") {
      grow("${");
      i += 3;
      continue;
    }
    if (value.substr(i, 2) != "${") {
      grow(value.substr(i++, 1));
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
      grow(body.substr(sep + 2));
    } else if (!found) {
      FailAt(where, "${" + name + "} is not set in the environment or .env",
             "set " + name + ", or write ${" + name + ":-default}");
    } else {
      grow(*found);
    }
    i = close + 1;
  }
  return out;
}

YamlFile ParseYamlFile(const std::string& text, const std::string& path,
                       const Lookup& lookup) {
  YamlFile file;
  file.path = path;
  const YAML::Node root = Parse(StripBom(text), path);
  if (root.IsNull()) return file;
  if (!root.IsMap()) {
    FailAt(file.Origin(Line(root)), "the document is not a map", kShape);
  }
  struct Seen {
    int line;
    std::string spelled;
  };
  std::map<std::string, Seen> seen;  // by canonical key, null values too
  Budget budget;                     // bytes of all values after expansion
  for (const auto& kv : root) {
    const int line = Line(kv.first);
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const bool namespaces = ToLower(name) == kNamespacesKey;
    const std::string key =
        namespaces ? std::string(kNamespacesKey) : CanonicalKey(name);
    if (key.empty()) {
      FailAt(file.Origin(line), "unknown key " + Quote(name), AllowedKeys());
    }
    if (const auto [it, fresh] = seen.emplace(key, Seen{line, name}); !fresh) {
      FailAt(file.Origin(line),
             "key " + name + " is set again (first on line " +
                 std::to_string(it->second.line) + " as " + it->second.spelled +
                 ")",
             "each key once, in lower or upper case");
    }
    if (namespaces) {
      ReadNamespaces(file, kv.second, lookup, budget);
      continue;
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsScalar()) {
      FailAt(file.Origin(line),
             "key " + name + " has " + Kind(kv.second) + " as its value",
             "one plain value per key");
    }
    file.entries[key] = {budget.Take(kv.second, lookup, file.Origin(line)),
                         line};
  }
  return file;
}

std::optional<std::string> PeekValue(const std::string& text,
                                     const std::string& yml_key,
                                     const Lookup& lookup) {
  try {
    const YAML::Node root = YAML::Load(std::string(StripBom(text)));
    if (!root.IsMap()) return std::nullopt;
    for (const auto& kv : root) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar() ||
          CanonicalKey(kv.first.Scalar()) != yml_key) {
        continue;
      }
      return Expand(kv.second.Scalar(), lookup, "", kMaxExpandedBytes);
    }
  } catch (const std::exception&) {
    // Best effort: a file that cannot be read this way says nothing.
  }
  return std::nullopt;
}

}  // namespace forge::config::internal
