// config/db_url.h — the one reader of DB_URL: which store it names, the
// SQLite file's path, and the one password redaction every message uses.
//
// Contract
//   * ParseDbUrl is the only place that decides a DB_URL's scheme; the
//     loader, OpenStore and forge-ctl ask it. The scheme itself (lower
//     case only) is base/names.h's DbUrlScheme. Allowed forms (kDbUrlForms):
//       sqlite:PATH            PATH relative to the working directory or
//                              absolute (sqlite:./data/forge.db,
//                              sqlite:/var/lib/forge.db)
//       sqlite:///ABS/PATH     the URL form of an absolute path
//       postgres://…, postgresql://…   a libpq URI, given to libpq as is;
//                              several hosts too (issue 16):
//                              postgresql://h1:5432,h2:5432/forge?
//                              target_session_attrs=read-write
//       host=h1,h2 port=5432,5432 dbname=forge …   libpq's keyword=value
//                              form (every word a libpq keyword), as is
//     Refused, with the allowed forms named: an empty path, sqlite://HOST/…
//     (a host part: sqlite://x.db would be the file /x.db), a PATH starting
//     with "~" (no shell expands it: it would be a directory named "~"),
//     an upper-case scheme, any other scheme.
//   * RedactDbUrl returns `url` with every password replaced by "***": the
//     password of the userinfo (scheme://user:***@host) and the value of
//     every parameter whose name contains "password" in any case
//     (password=, sslpassword=, percent-encoded names too). For a
//     PostgreSQL URL the result is checked with libpq's own parser
//     (PQconninfoParse): if libpq would still find a password in it, only
//     "scheme://***" is returned. A sqlite: URL is returned unchanged.
//     Use it whenever a DB_URL (or a text derived from one) is printed.
//   * Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/names.h"

namespace forge::config {

inline constexpr std::string_view kDbUrlForms =
    "sqlite:PATH (relative or absolute, e.g. sqlite:./data/forge.db), "
    "sqlite:///ABSOLUTE/PATH, postgres://USER[:PASSWORD]@HOST[:PORT]/DB or "
    "postgresql://… (several HOST[:PORT] separated by commas), or libpq's "
    "keyword form (host=H1,H2 port=P1,P2 dbname=DB …)";

struct DbUrl {
  base::StoreKind kind = base::StoreKind::kUnknown;  // from the scheme alone
  std::string sqlite_path;  // the file, when kind is kSqlite and valid
  std::string problem;      // "" when the URL is an allowed form
  bool ok() const { return problem.empty(); }
};

DbUrl ParseDbUrl(std::string_view url);

std::string RedactDbUrl(std::string_view url);

}  // namespace forge::config
