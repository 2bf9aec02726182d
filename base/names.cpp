// base/names.cpp — see names.h.
#include "base/names.h"

#include <algorithm>
#include <array>

namespace forge::base {
namespace {

constexpr std::array<std::string_view, 3> kSchemes = {
    kSqliteScheme, "postgres://", "postgresql://"};

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when `s` starts with `prefix` (lower case) in any case.
bool StartsWithAnyCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(),
                    [](char p, char c) { return p == Lower(c); });
}

}  // namespace

bool IsShmNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

ShmNameFault CheckShmName(std::string_view name) {
  if (name.empty()) return ShmNameFault::kEmpty;
  if (name.size() > kMaxShmNameLength) return ShmNameFault::kTooLong;
  if (!std::all_of(name.begin(), name.end(), IsShmNameChar)) {
    return ShmNameFault::kBadCharacter;
  }
  if (name.ends_with(kShmLockSuffix)) return ShmNameFault::kLockSuffix;
  return ShmNameFault::kNone;
}

bool IsNamespaceName(std::string_view name) {
  const auto lower_or_digit = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > kMaxNamespaceLength) return false;
  if (!lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return lower_or_digit(c) || c == '_' || c == '-';
  });
}

std::string NamespaceSegmentName(std::string_view shm_name,
                                 std::string_view ns) {
  std::string name(shm_name);
  if (ns == kDefaultNamespace) return name;
  name += kNamespaceSeparator;
  name += ns;
  return name;
}

SegmentNameParts SplitSegmentName(std::string_view segment) {
  const std::size_t at = segment.find(kNamespaceSeparator);
  if (at == std::string_view::npos) return {segment, kDefaultNamespace};
  return {segment.substr(0, at), segment.substr(at + 1)};
}

bool IsSegmentName(std::string_view segment) {
  const SegmentNameParts parts = SplitSegmentName(segment);
  return CheckShmName(parts.shm_name) == ShmNameFault::kNone &&
         IsNamespaceName(parts.ns);
}

std::string_view DbUrlScheme(std::string_view url) {
  for (std::string_view scheme : kSchemes) {
    if (url.starts_with(scheme)) return scheme;
  }
  return {};
}

StoreKind StoreKindOf(std::string_view url) {
  const std::string_view scheme = DbUrlScheme(url);
  if (scheme.empty()) return StoreKind::kUnknown;
  return scheme == kSqliteScheme ? StoreKind::kSqlite : StoreKind::kPostgres;
}

bool DbUrlSchemeMiscased(std::string_view url) {
  return DbUrlScheme(url).empty() &&
         std::any_of(
             kSchemes.begin(), kSchemes.end(),
             [url](std::string_view s) { return StartsWithAnyCase(url, s); });
}

const char* StoreKindName(StoreKind kind) {
  switch (kind) {
    case StoreKind::kSqlite:
      return "sqlite";
    case StoreKind::kPostgres:
      return "postgres";
    case StoreKind::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace forge::base
