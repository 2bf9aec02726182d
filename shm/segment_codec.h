// shm/segment_codec.h — the codec of the keys in a segment's ring.
//
// Contract
//   * SegmentCodec(seg) builds the keys::KeyCodec that spelled the keys of
//     `seg` from its Header (key order) and KeyFormat block (digits,
//     alphabet, check character, prefix, secret; layout.h), so a reader
//     (/check-key, forge-ctl check-key, the broker draining its ring) can
//     decode and check keys without the store.
//   * A KeyFormat block that does not parse throws SegmentError
//     (kCorruption) naming the segment's path and the damaged field: the
//     same check attach makes (segment_check.h ReadKeyPolicy), so on an
//     attached segment it only fails if the memory changed since.
//   * Reads only (a ReadOnlySegment); build it once per attachment, not per
//     key: the codec is immutable and safe to share between threads.
#pragma once

#include "keys/key_codec.h"
#include "shm/segment.h"

namespace forge::shm {

[[nodiscard]] keys::KeyCodec SegmentCodec(const ReadOnlySegment& seg);

}  // namespace forge::shm
