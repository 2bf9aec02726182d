// config/namespaces.cpp — see namespaces.h.
#include "config/namespaces.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "base/names.h"
#include "config/internal.h"
#include "config/keys.h"

namespace forge::config::internal {
namespace {

const KeySpec& KeyNamed(std::string_view env_name) {
  for (const KeySpec& key : Keys()) {
    if (key.env == env_name) return key;
  }
  FORGE_CHECK(false, "no config key " + std::string(env_name));
}

// The flat key whose rule a namespace field follows.
const KeySpec& RuleOf(std::string_view field) {
  if (field == "key_length") return KeyNamed("KEY_LENGTH");
  if (field == "key_order") return KeyNamed("KEY_ORDER");
  return KeyNamed("POOL_CAPACITY");
}

NamespaceDecl Declare(const YamlFile& yml, const YamlFile::Namespace& ns) {
  const std::string where = yml.Origin(ns.line);
  if (ns.name == base::kDefaultNamespace) {
    FailAt(where, "namespace default is declared under namespaces",
           "configure default with KEY_LENGTH, KEY_ORDER and POOL_CAPACITY; "
           "declare only other namespaces here");
  }
  if (!base::IsNamespaceName(ns.name)) {
    FailAt(where, "namespace name " + Quote(ns.name) + " is not allowed",
           base::kNamespaceRule);
  }
  Config scratch;
  scratch.pool_capacity = 0;  // 0: NS_POOL_CAPACITY
  for (const auto& [field, entry] : ns.fields) {
    const KeySpec& rule = RuleOf(field);
    if (const Status s = rule.apply(entry.value, scratch); !s.ok()) {
      FailAt(yml.Origin(entry.line),
             "namespace " + ns.name + " " + field + "=" + Quote(entry.value) +
                 " " + s.message(),
             rule.allowed);
    }
  }
  NamespaceDecl decl;
  decl.name = ns.name;
  decl.key_length = scratch.key_length;
  decl.key_order = scratch.key_order;
  decl.pool_capacity = scratch.pool_capacity;
  return decl;
}

ScopedToken ParseTokenLine(std::string_view line, const std::string& where) {
  const std::size_t space = line.find_first_of(" \t");
  const std::string_view token = line.substr(0, space);
  const std::string_view list =
      space == std::string_view::npos ? "" : Trim(line.substr(space));
  if (const Status s = CheckToken(token); !s.ok()) {
    FailAt(where, "the token " + s.message(),
           "lines \"TOKEN ns1,ns2\"; TOKEN of " + std::to_string(kTokenMin) +
               ".." + std::to_string(kTokenMax) +
               " printable ASCII characters without spaces");
  }
  ScopedToken scoped{std::string(token), {}};
  if (list.empty()) {
    FailAt(where, "the token has no namespaces",
           "lines \"TOKEN ns1,ns2\" (at least one namespace)");
  }
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string name(Trim(list.substr(start, comma - start)));
    if (!base::IsNamespaceName(name)) {
      FailAt(where, "namespace name " + Quote(name) + " is not allowed",
             base::kNamespaceRule);
    }
    scoped.namespaces.push_back(name);
    start = comma + 1;
  }
  return scoped;
}

}  // namespace

std::vector<NamespaceDecl> DeclaredNamespaces(const YamlFile& yml) {
  std::vector<NamespaceDecl> decls;
  for (const YamlFile::Namespace& ns : yml.namespaces) {
    decls.push_back(Declare(yml, ns));
  }
  return decls;
}

std::vector<ScopedToken> ReadScopedTokens(const std::string& path,
                                          const std::string& origin,
                                          const std::string& cwd,
                                          const std::string& auth_token) {
  const std::string file = JoinPath(cwd, path);
  const FileText text = ReadFile(file);
  if (text.status != FileText::Status::kOk) {
    FailValue("AUTH_TOKENS_FILE", path, origin,
              text.status == FileText::Status::kMissing
                  ? "names a file that does not exist (" + file + ")"
                  : "cannot be read (" + file + ": " + text.error + ")",
              "the path of a readable regular file of \"TOKEN ns1,ns2\" "
              "lines");
  }
  std::vector<ScopedToken> tokens;
  std::set<std::string> seen;
  const std::string_view all = StripBom(text.text);
  int number = 0;
  for (std::size_t start = 0; start < all.size();) {
    const std::size_t end = std::min(all.find('\n', start), all.size());
    const std::string_view line = Trim(all.substr(start, end - start));
    start = end + 1;
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const std::string where =
        "AUTH_TOKENS_FILE " + file + ":" + std::to_string(number);
    ScopedToken scoped = ParseTokenLine(line, where);
    if (!seen.insert(scoped.token).second) {
      FailAt(where, "this token is listed again", "each token on one line");
    }
    if (scoped.token == auth_token) {
      FailAt(where, "this token is AUTH_TOKEN, which reaches every namespace",
             "scoped tokens that differ from AUTH_TOKEN");
    }
    tokens.push_back(std::move(scoped));
  }
  if (tokens.empty()) {
    FailValue("AUTH_TOKENS_FILE", path, origin,
              "has no tokens (" + file + "), so it would protect nothing",
              "at least one \"TOKEN ns1,ns2\" line, or unset "
              "AUTH_TOKENS_FILE");
  }
  return tokens;
}

}  // namespace forge::config::internal
