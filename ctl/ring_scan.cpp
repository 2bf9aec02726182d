// ctl/ring_scan.cpp — see ring_scan.h.
#include "ctl/ring_scan.h"

namespace forge::ctl {

RingKeys ScanRing(const shm::ReadOnlySegment& seg) {
  std::vector<shm::Key> keys;
  RingKeys out;
  out.head = seg.ring().Peek(&keys);
  const std::size_t n = keys.size() / seg.ring().Stride();
  out.keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.keys.emplace_back(
        shm::KeyTextAt(keys.data(), i, seg.header().key_length));
  }
  return out;
}

}  // namespace forge::ctl
