// keys/key_order.h — the order keys are handed out in (docs/design.md §6).
//
// Contract: kScrambled keys follow a keyed permutation of the numbers
// (KeyCodec); kSequential keys follow the numbers. A value type.
#pragma once

namespace forge::keys {

enum class KeyOrder { kScrambled, kSequential };

}  // namespace forge::keys
