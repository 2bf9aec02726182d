// ctl/check_key.cpp — see check_key.h.
#include "ctl/check_key.h"

#include <iostream>

#include "base/names.h"
#include "ctl/store_access.h"
#include "shm/segment.h"
#include "shm/segment_codec.h"
#include "stats/stats.h"
#include "stats/text.h"

namespace forge::ctl {
namespace {

std::string Bool(bool b) { return b ? "true" : "false"; }

// The verdict as GET /check-key spells it, on one line.
std::string VerdictJson(const std::string& ns,
                        const keys::KeyCodec::Verdict& v) {
  std::string json = "{\"namespace\":" + stats::JsonQuote(ns) +
                     ",\"well_formed\":" + Bool(v.well_formed) +
                     ",\"check_ok\":" + Bool(v.check_ok);
  if (v.check_ok && v.number)
    json += ",\"number\":" + std::to_string(*v.number);
  return json + "}\n";
}

// The one line for a namespace whose segment cannot be attached.
std::string AttachProblem(const std::string& shm_name, const std::string& ns,
                          const shm::SegmentError& e) {
  if (dynamic_cast<const shm::SegmentMissing*>(&e) == nullptr) {
    return std::string("forge-ctl: ") + e.what();
  }
  if (ns == base::kDefaultNamespace)
    return stats::MissingSegmentMessage(shm_name);
  const std::string segment = base::NamespaceSegmentName(shm_name, ns);
  return "forge-ctl: namespace " + stats::JsonQuote(ns) +
         " is not served under " + "SHM_NAME=" + shm_name + " (no segment " +
         shm::Segment::ObjectPath(segment) +
         "): check-key reads the format from the segment its broker makes";
}

int CheckKey(const std::string& shm_name, const std::string& ns,
             const std::string& key, std::ostream& out) {
  CheckNamespaceName(ns);
  keys::KeyCodec::Verdict verdict;
  try {
    const shm::ReadOnlySegment seg =
        shm::ReadOnlySegment::Attach(base::NamespaceSegmentName(shm_name, ns));
    const keys::KeyCodec codec = shm::SegmentCodec(seg);
    if (std::string why = seg.Damage(); !why.empty()) {
      throw shm::SegmentError(why);
    }
    verdict = codec.Check(key);
  } catch (const shm::SegmentError& e) {
    std::cerr << AttachProblem(shm_name, ns, e) << "\n";
    return 1;
  }
  out << VerdictJson(ns, verdict);
  return verdict.check_ok ? 0 : 1;
}

}  // namespace

int RunCheckKey(const std::string& shm_name, const std::string& ns,
                const std::string& key, std::ostream& out) {
  return WithStoreErrors([&] { return CheckKey(shm_name, ns, key, out); });
}

}  // namespace forge::ctl
