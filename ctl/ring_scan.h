// ctl/ring_scan.h — the keys currently published in a segment's ring, read
// without claiming any (forge-ctl check).
//
// Contract
//   * Only loads: works on a segment attached with Access::kReadOnly and
//     never moves the ring's head, so consumers and the broker are not
//     disturbed.
//   * Consumers may claim (and the broker then overwrite) slots while they
//     are copied. The scan re-reads head after copying and keeps only the
//     slots still unclaimed then, i.e. those that could not have been
//     overwritten yet (the producer writes slot i + capacity only after head
//     passed i) — the same copy-then-validate rule a consumer's CAS uses.
//   * Every key returned was pushed by the broker at some point, so it came
//     from a range the store had already committed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shm/segment.h"

namespace forge::ctl {

struct RingKeys {
  std::uint64_t head = 0;  // ring index of keys[0]
  std::vector<std::string> keys;
};

RingKeys ScanRing(const shm::Segment& seg);

}  // namespace forge::ctl
