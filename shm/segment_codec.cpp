// shm/segment_codec.cpp — see segment_codec.h.
#include "shm/segment_codec.h"

#include "shm/segment_check.h"

namespace forge::shm {

keys::KeyCodec SegmentCodec(const ReadOnlySegment& seg) {
  const Header& h = seg.header();
  const KeyFormat& f = seg.key_format();
  Result<keys::KeyPolicy> policy =
      ReadKeyPolicy(h, f, ReadOnlySegment::ObjectPath(seg.name()));
  if (!policy.ok()) throw SegmentError(policy.status());
  const keys::KeyOrder order = h.key_order == 1 ? keys::KeyOrder::kSequential
                                                : keys::KeyOrder::kScrambled;
  return keys::KeyCodec(static_cast<int>(f.digits), order, f.secret,
                        std::move(policy).value());
}

}  // namespace forge::shm
