// OpenStore (DB_URL dispatch) and the helpers every store shares.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/db_url.h"
#include "store/postgres_store.h"
#include "store/range_store.h"
#include "store/sqlite_store.h"

namespace forge::store {
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

// Appended piece by piece: GCC 12 at -O2 and above misreads
// `"[" + std::to_string(...)` as an overlapping copy (-Wrestrict).
std::string RangeText(const Range& r) {
  std::string text = "[";
  text += std::to_string(r.first);
  text += ", ";
  text += std::to_string(r.last);
  text += ')';
  return text;
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

std::uint64_t TotalOf(const std::vector<Range>& ranges) {
  std::uint64_t total = 0;
  for (const Range& r : ranges) total += r.size();
  return total;
}

StoreError CannotAdvance(const std::string& describe, std::uint64_t counter,
                         std::uint64_t to, std::uint64_t space) {
  const std::string why =
      to > space ? "past the end of the key space (" + std::to_string(space) +
                       " numbers)"
                 : "backwards: the counter is at " + std::to_string(counter) +
                       " (a counter never moves back; numbers below it may "
                       "have been handed out)";
  return StoreError("store " + describe + ": cannot advance the counter to " +
                        std::to_string(to) + ": that is " + why +
                        "; allowed: " + std::to_string(counter) + " to " +
                        std::to_string(space),
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

}  // namespace forge::store
