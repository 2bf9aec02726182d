// store/format.h — the store metadata layer both backends share: a
// StoreFormat to and from the key/value rows of the metadata table (SQLite
// "meta", PostgreSQL "forge_meta"), the schema version, and the checks and
// messages about formats. The backends only run SQL around it.
//
// Contract
//   * The metadata rows are schema_version, key_length, key_order, secret,
//     created_unix_s and store_id, and (schema 4, issue 14) the policy:
//     alphabet (keys::Alphabet::spec()), check (none|luhn), prefix ("" or
//     keys::IsKeyPrefix), blocklist (none|default|custom) and
//     blocklist_words (custom only: the words joined by '\n'). Absent
//     policy rows read as the defaults (base62, none, "", none), so a
//     store from before schema 4 needs nothing rewritten. Not part of the
//     format: returned_total (once numbers were returned) and, in the
//     default namespace's table only, policy_generation (store-wide,
//     bumped by every blocklist change; absent = 0).
//   * ParseFormat reads them back; a missing or invalid row (a schema
//     version other than kStoreSchemaVersion, a key length the alphabet
//     cannot hold, luhn with an odd alphabet included) throws the
//     non-transient StoreError of Damaged, naming "<table>.<key>".
//   * NewFormatRows(wanted, store_id) are the rows of a store (or of a
//     namespace) being created: the secret is 0 for sequential, else
//     wanted.secret or a fresh random one; created_unix_s is now; store_id
//     is `store_id` (a namespace takes its store's) or, when empty, fresh;
//     the policy and the blocklist are wanted's (a new store's default
//     namespace is created with blocklist none: CreatedDefault).
//   * Namespaces: every namespace's metadata has the same rows, in a table
//     of its own (NamespaceTables); a namespace's messages name it after
//     the store ("store sqlite:/x namespace \"invites\": ...").
//   * Every message names the store by `describe` (never a password).
//   * SameKeyFormat compares what keys look like (key length, order,
//     alphabet, check, prefix: what a config may ask for; never the
//     blocklist, which may change); SameStore compares everything a store
//     fixed at creation (the format, the secret, the creation time and the
//     identity): false means another store.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "shm/layout.h"
#include "store/range_store.h"

namespace forge::store {

// The schema version this code writes and understands. Versions
// kUpgradableSchemaVersion..kStoreSchemaVersion-1 (1: no returned list; 2:
// no namespaces; 3: no key policy, so every key base62) are upgraded in
// place when a store is opened.
inline constexpr int kStoreSchemaVersion = 4;
inline constexpr int kUpgradableSchemaVersion = 1;

// Characters of a store identity (StoreFormat::store_id).
inline constexpr std::size_t kStoreIdLength = 32;

// Where a backend keeps its metadata, and what a person should do about a
// damaged store of that backend.
struct MetaTable {
  std::string_view name;    // "meta", "forge_meta"
  std::string_view repair;  // "move it away or point DB_URL at another file"
};

using MetaRows = std::map<std::string, std::string>;

// The store-wide row of the default namespace's table that every
// WriteBlocklist bumps (RangeStore::PolicyGeneration).
inline constexpr std::string_view kPolicyGenerationKey = "policy_generation";

// The whole text as a decimal integer of type Int; nullopt otherwise.
template <typename Int>
std::optional<Int> ParseInt(std::string_view text) {
  Int value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// "store <describe> is damaged: <what>; <table.repair>" (non-transient).
StoreError Damaged(const std::string& describe, const MetaTable& table,
                   const std::string& what);

// Throws the non-transient "newer than this program understands" error
// when `version` is above kStoreSchemaVersion.
void CheckNotNewer(const std::string& describe, int version);

// The format the metadata rows describe (see the contract).
StoreFormat ParseFormat(const std::string& describe, const MetaTable& table,
                        const MetaRows& meta);

// The metadata rows of a new store made for `wanted` (see the contract).
MetaRows NewFormatRows(const StoreFormat& wanted,
                       const std::string& store_id = {});

// `wanted` as a new store's default namespace is created: blocklist none
// (an operator opts in with forge-ctl namespace blocklist default ...).
StoreFormat CreatedDefault(const StoreFormat& wanted);

// The rows that hold `spec` (blocklist, blocklist_words: "" unless
// custom), written over the old ones by WriteBlocklist.
MetaRows BlocklistRows(const keys::BlocklistSpec& spec);

// Throws a non-transient StoreError naming the store when `spec` is not a
// valid blocklist (custom without words or with a word that breaks
// keys::kBlocklistRule; words given with none or default), or when
// `prefix` contains one of its words (naming the word).
void CheckBlocklist(const std::string& describe, const std::string& prefix,
                    const keys::BlocklistSpec& spec);

// The policy generation the row `value` holds (absent: 0); an invalid one
// is Damaged naming "<table>.policy_generation".
std::uint64_t ParsePolicyGeneration(const std::string& describe,
                                    const MetaTable& table,
                                    const std::optional<std::string>& value);

// The tables of one namespace: "default" keeps the store's original ones
// ("<prefix>meta", "<prefix>counter", "<prefix>returned"); namespace x has
// "<prefix>meta@x" and so on. `*_sql` are the names quoted for SQL
// (a namespace name is [a-z0-9_-] only, so quoting needs no escapes).
struct NamespaceTables {
  std::string meta;  // unquoted, for messages ("meta@invites")
  std::string meta_sql;
  std::string counter_sql;
  std::string returned_sql;
};
NamespaceTables TablesOf(std::string_view prefix, const std::string& name);

// Throws a non-transient StoreError naming the store and the rule unless
// `name` is a namespace name (base::IsNamespaceName).
void CheckNamespaceName(const std::string& describe, const std::string& name);

// Throws a non-transient StoreError naming the namespace and each field
// that differs when namespace `name`, created with `stored`, cannot serve
// `wanted` (key length, order, alphabet, check or prefix: "the store holds
// alphabet=base58 but config asks alphabet=base62").
void CheckNamespaceFormat(const std::string& describe, const std::string& name,
                          const StoreFormat& stored, const StoreFormat& wanted);

// The non-transient error of opening a store that has no format yet when
// the caller asked for whatever it holds (wanted.key_length == 0).
StoreError NoKeySpace(const std::string& describe);

// "KEY_LENGTH=7 KEY_ORDER=scrambled", then alphabet=, check= and prefix=
// for each that is not the default ("alphabet=base58 prefix=\"inv_\"").
std::string DescribeFormat(const StoreFormat& format);

bool SameKeyFormat(const StoreFormat& a, const StoreFormat& b);
bool SameStore(const StoreFormat& a, const StoreFormat& b);

// Throws a non-transient StoreError naming both formats when a store
// (`describe`) created with `stored` cannot serve `wanted` (key length,
// order, alphabet, check or prefix differ). The secret is the store's and
// is not compared, nor is the blocklist.
void CheckFormat(const std::string& describe, const StoreFormat& stored,
                 const StoreFormat& wanted);

// Throws a non-transient StoreError (one line: what, and what is allowed)
// unless `wanted` can be created: its key length fits its alphabet
// (keys::KeyLengthProblem, naming the largest length), its check fits
// the alphabet (keys::CheckProblem), its prefix is "" or keys::IsKeyPrefix
// and its blocklist passes CheckBlocklist. (OpenStore's wanted.key_length 0,
// "take the stored format", is handled by FormattedStore before this is
// called.)
void CheckWanted(const std::string& describe, const StoreFormat& wanted);

// A non-zero random 64-bit secret from the kernel (getrandom). Throws a
// non-transient StoreError if the kernel cannot supply one.
std::uint64_t RandomSecret();

// A fresh store identity (see StoreFormat::store_id) from the kernel
// (getrandom). Throws a non-transient StoreError if it cannot supply one.
std::string RandomStoreId();

// True when `text` is a well-formed store identity.
bool ValidStoreId(std::string_view text);

// What both backends hold the same way: the store's name, the namespace
// and the format it was opened with (RangeStore::format(), Describe(),
// namespace_name()). A backend passes its name and the wanted format
// (checked at once: CheckWanted, unless its key_length is 0, "whatever the
// store holds"), then calls Opened with the format it read from the store.
// An object of a namespace is made with the namespace's name and calls
// OpenedNamespace instead.
class FormattedStore : public RangeStore {
 public:
  const StoreFormat& format() const final { return format_; }
  std::string Describe() const final { return describe_; }
  const std::string& namespace_name() const final { return namespace_; }

 protected:
  FormattedStore(std::string describe, const StoreFormat& wanted);
  FormattedStore(std::string describe, std::string name);

  // `stored` becomes this store's format; throws (CheckFormat) unless it
  // can serve `wanted` (any format when wanted.key_length is 0).
  void Opened(const StoreFormat& stored, const StoreFormat& wanted);
  // The same for a namespace: CheckNamespaceFormat when `wanted` is given.
  void OpenedNamespace(const StoreFormat& stored, const StoreFormat* wanted);
  // The store for messages: Describe(), then the namespace unless default.
  const std::string& describe() const { return named_; }
  void set_describe(std::string describe);
  // The key space of the format (0 before Opened).
  std::uint64_t space() const { return space_; }

 private:
  void Adopt(const StoreFormat& stored);

  std::string describe_;
  std::string namespace_;
  std::string named_;
  StoreFormat format_;
  std::uint64_t space_ = 0;
};

// The codec of keys of `format` (length, order, secret, policy).
keys::KeyCodec CodecOf(const StoreFormat& format);

// The key order as a segment header stores it (shm::Header::key_order),
// and back (any value but kSequential's reads as scrambled).
shm::KeyOrder LayoutKeyOrder(keys::KeyOrder order);
keys::KeyOrder KeyOrderOfLayout(std::uint32_t stored);

}  // namespace forge::store
