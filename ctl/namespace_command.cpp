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
#include "ctl/policy_args.h"
#include "ctl/store_access.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "stats/stats.h"
#include "stats/text.h"
#include "store/format.h"

namespace forge::ctl {
namespace {

constexpr int kConflict = 2;

// One namespace as the store and its segment describe it.
struct NamespaceInfo {
  std::string name;
  store::StoreFormat format;
  keys::BlocklistSpec blocklist;     // its current one (ReadBlocklist)
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
  info.blocklist = ns.ReadBlocklist();
  info.used = ns.Next();
  info.segment = base::NamespaceSegmentName(shm_name, info.name);
  ReadServing(&info);
  return info;
}

std::string StateText(const NamespaceInfo& info) {
  if (info.served) return stats::ServingState(*info.served);
  return info.problem.empty() ? "not served" : "segment unreadable";
}

std::uint64_t SpaceOf(const store::StoreFormat& f) {
  return keys::KeySpace(f.policy.alphabet.size(), f.key_length);
}

// "base58", or "custom(40)" for a custom alphabet (its characters would
// not fit a row).
std::string AlphabetBrief(const keys::Alphabet& a) {
  return a.preset() ? a.spec() : "custom(" + std::to_string(a.size()) + ")";
}

// "base58 (58 characters: 1234…)": the name and every character.
std::string AlphabetText(const keys::Alphabet& a) {
  return (a.preset() ? a.spec() : std::string("custom")) + " (" +
         std::to_string(a.size()) + " characters: " + std::string(a.chars()) +
         ")";
}

std::string PrefixText(const std::string& prefix) {
  return prefix.empty() ? "none" : stats::JsonQuote(prefix);
}

// "none", "default", "custom(12)": the blocklist in a row.
std::string BlocklistBrief(const keys::BlocklistSpec& list) {
  if (list.kind != keys::BlocklistKind::kCustom) {
    return keys::DescribeBlocklist(list);
  }
  return "custom(" + std::to_string(list.words.size()) + ")";
}

// The key of number 0: what keys of the namespace look like.
std::string ExampleKey(const store::StoreFormat& f) {
  return store::CodecOf(f).Encode(0);
}

std::string UsedText(const NamespaceInfo& info) {
  const double fraction = static_cast<double>(info.used) /
                          static_cast<double>(SpaceOf(info.format));
  return std::to_string(info.used) + " (" + stats::Percent(fraction) + ")";
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
                       stats::JsonQuote(name) +
                       "; forge-ctl namespace list shows its namespaces");
  }
  return Describe(*ns, shm_name);
}

// One field of a namespace's fixed format, as a conflict names it.
struct FormatField {
  std::string name;  // "KEY_LENGTH", "alphabet"
  std::string flag;  // "--key-length"
  std::string stored;
  std::string wanted;
};

std::vector<FormatField> Fields(const store::StoreFormat& stored,
                                const store::StoreFormat& wanted) {
  const keys::KeyPolicy& s = stored.policy;
  const keys::KeyPolicy& w = wanted.policy;
  return {
      {"KEY_LENGTH", "--key-length", std::to_string(stored.key_length),
       std::to_string(wanted.key_length)},
      {"KEY_ORDER", "--key-order", OrderText(stored), OrderText(wanted)},
      {"alphabet", "--alphabet", s.alphabet.spec(), w.alphabet.spec()},
      {"check", "--check", std::string(keys::CheckKindName(s.check)),
       std::string(keys::CheckKindName(w.check))},
      {"prefix", "--prefix", stats::JsonQuote(s.prefix),
       stats::JsonQuote(w.prefix)},
  };
}

// The one line saying how `stored` differs from `wanted` (the first field
// that does) for namespace `name`; "" when they agree.
std::string Conflict(const std::string& name, const store::StoreFormat& stored,
                     const store::StoreFormat& wanted) {
  for (const FormatField& f : Fields(stored, wanted)) {
    if (f.stored == f.wanted) continue;
    return "namespace " + stats::JsonQuote(name) + " exists with " + f.name +
           "=" + f.stored + ", not " + f.wanted + " (" + f.flag +
           "); a namespace's format is fixed when it is created";
  }
  return "";
}

// What `create` says about an existing namespace's blocklist when the
// command asked for another one.
std::string BlocklistNote(const std::string& name,
                          const keys::BlocklistSpec& stored,
                          const std::optional<keys::BlocklistSpec>& asked,
                          const std::string& asked_text) {
  if (!asked || *asked == stored) return "";
  return "; its blocklist stays " + BlocklistText(stored) +
         " (forge-ctl namespace blocklist " + name + " " + asked_text +
         " changes it)";
}

int Create(const config::Config& cfg, const CreateRequest& request,
           std::ostream& out) {
  const std::string& name = request.name;
  CheckNamespaceName(name);
  store::StoreFormat wanted;
  wanted.key_length = request.key_length.value_or(cfg.key_length);
  wanted.order = cfg.key_order;
  wanted.policy = ParsePolicy(request.policy, wanted.key_length);
  std::optional<keys::BlocklistSpec> asked;
  if (request.policy.blocklist) {
    asked = ParseBlocklistArg(*request.policy.blocklist, "--blocklist");
  }
  wanted.blocklist =
      asked.value_or(keys::BlocklistSpec{keys::BlocklistKind::kDefault, {}});
  CheckPrefixAllowed(wanted.policy.prefix, wanted.blocklist, "--blocklist");
  const std::unique_ptr<store::RangeStore> root = OpenExistingStore(cfg);
  std::unique_ptr<store::RangeStore> other = OpenOther(*root, name);
  store::RangeStore* existing =
      name == base::kDefaultNamespace ? root.get() : other.get();
  if (existing != nullptr) {
    if (std::string why = Conflict(name, existing->format(), wanted);
        !why.empty()) {
      std::cerr << "forge-ctl: " << why << "\n";
      return kConflict;
    }
    out << "namespace " << stats::JsonQuote(name) << " exists already in "
        << root->Describe() << ": " << store::DescribeFormat(existing->format())
        << BlocklistNote(name, existing->ReadBlocklist(), asked,
                         request.policy.blocklist.value_or(""))
        << "\n";
    return 0;
  }
  other = root->OpenNamespace(name, &wanted);
  out << "created namespace " << stats::JsonQuote(name) << " in "
      << root->Describe() << ": " << store::DescribeFormat(other->format())
      << ", blocklist " << BlocklistText(other->ReadBlocklist())
      << ", keys like " << ExampleKey(other->format()) << "\n";
  return 0;
}

int SetBlocklist(const config::Config& cfg, const std::string& name,
                 const std::string& list, std::ostream& out) {
  CheckNamespaceName(name);
  const keys::BlocklistSpec wanted = ParseBlocklistArg(list, "LIST");
  const NamespaceStore s = OpenNamespaceStore(cfg, name);
  CheckPrefixAllowed(s.get().format().policy.prefix, wanted, "LIST");
  const keys::BlocklistSpec old = s.get().ReadBlocklist();
  out << "namespace " << stats::JsonQuote(name)
      << " blocklist: " << BlocklistText(old) << " -> "
      << BlocklistText(wanted);
  if (old == wanted) {
    out << " (unchanged)\n";
    return 0;
  }
  s.get().WriteBlocklist(wanted);
  out << "; brokers serving it apply it within about a second, to the keys "
         "already in its ring too\n";
  return 0;
}

// A row of `namespace list`: name, length, order, alphabet, check, prefix,
// blocklist, example key, key space, used, state.
constexpr const char* kListRow =
    "%-32s %-6s %-10s %-12s %-5s %-16s %-12s %-24s %-20s %-30s %s\n";

int List(const config::Config& cfg, std::ostream& out) {
  const std::unique_ptr<store::RangeStore> root = OpenExistingStore(cfg);
  char line[512];
  std::snprintf(line, sizeof(line), kListRow, "namespace", "length", "order",
                "alphabet", "check", "prefix", "blocklist", "example",
                "key space", "used", "state");
  out << line;
  for (const std::string& name : root->Namespaces()) {
    const NamespaceInfo i = DescribeExisting(*root, name, cfg.shm_name);
    const keys::KeyPolicy& p = i.format.policy;
    std::snprintf(
        line, sizeof(line), kListRow, i.name.c_str(),
        std::to_string(i.format.key_length).c_str(),
        OrderText(i.format).c_str(), AlphabetBrief(p.alphabet).c_str(),
        std::string(keys::CheckKindName(p.check)).c_str(),
        p.prefix.empty() ? "-" : p.prefix.c_str(),
        BlocklistBrief(i.blocklist).c_str(), ExampleKey(i.format).c_str(),
        std::to_string(SpaceOf(i.format)).c_str(), UsedText(i).c_str(),
        StateText(i).c_str());
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
      {"alphabet", AlphabetText(i.format.policy.alphabet)},
      {"check", std::string(keys::CheckKindName(i.format.policy.check))},
      {"prefix", PrefixText(i.format.policy.prefix)},
      {"blocklist", BlocklistText(i.blocklist)},
      {"example key", ExampleKey(i.format) + " (number 0)"},
      {"key space", std::to_string(SpaceOf(i.format))},
      {"used", UsedText(i)},
      {"created", stats::UtcIso(i.format.created_unix_s)},
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

int RunNamespaceCreate(const config::Config& cfg, const CreateRequest& request,
                       std::ostream& out) {
  return WithStoreErrors([&] { return Create(cfg, request, out); });
}

int RunNamespaceBlocklist(const config::Config& cfg, const std::string& name,
                          const std::string& list, std::ostream& out) {
  return WithStoreErrors([&] { return SetBlocklist(cfg, name, list, out); });
}

int RunNamespaceList(const config::Config& cfg, std::ostream& out) {
  return WithStoreErrors([&] { return List(cfg, out); });
}

int RunNamespaceShow(const config::Config& cfg, const std::string& name,
                     std::ostream& out) {
  return WithStoreErrors([&] { return Show(cfg, name, out); });
}

}  // namespace forge::ctl
