// ctl/namespace_command.cpp — see namespace_command.h.
#include "ctl/namespace_command.h"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/names.h"
#include "ctl/stats.h"
#include "ctl/store_access.h"
#include "ctl/text.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "store/format.h"

namespace forge::ctl {
namespace {

constexpr int kConflict = 2;

// One namespace as the store and its segment describe it.
struct NamespaceInfo {
  std::string name;
  store::StoreFormat format;
  std::uint64_t used = 0;            // the namespace's counter
  std::string segment;               // its segment name under SHM_NAME
  std::optional<shm::Stats> served;  // nullopt: no (readable) segment
  std::string problem;               // why a segment could not be read
};

// Reads the namespace's segment, if it has one, with shm::ReadStats.
void ReadServing(NamespaceInfo* info) {
  try {
    const shm::ReadOnlySegment seg =
        shm::ReadOnlySegment::Attach(info->segment);
    shm::Stats stats = shm::ReadStats(seg, base::UnixNowNs());
    if (std::string why = seg.Damage(); !why.empty()) {
      info->problem = std::move(why);
      return;
    }
    info->served = std::move(stats);
  } catch (const shm::SegmentMissing&) {
    // Not served under this SHM_NAME.
  } catch (const shm::SegmentError& e) {
    info->problem = e.what();
  }
}

NamespaceInfo Describe(store::RangeStore& ns, const std::string& shm_name) {
  NamespaceInfo info;
  info.name = ns.namespace_name();
  info.format = ns.format();
  info.used = ns.Next();
  info.segment = base::NamespaceSegmentName(shm_name, info.name);
  ReadServing(&info);
  return info;
}

std::string StateText(const NamespaceInfo& info) {
  if (info.served) return ServingState(*info.served);
  return info.problem.empty() ? "not served" : "segment unreadable";
}

std::uint64_t SpaceOf(const store::StoreFormat& f) {
  return keys::KeySpace(f.key_length);
}

std::string UsedText(const NamespaceInfo& info) {
  const double fraction = static_cast<double>(info.used) /
                          static_cast<double>(SpaceOf(info.format));
  return std::to_string(info.used) + " (" + Percent(fraction) + ")";
}

std::string OrderText(const store::StoreFormat& f) {
  return std::string(keys::KeyOrderName(f.order));
}

// The namespace `name` of the store whose default object is `root`, or
// nullptr when it has none. `root` itself for "default".
std::unique_ptr<store::RangeStore> OpenOther(store::RangeStore& root,
                                             const std::string& name) {
  if (name == base::kDefaultNamespace) return nullptr;
  return root.OpenNamespace(name, nullptr);
}

// Opens `name` (which must exist: else BadNamespace) and describes it.
NamespaceInfo DescribeExisting(store::RangeStore& root, const std::string& name,
                               const std::string& shm_name) {
  CheckNamespaceName(name);
  if (name == base::kDefaultNamespace) return Describe(root, shm_name);
  const std::unique_ptr<store::RangeStore> ns = OpenOther(root, name);
  if (!ns) {
    throw BadNamespace("store " + root.Describe() + " has no namespace " +
                       JsonQuote(name) +
                       "; forge-ctl namespace list shows its namespaces");
  }
  return Describe(*ns, shm_name);
}

// The one line saying how `stored` differs from `wanted` (key length
// first, then order), for namespace `name`.
std::string Conflict(const std::string& name, const store::StoreFormat& stored,
                     const store::StoreFormat& wanted) {
  const bool length = stored.key_length != wanted.key_length;
  const std::string field = length ? "KEY_LENGTH" : "KEY_ORDER";
  const std::string has =
      length ? std::to_string(stored.key_length) : OrderText(stored);
  const std::string asked =
      length ? std::to_string(wanted.key_length) : OrderText(wanted);
  return "namespace " + JsonQuote(name) + " exists with " + field + "=" + has +
         ", not " + asked + " (" + (length ? "--key-length" : "--key-order") +
         "); a namespace's format is fixed when it is created";
}

int Create(const config::Config& cfg, const std::string& name,
           std::ostream& out) {
  CheckNamespaceName(name);
  const std::unique_ptr<store::RangeStore> root = OpenExistingStore(cfg);
  store::StoreFormat wanted;
  wanted.key_length = cfg.key_length;
  wanted.order = cfg.key_order;
  std::unique_ptr<store::RangeStore> other = OpenOther(*root, name);
  const store::RangeStore* existing =
      name == base::kDefaultNamespace ? root.get() : other.get();
  if (existing != nullptr) {
    if (!store::SameKeyFormat(existing->format(), wanted)) {
      std::cerr << "forge-ctl: " << Conflict(name, existing->format(), wanted)
                << "\n";
      return kConflict;
    }
    out << "namespace " << JsonQuote(name) << " exists already in "
        << root->Describe() << ": " << store::DescribeFormat(existing->format())
        << "\n";
    return 0;
  }
  other = root->OpenNamespace(name, &wanted);
  out << "created namespace " << JsonQuote(name) << " in " << root->Describe()
      << ": " << store::DescribeFormat(other->format()) << "\n";
  return 0;
}

int List(const config::Config& cfg, std::ostream& out) {
  const std::unique_ptr<store::RangeStore> root = OpenExistingStore(cfg);
  char line[256];
  std::snprintf(line, sizeof(line), "%-32s %-6s %-10s %-20s %-30s %s\n",
                "namespace", "length", "order", "key space", "used", "state");
  out << line;
  for (const std::string& name : root->Namespaces()) {
    const NamespaceInfo i = DescribeExisting(*root, name, cfg.shm_name);
    std::snprintf(line, sizeof(line), "%-32s %-6d %-10s %-20llu %-30s %s\n",
                  i.name.c_str(), i.format.key_length,
                  OrderText(i.format).c_str(),
                  static_cast<unsigned long long>(SpaceOf(i.format)),
                  UsedText(i).c_str(), StateText(i).c_str());
    out << line;
  }
  return 0;
}

int Show(const config::Config& cfg, const std::string& name,
         std::ostream& out) {
  CheckNamespaceName(name);
  const std::unique_ptr<store::RangeStore> root = OpenExistingStore(cfg);
  const NamespaceInfo i = DescribeExisting(*root, name, cfg.shm_name);
  std::vector<std::pair<std::string, std::string>> rows = {
      {"namespace", i.name},
      {"store", root->Describe()},
      {"key format", "length " + std::to_string(i.format.key_length) + ", " +
                         OrderText(i.format)},
      {"key space", std::to_string(SpaceOf(i.format))},
      {"used", UsedText(i)},
      {"created", UtcIso(i.format.created_unix_s)},
      {"segment", i.segment + " (" + shm::Segment::ObjectPath(i.segment) + ")"},
      {"state", StateText(i) + (i.problem.empty() ? "" : ": " + i.problem)},
  };
  if (i.served) {
    rows.emplace_back("ring fill", std::to_string(i.served->ring_fill) + " / " +
                                       std::to_string(i.served->ring_capacity));
  }
  for (const auto& [label, value] : rows) {
    char pad[24];
    std::snprintf(pad, sizeof(pad), "%-17s", label.c_str());
    out << pad << value << "\n";
  }
  return 0;
}

}  // namespace

int RunNamespaceCreate(const config::Config& cfg, const std::string& name,
                       std::ostream& out) {
  return WithStoreErrors([&] { return Create(cfg, name, out); });
}

int RunNamespaceList(const config::Config& cfg, std::ostream& out) {
  return WithStoreErrors([&] { return List(cfg, out); });
}

int RunNamespaceShow(const config::Config& cfg, const std::string& name,
                     std::ostream& out) {
  return WithStoreErrors([&] { return Show(cfg, name, out); });
}

}  // namespace forge::ctl
