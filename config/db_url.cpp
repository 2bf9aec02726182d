// config/db_url.cpp — see db_url.h.
#include "config/db_url.h"

#include <cctype>
#include <string>

#include "base/names.h"
#include "config/internal.h"
#include "pq/libpq.h"

namespace forge::config {
namespace {

using base::StoreKind;

constexpr std::string_view kSqliteAbsolute = "sqlite:///";
constexpr std::string_view kMask = "***";

DbUrl ParseSqlite(std::string_view url) {
  DbUrl parsed;
  parsed.kind = StoreKind::kSqlite;
  if (url.starts_with(kSqliteAbsolute)) {
    parsed.sqlite_path = std::string(url.substr(kSqliteAbsolute.size() - 1));
    return parsed;
  }
  const std::string_view path = url.substr(base::kSqliteScheme.size());
  if (path.empty()) {
    parsed.problem = "has an empty path";
  } else if (path.starts_with("//")) {
    parsed.problem =
        "has a host part (sqlite://HOST/…); for an absolute path write "
        "sqlite:/PATH or sqlite:///PATH";
  } else if (path.starts_with("~")) {
    parsed.problem =
        "starts its path with \"~\", which nothing expands; write the full "
        "path";
  } else {
    parsed.sqlite_path = std::string(path);
  }
  return parsed;
}

// ---- redaction ----

// Replaces the password of scheme://user:password@host with ***. The
// userinfo ends at the last '@' before any '?', so a password holding '@'
// or '/' is still hidden whole (over-masking is fine, leaking is not).
void MaskUserInfo(std::string& url) {
  const auto scheme_end = url.find("://");
  const auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto query = url.find('?', start);
  const auto at =
      url.rfind('@', query == std::string::npos ? query : query - 1);
  if (at == std::string::npos || at < start) return;
  const auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return;
  url.replace(colon + 1, at - colon - 1, kMask);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = internal::LowerAscii(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A parameter name as libpq reads it: percent-decoded, here lower-cased.
std::string DecodedName(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size() && HexValue(name[i + 1]) >= 0 &&
        HexValue(name[i + 2]) >= 0) {
      out +=
          static_cast<char>(HexValue(name[i + 1]) * 16 + HexValue(name[i + 2]));
      i += 2;
    } else {
      out += name[i];
    }
  }
  return internal::ToLower(out);
}

bool IsSeparator(char c) {
  return c == '?' || c == '&' || c == ' ' || c == '\t';
}

// Replaces the value of every NAME=VALUE whose NAME contains "password"
// (URL query parameters and libpq keyword=value words alike) with ***.
void MaskPasswordParams(std::string& url) {
  for (std::size_t start = 0; start < url.size();) {
    const std::size_t eq = url.find('=', start);
    if (eq == std::string::npos) return;
    std::size_t name_start = eq;
    while (name_start > start && !IsSeparator(url[name_start - 1])) {
      --name_start;
    }
    std::size_t end = eq + 1;
    while (end < url.size() && url[end] != '&' && url[end] != ' ' &&
           url[end] != '\t') {
      ++end;
    }
    const std::string name =
        DecodedName(std::string_view(url).substr(name_start, eq - name_start));
    if (name.find("password") != std::string::npos) {
      url.replace(eq + 1, end - eq - 1, kMask);
      end = eq + 1 + kMask.size();
    }
    start = end;
  }
}

// False when libpq, reading `url`, would find a password other than ***
// (or is not installed).
// A URL libpq cannot parse never reaches a server: the textual masking
// is all there is to check.
bool LibpqFindsNoPassword(const std::string& url) {
  if (!pq::Loaded()) return false;  // cannot tell: mask it all
  std::string why;
  const pq::Options options = pq::ParseConninfo(url, &why);
  if (options == nullptr) return true;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || kMask == o->val) continue;
    if (internal::ToLower(o->keyword).find("password") != std::string::npos)
      return false;
  }
  return true;
}

// libpq's keyword=value form ("host=h1,h2 port=5432,5432 dbname=forge
// target_session_attrs=read-write"): no scheme, and every word a libpq
// keyword (PQconninfoParse refuses unknown ones).
bool IsKeywordForm(std::string_view url) {
  if (url.find('=') == std::string_view::npos ||
      url.find("://") != std::string_view::npos) {
    return false;
  }
  // Without libpq the words cannot be checked: taken as meant for it, so
  // the store's open says in one line that libpq is missing.
  if (!pq::Loaded()) return true;
  std::string why;
  return pq::ParseConninfo(std::string(url), &why) != nullptr;
}

}  // namespace

DbUrl ParseDbUrl(std::string_view url) {
  if (url.empty()) return DbUrl{StoreKind::kUnknown, "", "is empty"};
  switch (base::StoreKindOf(url)) {
    case StoreKind::kSqlite:
      return ParseSqlite(url);
    case StoreKind::kPostgres:
      return DbUrl{StoreKind::kPostgres, "",
                   url.size() == base::DbUrlScheme(url).size()
                       ? "names no server or database"
                       : ""};
    case StoreKind::kUnknown:
      break;
  }
  if (IsKeywordForm(url)) return DbUrl{StoreKind::kPostgres, "", ""};
  if (base::DbUrlSchemeMiscased(url)) {
    return DbUrl{StoreKind::kUnknown, "",
                 "has its scheme in upper case; write it in lower case"};
  }
  return DbUrl{StoreKind::kUnknown, "", "has an unknown scheme"};
}

std::string RedactDbUrl(std::string_view url) {
  const DbUrl parsed = ParseDbUrl(url);
  if (parsed.kind == StoreKind::kSqlite) return std::string(url);
  std::string out(url);
  MaskUserInfo(out);
  MaskPasswordParams(out);
  if (parsed.kind == StoreKind::kPostgres && !LibpqFindsNoPassword(out)) {
    return std::string(url.substr(0, url.find("://") + 3)) + std::string(kMask);
  }
  return out;
}

}  // namespace forge::config
