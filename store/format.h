// store/format.h — the store metadata layer both backends share: a
// StoreFormat to and from the key/value rows of the metadata table (SQLite
// "meta", PostgreSQL "forge_meta"), the schema version, and the checks and
// messages about formats. The backends only run SQL around it.
//
// Contract
//   * The metadata rows are schema_version, key_length, key_order, secret,
//     created_unix_s and store_id (and, once numbers were returned,
//     returned_total, which is not part of the format).
//   * ParseFormat reads them back; a missing or invalid row (a schema
//     version other than kStoreSchemaVersion included) throws the
//     non-transient StoreError of Damaged, naming "<table>.<key>".
//   * NewFormatRows(wanted) are the rows of a store being created: the
//     secret is 0 for sequential, else wanted.secret or a fresh random one;
//     created_unix_s is now; store_id is fresh.
//   * Every message names the store by `describe` (never a password).
//   * SameKeyFormat compares what keys look like (key length and order:
//     what a config may ask for); SameStore compares everything a store
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

#include "keys/key_codec.h"
#include "shm/layout.h"
#include "store/range_store.h"

namespace forge::store {

// The schema version this code writes and understands. Version 1 (no
// returned list) is upgraded in place when a store is opened.
inline constexpr int kStoreSchemaVersion = 2;
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
MetaRows NewFormatRows(const StoreFormat& wanted);

// "KEY_LENGTH=7 KEY_ORDER=scrambled".
std::string DescribeFormat(const StoreFormat& format);

bool SameKeyFormat(const StoreFormat& a, const StoreFormat& b);
bool SameStore(const StoreFormat& a, const StoreFormat& b);

// Throws a non-transient StoreError naming both formats when a store
// (`describe`) created with `stored` cannot serve `wanted` (key length or
// order differ). The secret is the store's and is not compared.
void CheckFormat(const std::string& describe, const StoreFormat& stored,
                 const StoreFormat& wanted);

// Throws a non-transient StoreError unless wanted.key_length is in 1..10.
void CheckWanted(const std::string& describe, const StoreFormat& wanted);

// A non-zero random 64-bit secret from the kernel (getrandom). Throws a
// non-transient StoreError if the kernel cannot supply one.
std::uint64_t RandomSecret();

// A fresh store identity (see StoreFormat::store_id) from the kernel
// (getrandom). Throws a non-transient StoreError if it cannot supply one.
std::string RandomStoreId();

// True when `text` is a well-formed store identity.
bool ValidStoreId(std::string_view text);

// What both backends hold the same way: the store's name and the format it
// was opened with (RangeStore::format() and Describe()). A backend passes
// its name and the wanted format (checked at once: CheckWanted), then calls
// Opened with the format it read from the store.
class FormattedStore : public RangeStore {
 public:
  const StoreFormat& format() const final { return format_; }
  std::string Describe() const final { return describe_; }
  const std::string& namespace_name() const final { return namespace_; }

 protected:
  FormattedStore(std::string describe, const StoreFormat& wanted);

  // `stored` becomes this store's format; throws (CheckFormat) unless it
  // can serve `wanted`.
  void Opened(const StoreFormat& stored, const StoreFormat& wanted);
  const std::string& describe() const { return describe_; }
  void set_describe(std::string describe) { describe_ = std::move(describe); }
  void set_namespace(std::string name) { namespace_ = std::move(name); }
  // The key space of the format (0 before Opened).
  std::uint64_t space() const { return space_; }

 private:
  std::string describe_;
  std::string namespace_{"default"};
  StoreFormat format_;
  std::uint64_t space_ = 0;
};

// The key order as a segment header stores it (shm::Header::key_order),
// and back (any value but kSequential's reads as scrambled).
shm::KeyOrder LayoutKeyOrder(keys::KeyOrder order);
keys::KeyOrder KeyOrderOfLayout(std::uint32_t stored);

}  // namespace forge::store
