// tests/shm/test_keys.h — keys that carry a unique 64-bit number.
//
// Contract: bytes 0..7 hold the number, bytes 8..15 its complement, so a
// torn or corrupted copy is detected (Valid() is false). Header-only,
// stateless, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>

#include "shm/ring.h"

namespace forge::shm::testing {

inline Key MakeKey(std::uint64_t n) {
  Key k;
  const std::uint64_t words[2] = {n, ~n};
  std::memcpy(k.text, words, sizeof(words));
  return k;
}

inline std::uint64_t NumberOf(const Key& k) {
  std::uint64_t words[2];
  std::memcpy(words, k.text, sizeof(words));
  return words[0];
}

inline bool Valid(const Key& k) {
  std::uint64_t words[2];
  std::memcpy(words, k.text, sizeof(words));
  return words[1] == ~words[0];
}

}  // namespace forge::shm::testing
