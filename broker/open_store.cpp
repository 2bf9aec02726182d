// OpenStore (DB_URL dispatch) and the helpers every store shares.
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "broker/key_codec.h"
#include "broker/postgres_store.h"
#include "broker/range_store.h"
#include "broker/sqlite_store.h"

namespace forge::broker {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kAllowedForms =
    "allowed: sqlite:PATH (e.g. sqlite:./data/forge.db), "
    "postgres://USER@HOST[:PORT]/DB or postgresql://USER@HOST[:PORT]/DB";

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

// Drops the ":password" of "scheme://user:password@host...". The userinfo
// ends at the last '@' before any query, so a password holding '/' or '@'
// is still dropped whole.
std::string DropUserInfoPassword(std::string url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const std::size_t start = scheme_end + 3;
  const std::size_t at = url.rfind('@', url.find('?'));
  if (at == std::string::npos || at < start) return url;
  const std::size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.erase(colon, at - colon);
}

// Replaces the value of every "password=..." parameter with "***".
std::string MaskPasswordParams(std::string url) {
  constexpr std::string_view kKey = "password=";
  constexpr std::string_view kSeparators = "?&; ";
  for (std::size_t i = 0; i < url.size(); ++i) {
    const bool token_start =
        i == 0 || kSeparators.find(url[i - 1]) != std::string_view::npos;
    if (!token_start || !StartsWithNoCase(url.substr(i), kKey)) continue;
    const std::size_t value = i + kKey.size();
    std::size_t end = url.find_first_of("&; ", value);
    if (end == std::string::npos) end = url.size();
    url.replace(value, end - value, "***");
    i = value + 2;
  }
  return url;
}

}  // namespace

std::string RedactDbUrl(std::string_view db_url) {
  return MaskPasswordParams(DropUserInfoPassword(std::string(db_url)));
}

std::string DescribeFormat(const StoreFormat& format) {
  return "KEY_LENGTH=" + std::to_string(format.key_length) +
         " KEY_ORDER=" + std::string(KeyOrderName(format.order));
}

void CheckFormat(const std::string& describe, const StoreFormat& stored,
                 const StoreFormat& wanted) {
  std::string differs;
  if (stored.key_length != wanted.key_length) {
    differs = "KEY_LENGTH=" + std::to_string(wanted.key_length);
  }
  if (stored.order != wanted.order) {
    if (!differs.empty()) differs += ' ';
    differs += "KEY_ORDER=" + std::string(KeyOrderName(wanted.order));
  }
  if (differs.empty()) return;
  throw StoreError("store " + describe + " was created with " +
                       DescribeFormat(stored) + "; config says " + differs +
                       ": keys would collide with the ones already issued. "
                       "Use the store's values or a new DB_URL",
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
  unsigned char bytes[16];
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

std::string RangeText(const Range& r) {
  return "[" + std::to_string(r.first) + ", " + std::to_string(r.last) + ")";
}

std::vector<Range> CheckReturnable(const std::string& describe,
                                   std::vector<Range> ranges,
                                   std::uint64_t counter) {
  std::erase_if(ranges, [](const Range& r) { return r.first >= r.last; });
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  const auto refuse = [&](const Range& r, const std::string& why) {
    return StoreError("store " + describe + ": refusing to return " +
                          RangeText(r) + ": " + why +
                          "; nothing was recorded (this is a bug in the "
                          "caller, please report it)",
                      /*transient=*/false);
  };
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].last > counter) {
      throw refuse(ranges[i],
                   "the store never reserved past " + std::to_string(counter));
    }
    if (i > 0 && ranges[i].first < ranges[i - 1].last) {
      throw refuse(ranges[i], "it overlaps " + RangeText(ranges[i - 1]) +
                                  " in the same call");
    }
  }
  return ranges;
}

StoreError ReturnedTwice(const std::string& describe, const Range& range,
                         const Range& existing) {
  return StoreError("store " + describe + ": refusing to return " +
                        RangeText(range) + ": it overlaps " +
                        RangeText(existing) +
                        ", already returned; nothing was recorded (this is "
                        "a bug in the caller, please report it)",
                    /*transient=*/false);
}

void CheckWanted(const std::string& describe, const StoreFormat& wanted) {
  if (wanted.key_length >= kMinKeyLength &&
      wanted.key_length <= kMaxKeyLength) {
    return;
  }
  throw StoreError("store " + describe +
                       ": KEY_LENGTH=" + std::to_string(wanted.key_length) +
                       " is not allowed (allowed: 1..10)",
                   /*transient=*/false);
}

std::unique_ptr<RangeStore> OpenStore(const std::string& db_url,
                                      const StoreFormat& wanted) {
  if (StartsWithNoCase(db_url, kSqlitePrefix)) {
    const std::string path = db_url.substr(kSqlitePrefix.size());
    if (path.empty()) {
      throw StoreError("DB_URL \"" + db_url + "\" names no file; " +
                           std::string(kAllowedForms),
                       /*transient=*/false);
    }
    return std::make_unique<SqliteStore>(path, wanted);
  }
  if (StartsWithNoCase(db_url, "postgres://") ||
      StartsWithNoCase(db_url, "postgresql://")) {
    return OpenPostgresStore(db_url, wanted);
  }
  throw StoreError("DB_URL \"" + RedactDbUrl(db_url) +
                       "\" has an unknown scheme; " +
                       std::string(kAllowedForms),
                   /*transient=*/false);
}

}  // namespace forge::broker
