// config/namespaces.cpp — see namespaces.h.
#include "config/namespaces.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "base/names.h"
#include "config/internal.h"
#include "config/keys.h"
#include "keys/alphabet.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"

namespace forge::config::internal {
namespace {

const KeySpec& KeyNamed(std::string_view env_name) {
  for (const KeySpec& key : Keys()) {
    if (key.env == env_name) return key;
  }
  FORGE_CHECK(false, "no config key " + std::string(env_name));
}

// The fields that follow the rule of the flat key they mirror.
constexpr std::pair<std::string_view, std::string_view> kFlatRules[] = {
    {"key_order", "KEY_ORDER"},
    {"pool_capacity", "POOL_CAPACITY"},
};

// One field of a namespace being declared, for its messages.
class Fields {
 public:
  Fields(const YamlFile& yml, const YamlFile::Namespace& ns)
      : yml_(yml), ns_(ns) {}

  // The field's entry, or nullptr when it is not set.
  const YamlFile::Entry* Find(std::string_view field) const {
    const auto it = ns_.fields.find(std::string(field));
    return it == ns_.fields.end() ? nullptr : &it->second;
  }
  // "config: config.yml F:L: namespace N FIELD="VALUE" PROBLEM; allowed:
  // ALLOWED".
  [[noreturn]] void Fail(std::string_view field, const YamlFile::Entry& entry,
                         const std::string& problem,
                         std::string_view allowed) const {
    FailAt(yml_.Origin(entry.line),
           "namespace " + ns_.name + " " + std::string(field) + "=" +
               Quote(entry.value) + " " + problem,
           allowed);
  }
  // The folder of config.yml (a blocklist FILE is relative to it).
  std::string Folder() const {
    return std::filesystem::path(yml_.path).parent_path().string();
  }

 private:
  const YamlFile& yml_;
  const YamlFile::Namespace& ns_;
};

keys::KeyPolicy PolicyOf(const Fields& fields) {
  keys::KeyPolicy policy;
  if (const YamlFile::Entry* e = fields.Find("alphabet")) {
    std::string why;
    const std::optional<keys::Alphabet> alphabet =
        keys::Alphabet::Parse(e->value, &why);
    if (!alphabet) fields.Fail("alphabet", *e, why, keys::kAlphabetRule);
    policy.alphabet = *alphabet;
  }
  if (const YamlFile::Entry* e = fields.Find("check")) {
    const std::optional<keys::CheckKind> check = keys::ParseCheckKind(e->value);
    if (!check) fields.Fail("check", *e, "is not a check", keys::kCheckRule);
    const std::string problem = keys::CheckProblem(policy.alphabet, *check);
    if (!problem.empty()) {
      fields.Fail("check", *e, "does not fit the alphabet: " + problem,
                  "none, or luhn with an alphabet of even size");
    }
    policy.check = *check;
  }
  if (const YamlFile::Entry* e = fields.Find("prefix")) {
    if (!e->value.empty() && !keys::IsKeyPrefix(e->value)) {
      fields.Fail("prefix", *e, "is not a key prefix", keys::kPrefixRule);
    }
    policy.prefix = e->value;
  }
  return policy;
}

// key_length's rule depends on the alphabet: its key space must fit in 63
// bits (base62: 1..10, as KEY_LENGTH; digits: 1..18).
int KeyLengthOf(const Fields& fields, const keys::Alphabet& alphabet) {
  const YamlFile::Entry* e = fields.Find("key_length");
  if (e == nullptr) return NamespaceDecl{}.key_length;
  const int most = keys::MaxKeyLength(alphabet.size());
  const Result<std::uint64_t> length = ParseUnsigned(e->value, 1, most);
  if (length.ok()) return static_cast<int>(*length);
  std::string problem = length.status().message();
  const Result<std::uint64_t> any = ParseUnsigned(e->value, 0, 1000);
  if (any.ok()) {
    problem +=
        " (" + keys::KeyLengthProblem(alphabet, static_cast<int>(*any)) + ")";
  }
  fields.Fail("key_length", *e, problem,
              "integer 1.." + std::to_string(most) + " for alphabet " +
                  alphabet.spec());
}

// default, none, or a word file (relative to config.yml's folder), read
// now.
keys::BlocklistSpec BlocklistOf(const Fields& fields) {
  const YamlFile::Entry* e = fields.Find("blocklist");
  if (e == nullptr || e->value == "default") {
    return {keys::BlocklistKind::kDefault, {}};
  }
  if (e->value == "none") return {keys::BlocklistKind::kNone, {}};
  const std::string file = JoinPath(fields.Folder(), e->value);
  const FileText text = ReadFile(file);
  if (text.status != FileText::Status::kOk) {
    fields.Fail("blocklist", *e,
                text.status == FileText::Status::kMissing
                    ? "names a file that does not exist (" + file + ")"
                    : "cannot be read (" + file + ": " + text.error + ")",
                keys::kBlocklistRule);
  }
  std::string why;
  auto words = keys::ParseBlocklistWords(StripBom(text.text), file, &why);
  if (!words)
    fields.Fail("blocklist", *e, "is not a word file: " + why,
                keys::kBlocklistRule);
  return {keys::BlocklistKind::kCustom, std::move(*words)};
}

// A prefix that spells a word of its own blocklist would block every key.
void CheckPrefixNotBlocked(const Fields& fields, const NamespaceDecl& decl) {
  const YamlFile::Entry* e = fields.Find("prefix");
  if (e == nullptr || decl.policy.prefix.empty()) return;
  if (const auto word =
          keys::Blocklist::Of(decl.blocklist).Match(decl.policy.prefix)) {
    fields.Fail("prefix", *e,
                "contains the blocked word " + Quote(*word) + " (blocklist " +
                    keys::DescribeBlocklist(decl.blocklist) + ")",
                "a prefix without a word of the namespace's blocklist");
  }
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
  const Fields fields(yml, ns);
  Config scratch;
  scratch.pool_capacity = 0;  // 0: NS_POOL_CAPACITY
  for (const auto& [field, env] : kFlatRules) {
    const YamlFile::Entry* entry = fields.Find(field);
    if (entry == nullptr) continue;
    const KeySpec& rule = KeyNamed(env);
    if (const Status s = rule.apply(entry->value, scratch); !s.ok()) {
      fields.Fail(field, *entry, s.message(), rule.allowed);
    }
  }
  NamespaceDecl decl;
  decl.name = ns.name;
  decl.key_order = scratch.key_order;
  decl.pool_capacity = scratch.pool_capacity;
  decl.policy = PolicyOf(fields);
  decl.key_length = KeyLengthOf(fields, decl.policy.alphabet);
  decl.blocklist = BlocklistOf(fields);
  CheckPrefixNotBlocked(fields, decl);
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
