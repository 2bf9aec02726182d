// OpenStore (DB_URL dispatch) and the helpers every store shares.
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "broker/key_codec.h"
#include "broker/postgres_store.h"
#include "broker/range_store.h"
#include "broker/sqlite_store.h"
#include "config/db_url.h"

namespace forge::broker {
namespace {

// A SQLite store must be a regular file (or not exist yet): SQLite would
// wait forever reading a FIFO and fail late on a device or a directory.
void RequireRegularOrAbsent(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  const char* what = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                                            : "a special file";
  throw StoreError("store sqlite:" + path + " is " + what +
                       ", not a regular file; point DB_URL at a SQLite "
                       "database file (or a path where one may be created)",
                   /*transient=*/false);
}

}  // namespace

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
                                      const StoreFormat& wanted,
                                      const StoreLimits& limits) {
  const config::DbUrl url = config::ParseDbUrl(db_url);
  if (!url.ok()) {
    throw StoreError("DB_URL \"" + config::RedactDbUrl(db_url) + "\" " +
                         url.problem +
                         "; allowed: " + std::string(config::kDbUrlForms),
                     /*transient=*/false);
  }
  if (url.kind == base::StoreKind::kSqlite) {
    RequireRegularOrAbsent(url.sqlite_path);
    return std::make_unique<SqliteStore>(url.sqlite_path, wanted, limits);
  }
  return OpenPostgresStore(db_url, wanted, limits);
}

}  // namespace forge::broker
