// ctl/ring_scan.cpp — see ring_scan.h.
#include "ctl/ring_scan.h"

#include <cstring>

namespace forge::ctl {

RingKeys ScanRing(const shm::ReadOnlySegment& seg) {
  std::vector<shm::Key> keys;
  RingKeys out;
  out.head = seg.ring().Peek(&keys);
  out.keys.reserve(keys.size());
  for (const shm::Key& k : keys) {
    out.keys.emplace_back(k.text, ::strnlen(k.text, sizeof(k.text)));
  }
  return out;
}

}  // namespace forge::ctl
