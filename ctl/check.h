// ctl/check.h — `forge-ctl check`: is this segment, its broker and its
// store in a state that can never hand out a key twice?
//
// Contract
//   * Checks, in order, one line each ("ok" or "FAIL", name, detail):
//       segment   the header validates (Segment::Attach read-only does it);
//       lock      a live process holds the producer lock (shm/producer_lock.h);
//       heartbeat the broker is alive, beating (kBrokerStaleMs) and
//                 neither stopped, failing on its store, nor exhausted;
//       store     DB_URL's store opens without being created (schema and
//                 metadata valid) and is the store the segment was filled
//                 from (same store identity, whatever its path or host);
//       format    the segment's key length and order are the store's;
//       counter   the store's counter is at or past the end of the
//                 broker's latest reservation, and every key in the ring
//                 decodes to a number below it (so the store can never
//                 hand those numbers out again).
//     A check that cannot run because an earlier one failed is a FAIL
//     saying "not checked".
//   * Read-only towards the segment and the ring; the store is only read
//     (see store_access.h for the side files OpenStore may create).
//   * Exit codes: 0 every check passed, 1 one failed or no segment exists
//     (then one line on stderr and no checks).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "shm/segment.h"

namespace forge::ctl {

struct CheckResult {
  bool ok = false;
  std::string name;
  std::string detail;
};

std::vector<CheckResult> RunChecks(const config::Config& cfg,
                                   const shm::ReadOnlySegment& seg);

// "ok   lock       ..." / "FAIL lock       ...".
std::string FormatCheck(const CheckResult& r);

int RunCheck(const config::Config& cfg, std::ostream& out);

}  // namespace forge::ctl
