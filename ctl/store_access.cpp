// ctl/store_access.cpp — see store_access.h.
#include "ctl/store_access.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "base/names.h"
#include "config/db_url.h"
#include "shm/segment.h"
#include "shm/segment_codec.h"
#include "stats/text.h"
#include "store/format.h"

namespace forge::ctl {
namespace {

namespace fs = std::filesystem;

// Throws StoreMissing unless the SQLite file `path` exists and holds
// something (a broker writes the schema right after creating it).
void RequireSqliteFile(const std::string& path) {
  const fs::path file(path);
  std::error_code ec;
  const fs::path shown = fs::absolute(file, ec).lexically_normal();
  const std::string where = "sqlite:" + (ec ? file.string() : shown.string());
  const auto status = fs::status(file, ec);
  const char* problem = nullptr;
  if (!fs::exists(status)) {
    problem = "does not exist";
  } else if (!fs::is_regular_file(status)) {
    problem = "is not a regular file";
  } else if (fs::file_size(file, ec) == 0 || ec) {
    problem = "is empty";
  }
  if (problem == nullptr) return;
  throw StoreMissing("forge-ctl: store " + where + " " + problem +
                     " (DB_URL); forge-ctl never creates a store: point "
                     "DB_URL at the one forge-broker uses");
}

}  // namespace

store::StoreFormat FormatOf(const shm::ReadOnlySegment& seg) {
  const keys::KeyCodec codec = shm::SegmentCodec(seg);
  store::StoreFormat f;
  f.key_length = codec.length();
  f.order = codec.order();
  f.policy = codec.policy();
  return f;
}

std::string DescribeSegmentFormat(const shm::ReadOnlySegment& seg) {
  return store::DescribeFormat(FormatOf(seg));
}

std::unique_ptr<store::RangeStore> OpenExistingStore(
    const config::Config& cfg) {
  const config::DbUrl url = config::ParseDbUrl(cfg.db_url);
  if (url.ok() && url.kind == base::StoreKind::kSqlite) {
    RequireSqliteFile(url.sqlite_path);
  }
  store::StoreFormat stored;
  stored.key_length = 0;  // take the store's format
  store::StoreLimits limits;
  limits.timeout = std::chrono::milliseconds(cfg.store_timeout_ms);
  return store::OpenStore(cfg.db_url, stored, limits);
}

void CheckNamespaceName(const std::string& ns) {
  if (base::IsNamespaceName(ns)) return;
  throw BadNamespace(
      "namespace " + stats::JsonQuote(ns) +
      " is not a namespace name: " + std::string(base::kNamespaceRule));
}

NamespaceStore OpenNamespaceStore(const config::Config& cfg,
                                  const std::string& ns) {
  CheckNamespaceName(ns);
  NamespaceStore s;
  s.root = OpenExistingStore(cfg);
  if (ns == base::kDefaultNamespace) return s;
  s.other = s.root->OpenNamespace(ns, nullptr);
  if (!s.other) {
    throw BadNamespace("store " + s.root->Describe() + " has no namespace " +
                       stats::JsonQuote(ns) +
                       "; forge-ctl namespace list shows its namespaces");
  }
  return s;
}

int WithStoreErrors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const BadArgument& e) {
    std::cerr << "forge-ctl: " << e.what() << "\n";
    return 2;
  } catch (const StoreMissing& e) {
    std::cerr << e.what() << "\n";  // it names the program already
  } catch (const store::StoreError& e) {
    std::cerr << "forge-ctl: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace forge::ctl
