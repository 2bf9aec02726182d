// keys/key_codec_avx512.cpp — KeyCodec::EncodeVectors: EncodeRange's
// kernel for CPUs with AVX-512 (issue 18 §2: the broker's supply).
//
// kVectorKeys numbers per call, one per 64-bit lane of kVectors vectors:
// the same Feistel rounds and cycle-walk as FeistelForward (keys/mix.h),
// then the digits by division in double precision, corrected to the exact
// quotient, and the characters by one byte-permute of the alphabet. The
// vectors are independent chains, interleaved so the CPU overlaps their
// multiply latencies (one vector alone waits on each of them).
// KeyCodec's constructor enables it only when the CPU has the instructions
// (AVX512 F, DQ, BW, VL, VBMI) and the policy fits (an alphabet of at most
// 64 characters, at most 8 digits, no check character), so every value is
// below 2^48. Only the functions here are compiled for those instructions,
// and none runs unless vector_ is set.
// On other architectures CpuHasVectorKernel() is false and EncodeVectors
// is never called (the stubs at the end).
#include "base/status.h"
#include "keys/key_codec.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "keys/mix.h"

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* temporaries (GCC bug 105593); nothing here is.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define FORGE_AVX512 \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vbmi")))

namespace forge::keys {
namespace {

constexpr std::size_t kLanesPerVector = 8;
constexpr std::size_t kVectors = KeyCodec::kVectorKeys / kLanesPerVector;
static_assert(kVectors * kLanesPerVector == KeyCodec::kVectorKeys);

struct Vectors {
  __m512i v[kVectors];
};

FORGE_AVX512 __m512i MixEight(__m512i z) {
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, kMixShift1));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64(kMixMul1));
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, kMixShift2));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64(kMixMul2));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, kMixShift3));
}

struct Feistel {
  const std::uint64_t* round_keys;
  int rounds;
  int half_bits;
  std::uint64_t space;
};

// FeistelForward on every lane, again on the lanes still at or above the
// space (the others keep their value), until none is: the scalar
// cycle-walk, lane by lane.
FORGE_AVX512 void PermuteLanes(const Feistel& f, Vectors& x) {
  const __m128i up = _mm_cvtsi32_si128(f.half_bits);
  const __m128i down = _mm_cvtsi32_si128(64 - f.half_bits);
  const __m512i half_mask =
      _mm512_set1_epi64(static_cast<long long>((1ULL << f.half_bits) - 1));
  const __m512i limit = _mm512_set1_epi64(static_cast<long long>(f.space));
  __mmask8 walk[kVectors];
  for (auto& w : walk) w = 0xFF;
  for (bool any = true; any;) {
    Vectors l;
    Vectors r;
    for (std::size_t j = 0; j < kVectors; ++j) {
      l.v[j] = _mm512_srl_epi64(x.v[j], up);
      r.v[j] = _mm512_and_si512(x.v[j], half_mask);
    }
    for (int i = 0; i < f.rounds; ++i) {
      const __m512i key =
          _mm512_set1_epi64(static_cast<long long>(f.round_keys[i]));
      for (std::size_t j = 0; j < kVectors; ++j) {
        const __m512i g =
            _mm512_srl_epi64(MixEight(_mm512_xor_si512(r.v[j], key)), down);
        const __m512i next = _mm512_xor_si512(l.v[j], g);
        l.v[j] = r.v[j];
        r.v[j] = next;
      }
    }
    any = false;
    for (std::size_t j = 0; j < kVectors; ++j) {
      const __m512i y = _mm512_or_si512(_mm512_sll_epi64(l.v[j], up), r.v[j]);
      x.v[j] = _mm512_mask_mov_epi64(x.v[j], walk[j], y);
      walk[j] = _mm512_cmpge_epu64_mask(x.v[j], limit);
      any = any || walk[j] != 0;
    }
  }
}

// Digits of every lane (most significant first) as characters, byte i of
// a lane holding digit i.
FORGE_AVX512 void Digits(std::uint64_t base, int length, const char* chars64,
                         Vectors& x) {
  const __m512i b = _mm512_set1_epi64(static_cast<long long>(base));
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i low_byte = _mm512_set1_epi64(0xFF);
  const __m512d inverse = _mm512_set1_pd(1.0 / static_cast<double>(base));
  const __m512i table = _mm512_loadu_si512(chars64);
  Vectors text;
  for (auto& t : text.v) t = zero;
  for (int pos = length - 1; pos >= 0; --pos) {
    const __m128i at = _mm_cvtsi32_si128(8 * pos);
    for (std::size_t j = 0; j < kVectors; ++j) {
      // v < 2^48 converts exactly, and the rounded quotient is off by less
      // than one (a relative error near 2^-52 of a value below 2^47), so
      // one step each way makes it exact, with r in [0, base).
      const __m512i v = x.v[j];
      __m512i q =
          _mm512_cvttpd_epu64(_mm512_mul_pd(_mm512_cvtepu64_pd(v), inverse));
      __m512i r = _mm512_sub_epi64(v, _mm512_mullo_epi64(q, b));
      const __mmask8 over = _mm512_cmplt_epi64_mask(r, zero);
      q = _mm512_mask_sub_epi64(q, over, q, one);
      r = _mm512_mask_add_epi64(r, over, r, b);
      const __mmask8 under = _mm512_cmpge_epi64_mask(r, b);
      q = _mm512_mask_add_epi64(q, under, q, one);
      r = _mm512_mask_sub_epi64(r, under, r, b);
      // Byte 0 of each lane is the digit (< 64): its character.
      const __m512i c =
          _mm512_and_si512(_mm512_permutexvar_epi8(r, table), low_byte);
      text.v[j] = _mm512_or_si512(text.v[j], _mm512_sll_epi64(c, at));
      x.v[j] = q;
    }
  }
  x = text;
}

}  // namespace

bool KeyCodec::CpuHasVectorKernel() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vbmi");
  }();
  return has;
}

FORGE_AVX512 void KeyCodec::EncodeVectors(std::uint64_t first, char* out,
                                          std::size_t stride) const {
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  Vectors x;
  for (std::size_t j = 0; j < kVectors; ++j) {
    const std::uint64_t start = first + j * kLanesPerVector;
    x.v[j] = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(start)),
                              lane);
  }
  if (order_ == KeyOrder::kScrambled) {
    PermuteLanes(Feistel{round_keys_.data(), kRounds, half_bits_, space_}, x);
  }
  Digits(policy_.alphabet.size(), length_, vector_chars_.data(), x);
  alignas(64) std::uint64_t words[kVectorKeys];
  for (std::size_t j = 0; j < kVectors; ++j) {
    _mm512_store_si512(words + j * kLanesPerVector, x.v[j]);
  }
  const auto digits = static_cast<__mmask16>((1U << length_) - 1);
  const std::size_t prefix = policy_.prefix.size();
  for (std::size_t k = 0; k < kVectorKeys; ++k) {
    char* slot = out + k * stride;
    policy_.prefix.copy(slot, prefix);
    _mm_mask_storeu_epi8(slot + prefix, digits,
                         _mm_cvtsi64_si128(static_cast<long long>(words[k])));
  }
}

}  // namespace forge::keys

#undef FORGE_AVX512
#pragma GCC diagnostic pop

#else  // not x86-64: no kernel

namespace forge::keys {

bool KeyCodec::CpuHasVectorKernel() { return false; }

void KeyCodec::EncodeVectors(std::uint64_t, char*, std::size_t) const {
  FORGE_CHECK(false, "EncodeVectors without AVX-512");
}

}  // namespace forge::keys

#endif  // defined(__x86_64__)
