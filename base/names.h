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
//   * Namespaces (issue 13): a namespace name is 1..32 characters of
//     a-z 0-9 _ -, the first a letter or a digit. "default" is the
//     store's original key space (KEY_LENGTH/KEY_ORDER). A namespace's
//     segment is "<SHM_NAME>@<namespace>" ("default": plain SHM_NAME); '@'
//     is in neither rule, so the two parts never run into each other.
//   * Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace forge::base {

// ---- SHM_NAME ----

inline constexpr std::size_t kMaxShmNameLength = 200;
inline constexpr std::string_view kShmLockSuffix = ".lock";

enum class ShmNameFault { kNone, kEmpty, kTooLong, kBadCharacter, kLockSuffix };

// For messages: what a SHM_NAME may be.
inline constexpr std::string_view kShmNameRule =
    "1..200 characters of A-Z a-z 0-9 . _ -, not ending in .lock";

[[nodiscard]] bool IsShmNameChar(char c);
[[nodiscard]] ShmNameFault CheckShmName(std::string_view name);

// ---- Namespaces ----

inline constexpr std::string_view kDefaultNamespace = "default";
inline constexpr std::size_t kMaxNamespaceLength = 32;
inline constexpr char kNamespaceSeparator = '@';
// For messages: what a namespace name may be.
inline constexpr std::string_view kNamespaceRule =
    "1 to 32 characters from a-z 0-9 _ -, starting with a letter or digit";

[[nodiscard]] bool IsNamespaceName(std::string_view name);

// The segment name of namespace `ns` under SHM_NAME `shm_name`:
// `shm_name` itself for "default", else "<shm_name>@<ns>".
[[nodiscard]] std::string NamespaceSegmentName(std::string_view shm_name,
                                               std::string_view ns);

// The inverse of NamespaceSegmentName: "x@ns" is {"x", "ns"}, "x" is
// {"x", "default"}. Checks nothing (IsSegmentName does).
struct SegmentNameParts {
  std::string_view shm_name;
  std::string_view ns;
};
[[nodiscard]] SegmentNameParts SplitSegmentName(std::string_view segment);

// True when both parts of `segment` follow their rules: a name a broker
// may have made.
[[nodiscard]] bool IsSegmentName(std::string_view segment);

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
