// store/format.cpp — see format.h.
#include "store/format.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <ctime>

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

StoreFormat ParseFormat(const std::string& describe, const MetaTable& table,
                        const MetaRows& meta) {
  const std::string prefix = std::string(table.name) + ".";
  const auto field = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) {
      throw Damaged(describe, table, prefix + key + " is missing");
    }
    return it->second;
  };
  const auto bad = [&](const std::string& key) {
    return Damaged(describe, table,
                   prefix + key + "='" + field(key) + "' is not valid");
  };
  if (ParseInt<int>(field("schema_version")) != kStoreSchemaVersion) {
    throw bad("schema_version");
  }
  StoreFormat format;
  const auto length = ParseInt<int>(field("key_length"));
  if (!length || *length < keys::kMinKeyLength ||
      *length > keys::kMaxKeyLength) {
    throw bad("key_length");
  }
  format.key_length = *length;
  const auto order = keys::ParseKeyOrder(field("key_order"));
  if (!order) throw bad("key_order");
  format.order = *order;
  const auto secret = ParseInt<std::uint64_t>(field("secret"));
  if (!secret) throw bad("secret");
  format.secret = *secret;
  const auto created = ParseInt<std::int64_t>(field("created_unix_s"));
  if (!created) throw bad("created_unix_s");
  format.created_unix_s = *created;
  format.store_id = field("store_id");
  if (!ValidStoreId(format.store_id)) throw bad("store_id");
  return format;
}

MetaRows NewFormatRows(const StoreFormat& wanted, const std::string& store_id) {
  const std::uint64_t secret = wanted.order == keys::KeyOrder::kSequential ? 0
                               : wanted.secret != 0 ? wanted.secret
                                                    : RandomSecret();
  return {
      {"schema_version", std::to_string(kStoreSchemaVersion)},
      {"key_length", std::to_string(wanted.key_length)},
      {"key_order", std::string(keys::KeyOrderName(wanted.order))},
      {"secret", std::to_string(secret)},
      {"created_unix_s", std::to_string(std::time(nullptr))},
      {"store_id", store_id.empty() ? RandomStoreId() : store_id},
  };
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

void CheckNamespaceFormat(const std::string& describe, const std::string& name,
                          const StoreFormat& stored,
                          const StoreFormat& wanted) {
  if (SameKeyFormat(stored, wanted)) return;
  std::string holds;
  std::string asks;
  const auto add = [](std::string& to, const std::string& field) {
    to += (to.empty() ? "" : " ") + field;
  };
  if (stored.key_length != wanted.key_length) {
    add(holds, "KEY_LENGTH=" + std::to_string(stored.key_length));
    add(asks, "KEY_LENGTH=" + std::to_string(wanted.key_length));
  }
  if (stored.order != wanted.order) {
    add(holds, "KEY_ORDER=" + std::string(keys::KeyOrderName(stored.order)));
    add(asks, "KEY_ORDER=" + std::string(keys::KeyOrderName(wanted.order)));
  }
  throw StoreError("namespace \"" + name + "\": the store holds " + holds +
                       " but config asks " + asks +
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
  return "KEY_LENGTH=" + std::to_string(format.key_length) +
         " KEY_ORDER=" + std::string(keys::KeyOrderName(format.order));
}

bool SameKeyFormat(const StoreFormat& a, const StoreFormat& b) {
  return a.key_length == b.key_length && a.order == b.order;
}

bool SameStore(const StoreFormat& a, const StoreFormat& b) {
  return SameKeyFormat(a, b) && a.secret == b.secret &&
         a.created_unix_s == b.created_unix_s && a.store_id == b.store_id;
}

void CheckFormat(const std::string& describe, const StoreFormat& stored,
                 const StoreFormat& wanted) {
  if (SameKeyFormat(stored, wanted)) return;
  std::string differs;
  if (stored.key_length != wanted.key_length) {
    differs = "KEY_LENGTH=" + std::to_string(wanted.key_length);
  }
  if (stored.order != wanted.order) {
    if (!differs.empty()) differs += ' ';
    differs += "KEY_ORDER=" + std::string(keys::KeyOrderName(wanted.order));
  }
  throw StoreError("store " + describe + " was created with " +
                       DescribeFormat(stored) + "; config says " + differs +
                       ": keys would collide with the ones already issued. "
                       "Use the store's values or a new DB_URL",
                   /*transient=*/false);
}

void CheckWanted(const std::string& describe, const StoreFormat& wanted) {
  if (wanted.key_length >= keys::kMinKeyLength &&
      wanted.key_length <= keys::kMaxKeyLength) {
    return;
  }
  throw StoreError("store " + describe +
                       ": KEY_LENGTH=" + std::to_string(wanted.key_length) +
                       " is not allowed (allowed: 1..10)",
                   /*transient=*/false);
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
  space_ = keys::KeySpace(stored.key_length);
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
