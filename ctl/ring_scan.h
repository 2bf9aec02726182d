// ctl/ring_scan.h — the keys currently published in a segment's ring, read
// without claiming any (forge-ctl check).
//
// Contract
//   * Only loads: it is Ring::Peek (shm/ring.h) on a read-only segment, so
//     it never moves the ring's head and consumers and the broker are not
//     disturbed. Keys claimed while they were copied are left out.
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

RingKeys ScanRing(const shm::ReadOnlySegment& seg);

}  // namespace forge::ctl
