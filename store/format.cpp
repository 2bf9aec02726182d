// store/format.cpp — see format.h.
#include "store/format.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "base/names.h"

namespace forge::store {

static_assert(shm::kStoreIdChars == kStoreIdLength);

StoreError Damaged(const std::string& describe, const MetaTable& table,
                   const std::string& what) {
  return StoreError("store " + describe + " is damaged: " + what + "; " +
                        std::string(table.repair),
                    /*transient=*/false);
}

void CheckNotNewer(const std::string& describe, int version) {
  if (version <= kStoreSchemaVersion) return;
  throw StoreError("store " + describe + " has schema version " +
                       std::to_string(version) +
                       ", newer than this program understands (" +
                       std::to_string(kStoreSchemaVersion) +
                       "); upgrade mini-forge or use another DB_URL",
                   /*transient=*/false);
}

namespace {

// How the blocklist row spells each kind.
constexpr std::pair<keys::BlocklistKind, std::string_view> kBlocklistNames[] = {
    {keys::BlocklistKind::kNone, "none"},
    {keys::BlocklistKind::kDefault, "default"},
    {keys::BlocklistKind::kCustom, "custom"},
};

std::string_view BlocklistName(keys::BlocklistKind kind) {
  for (const auto& [k, name] : kBlocklistNames) {
    if (k == kind) return name;
  }
  return "none";
}

std::optional<keys::BlocklistKind> ParseBlocklistKind(std::string_view text) {
  for (const auto& [kind, name] : kBlocklistNames) {
    if (name == text) return kind;
  }
  return std::nullopt;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    text += (text.empty() ? "" : "\n") + word;
  }
  return text;
}

// Reads the rows of one key space; `field` throws Damaged for a missing
// row, `bad` for an invalid one, `optional` gives an absent row's default.
class RowReader {
 public:
  RowReader(const std::string& describe, const MetaTable& table,
            const MetaRows& meta)
      : describe_(describe),
        table_(table),
        meta_(meta),
        prefix_(std::string(table.name) + ".") {}

  const std::string& field(const std::string& key) const {
    const auto it = meta_.find(key);
    if (it == meta_.end()) {
      throw Damaged(describe_, table_, prefix_ + key + " is missing");
    }
    return it->second;
  }
  std::string optional(const std::string& key, std::string_view absent) const {
    const auto it = meta_.find(key);
    return it == meta_.end() ? std::string(absent) : it->second;
  }
  StoreError bad(const std::string& key, const std::string& value,
                 const std::string& why = "is not valid") const {
    return Damaged(describe_, table_,
                   prefix_ + key + "='" + value + "' " + why);
  }
  std::string where(const std::string& key) const { return prefix_ + key; }
  StoreError damaged(const std::string& what) const {
    return Damaged(describe_, table_, what);
  }

 private:
  const std::string& describe_;
  const MetaTable& table_;
  const MetaRows& meta_;
  std::string prefix_;
};

keys::KeyPolicy ParsePolicy(const RowReader& rows) {
  keys::KeyPolicy policy;
  const std::string alphabet =
      rows.optional("alphabet", keys::kDefaultAlphabet);
  std::string why;
  const std::optional<keys::Alphabet> parsed =
      keys::Alphabet::Parse(alphabet, &why);
  if (!parsed) throw rows.bad("alphabet", alphabet, "is not valid: " + why);
  policy.alphabet = *parsed;
  const std::string check =
      rows.optional("check", keys::CheckKindName(keys::CheckKind::kNone));
  const std::optional<keys::CheckKind> kind = keys::ParseCheckKind(check);
  if (!kind) throw rows.bad("check", check);
  if (const std::string p = keys::CheckProblem(policy.alphabet, *kind);
      !p.empty()) {
    throw rows.bad("check", check, "does not fit the alphabet: " + p);
  }
  policy.check = *kind;
  policy.prefix = rows.optional("prefix", "");
  if (!policy.prefix.empty() && !keys::IsKeyPrefix(policy.prefix)) {
    throw rows.bad("prefix", policy.prefix);
  }
  return policy;
}

keys::BlocklistSpec ParseBlocklistRows(const RowReader& rows) {
  keys::BlocklistSpec spec;
  const std::string kind = rows.optional("blocklist", "none");
  const std::optional<keys::BlocklistKind> parsed = ParseBlocklistKind(kind);
  if (!parsed) throw rows.bad("blocklist", kind);
  spec.kind = *parsed;
  const std::string words = rows.optional("blocklist_words", "");
  if (spec.kind != keys::BlocklistKind::kCustom) {
    if (!words.empty()) {
      throw rows.damaged(rows.where("blocklist_words") +
                         " is set but blocklist is " + kind);
    }
    return spec;
  }
  std::string why;
  auto list =
      keys::ParseBlocklistWords(words, rows.where("blocklist_words"), &why);
  if (!list) throw rows.damaged(why);  // a custom list has 1 word or more
  spec.words = std::move(*list);
  return spec;
}

}  // namespace

StoreFormat ParseFormat(const std::string& describe, const MetaTable& table,
                        const MetaRows& meta) {
  const RowReader rows(describe, table, meta);
  const auto bad = [&](const std::string& key) {
    return rows.bad(key, rows.field(key));
  };
  if (ParseInt<int>(rows.field("schema_version")) != kStoreSchemaVersion) {
    throw bad("schema_version");
  }
  StoreFormat format;
  format.policy = ParsePolicy(rows);
  const auto length = ParseInt<int>(rows.field("key_length"));
  if (!length ||
      !keys::KeyLengthProblem(format.policy.alphabet, *length).empty()) {
    throw bad("key_length");
  }
  format.key_length = *length;
  const auto order = keys::ParseKeyOrder(rows.field("key_order"));
  if (!order) throw bad("key_order");
  format.order = *order;
  const auto secret = ParseInt<std::uint64_t>(rows.field("secret"));
  if (!secret) throw bad("secret");
  format.secret = *secret;
  const auto created = ParseInt<std::int64_t>(rows.field("created_unix_s"));
  if (!created) throw bad("created_unix_s");
  format.created_unix_s = *created;
  format.store_id = rows.field("store_id");
  if (!ValidStoreId(format.store_id)) throw bad("store_id");
  format.blocklist = ParseBlocklistRows(rows);
  return format;
}

MetaRows NewFormatRows(const StoreFormat& wanted, const std::string& store_id) {
  const std::uint64_t secret = wanted.order == keys::KeyOrder::kSequential ? 0
                               : wanted.secret != 0 ? wanted.secret
                                                    : RandomSecret();
  MetaRows rows = {
      {"schema_version", std::to_string(kStoreSchemaVersion)},
      {"key_length", std::to_string(wanted.key_length)},
      {"key_order", std::string(keys::KeyOrderName(wanted.order))},
      {"secret", std::to_string(secret)},
      {"created_unix_s", std::to_string(std::time(nullptr))},
      {"store_id", store_id.empty() ? RandomStoreId() : store_id},
      {"alphabet", wanted.policy.alphabet.spec()},
      {"check", std::string(keys::CheckKindName(wanted.policy.check))},
      {"prefix", wanted.policy.prefix},
  };
  rows.merge(BlocklistRows(wanted.blocklist));
  return rows;
}

StoreFormat CreatedDefault(const StoreFormat& wanted) {
  StoreFormat created = wanted;
  created.blocklist = {};
  return created;
}

MetaRows BlocklistRows(const keys::BlocklistSpec& spec) {
  return {
      {"blocklist", std::string(BlocklistName(spec.kind))},
      {"blocklist_words",
       spec.kind == keys::BlocklistKind::kCustom ? JoinWords(spec.words) : ""}};
}

void CheckBlocklist(const std::string& describe, const std::string& prefix,
                    const keys::BlocklistSpec& spec) {
  const auto refuse = [&](const std::string& what) {
    throw StoreError("store " + describe + ": " + what, /*transient=*/false);
  };
  const bool custom = spec.kind == keys::BlocklistKind::kCustom;
  if (!custom && !spec.words.empty()) {
    refuse("blocklist " + std::string(BlocklistName(spec.kind)) +
           " takes no words (allowed: " + std::string(keys::kBlocklistRule) +
           ")");
  }
  if (custom) {
    // The one word parser: the words must read back as themselves.
    std::string why;
    const auto words =
        keys::ParseBlocklistWords(JoinWords(spec.words), "blocklist", &why);
    if (!words) refuse(why);
    if (*words != spec.words) {
      refuse(
          "a custom blocklist's words must be distinct and sorted, as "
          "read from a word file (allowed: " +
          std::string(keys::kBlocklistRule) + ")");
    }
  }
  if (prefix.empty()) return;
  if (const auto word = keys::Blocklist::Of(spec).Match(prefix)) {
    refuse("the key prefix \"" + prefix + "\" contains the blocked word \"" +
           *word + "\" (blocklist " + keys::DescribeBlocklist(spec) +
           "); choose another prefix or blocklist");
  }
}

std::uint64_t ParsePolicyGeneration(const std::string& describe,
                                    const MetaTable& table,
                                    const std::optional<std::string>& value) {
  if (!value) return 0;
  const auto generation = ParseInt<std::uint64_t>(*value);
  if (!generation) {
    throw Damaged(describe, table,
                  std::string(table.name) + "." +
                      std::string(kPolicyGenerationKey) + "='" + *value +
                      "' is not valid");
  }
  return *generation;
}

NamespaceTables TablesOf(std::string_view prefix, const std::string& name) {
  const std::string p(prefix);
  if (name == base::kDefaultNamespace) {
    return {p + "meta", p + "meta", p + "counter", p + "returned"};
  }
  const std::string at = std::string(1, base::kNamespaceSeparator) + name;
  const auto quoted = [&](const char* table) {
    return '"' + p + table + at + '"';
  };
  return {p + "meta" + at, quoted("meta"), quoted("counter"),
          quoted("returned")};
}

void CheckNamespaceName(const std::string& describe, const std::string& name) {
  if (base::IsNamespaceName(name)) return;
  throw StoreError("store " + describe + ": namespace \"" + name +
                       "\" is not a valid name (allowed: " +
                       std::string(base::kNamespaceRule) + ")",
                   /*transient=*/false);
}

namespace {

// The fields a config may ask for, each as "NAME=value" (KEY_LENGTH and
// KEY_ORDER as the flat keys spell them, the policy as config.yml does).
std::vector<std::string> FieldTexts(const StoreFormat& f) {
  return {"KEY_LENGTH=" + std::to_string(f.key_length),
          "KEY_ORDER=" + std::string(keys::KeyOrderName(f.order)),
          "alphabet=" + f.policy.alphabet.spec(),
          "check=" + std::string(keys::CheckKindName(f.policy.check)),
          "prefix=\"" + f.policy.prefix + '"'};
}

// The fields of `of` that differ between `a` and `b`, space separated.
std::string Differing(const StoreFormat& a, const StoreFormat& b,
                      const StoreFormat& of) {
  const std::vector<std::string> left = FieldTexts(a);
  const std::vector<std::string> right = FieldTexts(b);
  const std::vector<std::string> texts = FieldTexts(of);
  std::string out;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (left[i] == right[i]) continue;
    out += (out.empty() ? "" : " ") + texts[i];
  }
  return out;
}

}  // namespace

void CheckNamespaceFormat(const std::string& describe, const std::string& name,
                          const StoreFormat& stored,
                          const StoreFormat& wanted) {
  if (SameKeyFormat(stored, wanted)) return;
  throw StoreError("namespace \"" + name + "\": the store holds " +
                       Differing(stored, wanted, stored) + " but config asks " +
                       Differing(stored, wanted, wanted) +
                       " (a namespace's format is fixed when it is created; "
                       "store " +
                       describe + ")",
                   /*transient=*/false);
}

StoreError NoKeySpace(const std::string& describe) {
  return StoreError("store " + describe +
                        " has no key space yet; start forge-broker once to "
                        "create it",
                    /*transient=*/false);
}

std::string DescribeFormat(const StoreFormat& format) {
  const std::vector<std::string> texts = FieldTexts(format);
  const std::vector<std::string> plain = FieldTexts(StoreFormat{});
  std::string out = texts[0] + " " + texts[1];
  for (std::size_t i = 2; i < texts.size(); ++i) {
    if (texts[i] != plain[i]) out += " " + texts[i];
  }
  return out;
}

bool SameKeyFormat(const StoreFormat& a, const StoreFormat& b) {
  return a.key_length == b.key_length && a.order == b.order &&
         a.policy == b.policy;
}

bool SameStore(const StoreFormat& a, const StoreFormat& b) {
  return SameKeyFormat(a, b) && a.secret == b.secret &&
         a.created_unix_s == b.created_unix_s && a.store_id == b.store_id;
}

void CheckFormat(const std::string& describe, const StoreFormat& stored,
                 const StoreFormat& wanted) {
  if (SameKeyFormat(stored, wanted)) return;
  throw StoreError("store " + describe + " was created with " +
                       DescribeFormat(stored) + "; config says " +
                       Differing(stored, wanted, wanted) +
                       ": keys would collide with the ones already issued. "
                       "Use the store's values or a new DB_URL",
                   /*transient=*/false);
}

void CheckWanted(const std::string& describe, const StoreFormat& wanted) {
  const keys::KeyPolicy& policy = wanted.policy;
  std::string why;
  if (const std::string p =
          keys::KeyLengthProblem(policy.alphabet, wanted.key_length);
      !p.empty()) {
    why = "KEY_LENGTH=" + std::to_string(wanted.key_length) +
          " is not allowed (" + p + ")";
  } else if (const std::string c =
                 keys::CheckProblem(policy.alphabet, policy.check);
             !c.empty()) {
    why = "check=" + std::string(keys::CheckKindName(policy.check)) +
          " is not allowed (" + c + ")";
  } else if (!policy.prefix.empty() && !keys::IsKeyPrefix(policy.prefix)) {
    why = "prefix=\"" + policy.prefix +
          "\" is not allowed (allowed: " + std::string(keys::kPrefixRule) + ")";
  }
  if (!why.empty()) {
    throw StoreError("store " + describe + ": " + why, /*transient=*/false);
  }
  CheckBlocklist(describe, policy.prefix, wanted.blocklist);
}

std::uint64_t RandomSecret() {
  std::uint64_t secret = 0;
  while (secret == 0) {
    const ssize_t got = ::getrandom(&secret, sizeof secret, 0);
    if (got == static_cast<ssize_t>(sizeof secret)) continue;
    if (got < 0 && errno == EINTR) continue;
    throw StoreError(std::string("cannot read a random secret (getrandom: ") +
                         std::strerror(errno) + ")",
                     /*transient=*/false);
  }
  return secret;
}

std::string RandomStoreId() {
  unsigned char bytes[kStoreIdLength / 2];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      throw StoreError(std::string("cannot read a random store identity "
                                   "(getrandom: ") +
                           std::strerror(errno) + ")",
                       /*transient=*/false);
    }
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (const unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xf];
  }
  return id;
}

bool ValidStoreId(std::string_view text) {
  return text.size() == kStoreIdLength &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

FormattedStore::FormattedStore(std::string describe, const StoreFormat& wanted)
    : FormattedStore(std::move(describe),
                     std::string(base::kDefaultNamespace)) {
  if (wanted.key_length != 0) CheckWanted(describe_, wanted);
}

FormattedStore::FormattedStore(std::string describe, std::string name)
    : namespace_(std::move(name)) {
  set_describe(std::move(describe));
}

void FormattedStore::set_describe(std::string describe) {
  describe_ = std::move(describe);
  named_ = namespace_ == base::kDefaultNamespace
               ? describe_
               : describe_ + " namespace \"" + namespace_ + '"';
}

void FormattedStore::Opened(const StoreFormat& stored,
                            const StoreFormat& wanted) {
  if (wanted.key_length != 0) CheckFormat(describe_, stored, wanted);
  Adopt(stored);
}

void FormattedStore::OpenedNamespace(const StoreFormat& stored,
                                     const StoreFormat* wanted) {
  if (wanted != nullptr) {
    CheckNamespaceFormat(describe_, namespace_, stored, *wanted);
  }
  Adopt(stored);
}

void FormattedStore::Adopt(const StoreFormat& stored) {
  format_ = stored;
  space_ = keys::KeySpace(stored.policy.alphabet.size(), stored.key_length);
}

shm::KeyOrder LayoutKeyOrder(keys::KeyOrder order) {
  return order == keys::KeyOrder::kSequential ? shm::KeyOrder::kSequential
                                              : shm::KeyOrder::kScrambled;
}

keys::KeyOrder KeyOrderOfLayout(std::uint32_t stored) {
  return stored == static_cast<std::uint32_t>(shm::KeyOrder::kSequential)
             ? keys::KeyOrder::kSequential
             : keys::KeyOrder::kScrambled;
}

keys::KeyCodec CodecOf(const StoreFormat& format) {
  return keys::KeyCodec(format.key_length, format.order, format.secret,
                        format.policy);
}

}  // namespace forge::store
