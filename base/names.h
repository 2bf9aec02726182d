// base/names.h — the rules for the names users give: SHM_NAME, and which
// store a DB_URL's scheme names.
//
// Contract
//   * SHM_NAME: 1..kMaxShmNameLength characters of A-Z a-z 0-9 . _ - and not
//     ending in kShmLockSuffix (segment x's producer lock file is
//     "x.lock", so a segment named "x.lock" would collide with it).
//     CheckShmName reports the first rule broken, in the order of
//     ShmNameFault; the loader and Segment word their own messages.
//   * DB_URL schemes are lower case, exactly: "sqlite:", "postgres://",
//     "postgresql://". DbUrlScheme returns the one `url` starts with; an
//     upper- or mixed-case spelling ("SQLITE:", "Postgres://") is no scheme,
//     and DbUrlSchemeMiscased says so, so the loader can name the mistake.
//     The rest of the URL (paths, libpq parameters) is config/db_url.h's.
//   * Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace forge::base {

// ---- SHM_NAME ----

inline constexpr std::size_t kMaxShmNameLength = 200;
inline constexpr std::string_view kShmLockSuffix = ".lock";

enum class ShmNameFault { kNone, kEmpty, kTooLong, kBadCharacter, kLockSuffix };

[[nodiscard]] bool IsShmNameChar(char c);
[[nodiscard]] ShmNameFault CheckShmName(std::string_view name);

// ---- DB_URL scheme ----

enum class StoreKind { kUnknown, kSqlite, kPostgres };

inline constexpr std::string_view kSqliteScheme = "sqlite:";

// "sqlite:", "postgres://", "postgresql://" or "" (no known scheme).
[[nodiscard]] std::string_view DbUrlScheme(std::string_view url);
// kSqlite, kPostgres, or kUnknown when DbUrlScheme is "".
[[nodiscard]] StoreKind StoreKindOf(std::string_view url);
// True when `url` has no scheme but starts with a known one in other case.
[[nodiscard]] bool DbUrlSchemeMiscased(std::string_view url);
// "sqlite", "postgres" or "unknown".
[[nodiscard]] const char* StoreKindName(StoreKind kind);

}  // namespace forge::base
