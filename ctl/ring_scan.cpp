// ctl/ring_scan.cpp — see ring_scan.h.
#include "ctl/ring_scan.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iterator>

#include "shm/layout.h"

namespace forge::ctl {
namespace {

// The segment is one mapping that starts with SegmentPrefix (layout.h);
// Header is its first member, so the header's address is the prefix's.
const shm::SegmentPrefix& Prefix(const shm::Segment& seg) {
  return *reinterpret_cast<const shm::SegmentPrefix*>(&seg.header());
}

const shm::Slot* Slots(const shm::SegmentPrefix& p) {
  return reinterpret_cast<const shm::Slot*>(reinterpret_cast<const char*>(&p) +
                                            shm::kSlotsOffset);
}

std::string CopySlot(const shm::Slot& slot) {
  char text[shm::kKeyBytes];
  std::uint64_t w[2];
  // relaxed: ordered by the tail acquire before and the head re-read
  // after, exactly as in Ring::TryPopBatch.
  w[0] = slot.word[0].load(std::memory_order_relaxed);
  w[1] = slot.word[1].load(std::memory_order_relaxed);
  std::memcpy(text, w, sizeof(w));
  return std::string(text, ::strnlen(text, sizeof(text)));
}

}  // namespace

RingKeys ScanRing(const shm::Segment& seg) {
  const shm::SegmentPrefix& p = Prefix(seg);
  const std::uint64_t mask = p.header.capacity - 1;
  // acquire: pairs with consumers' release CAS (as in Ring::Size).
  const std::uint64_t first = p.head.value.load(std::memory_order_acquire);
  // acquire: pairs with the producer's release store of tail, so the slot
  // words below it are visible.
  const std::uint64_t tail = p.tail.value.load(std::memory_order_acquire);
  std::vector<std::string> copies;
  for (std::uint64_t i = first; i < tail; ++i) {
    copies.push_back(CopySlot(Slots(p)[i & mask]));
  }
  // acquire fence: keeps the slot loads above from moving after the head
  // re-read below (seqlock-style read validation).
  std::atomic_thread_fence(std::memory_order_acquire);
  // relaxed: ordered by the fence; a slot still at or past this head was
  // not yet overwritten when it was copied.
  const std::uint64_t head = p.head.value.load(std::memory_order_relaxed);
  RingKeys out;
  out.head = std::max(head, first);
  const std::uint64_t skip =
      std::min<std::uint64_t>(out.head - first, copies.size());
  out.keys.assign(
      std::make_move_iterator(copies.begin() + static_cast<long>(skip)),
      std::make_move_iterator(copies.end()));
  return out;
}

}  // namespace forge::ctl
