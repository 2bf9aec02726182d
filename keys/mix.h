// keys/mix.h — the 64-bit mixer behind the key codec's Feistel rounds.
//
// Contract
//   * splitmix64's finaliser (Stafford variant 13): a bijective mixer whose
//     every output bit depends on every input bit. Its constants fix the
//     permutation of every scrambled key ever handed out: the scalar and
//     the vector code (key_codec_avx512.cpp) share them from here, and
//     they never change.
//   * Pure; usable at compile time.
#pragma once

#include <cstdint>

namespace forge::keys {

inline constexpr int kMixShift1 = 30;
inline constexpr int kMixShift2 = 27;
inline constexpr int kMixShift3 = 31;
inline constexpr std::uint64_t kMixMul1 = 0xbf58476d1ce4e5b9ULL;
inline constexpr std::uint64_t kMixMul2 = 0x94d049bb133111ebULL;

constexpr std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> kMixShift1)) * kMixMul1;
  z = (z ^ (z >> kMixShift2)) * kMixMul2;
  return z ^ (z >> kMixShift3);
}

}  // namespace forge::keys
