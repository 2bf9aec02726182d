#include "keys/key_codec.h"

#include <stdexcept>

#include "base/status.h"

namespace forge::keys {
namespace {

constexpr std::uint64_t kBase = 62;

// splitmix64's finaliser (Stafford variant 13): a bijective 64-bit mixer
// whose every output bit depends on every input bit.
constexpr std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Smallest even bit width b with 2^b >= space.
int EvenBitsCovering(std::uint64_t space) {
  int bits = 0;
  while (bits < 64 && (std::uint64_t{1} << bits) < space) ++bits;
  return bits + (bits & 1);
}

// Digit value of each byte, or -1 when the byte is not in the alphabet.
struct DigitTable {
  std::array<std::int8_t, 256> value{};
  constexpr DigitTable() {
    value.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
      value[static_cast<unsigned char>(kAlphabet[i])] =
          static_cast<std::int8_t>(i);
    }
  }
};
constexpr DigitTable kDigits;

}  // namespace

std::uint64_t KeySpace(int length) {
  // Every length reaching here was checked where it entered (config, the
  // store's format), so another one is a programming error.
  FORGE_CHECK(length >= kMinKeyLength && length <= kMaxKeyLength,
              "key length " + std::to_string(length) +
                  " is outside the allowed range 1..10");
  std::uint64_t space = 1;
  for (int i = 0; i < length; ++i) space *= kBase;
  return space;
}

std::string_view KeyOrderName(KeyOrder order) {
  return order == KeyOrder::kSequential ? "sequential" : "scrambled";
}

std::optional<KeyOrder> ParseKeyOrder(std::string_view text) {
  for (const KeyOrder order : {KeyOrder::kScrambled, KeyOrder::kSequential}) {
    if (text == KeyOrderName(order)) return order;
  }
  return std::nullopt;
}

KeyCodec::KeyCodec(int length, KeyOrder order, std::uint64_t secret)
    : length_(length), order_(order), space_(KeySpace(length)) {
  half_bits_ = EvenBitsCovering(space_) / 2;
  half_mask_ = (std::uint64_t{1} << half_bits_) - 1;
  // Round keys: a splitmix64 sequence seeded with the secret.
  std::uint64_t state = secret;
  for (auto& key : round_keys_) {
    state += 0x9e3779b97f4a7c15ULL;
    key = Mix(state);
  }
}

void KeyCodec::Encode(std::uint64_t n, char* out) const {
  // The number comes from a store: one outside the key space is damaged
  // data, not a bug here, so it is a recoverable error.
  if (n >= space_) {
    throw Error(Code::kCorruption, "key number " + std::to_string(n) +
                                       " is outside the key space [0, " +
                                       std::to_string(space_) + ")");
  }
  std::uint64_t v = order_ == KeyOrder::kScrambled ? Permute(n) : n;
  for (int i = length_ - 1; i >= 0; --i) {
    out[i] = kAlphabet[v % kBase];
    v /= kBase;
  }
}

std::string KeyCodec::Encode(std::uint64_t n) const {
  std::string key(static_cast<std::size_t>(length_), '0');
  Encode(n, key.data());
  return key;
}

std::optional<std::uint64_t> KeyCodec::Decode(std::string_view key) const {
  if (key.size() != static_cast<std::size_t>(length_)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : key) {
    const int digit = kDigits.value[static_cast<unsigned char>(c)];
    if (digit < 0) return std::nullopt;
    v = v * kBase + static_cast<std::uint64_t>(digit);
  }
  return order_ == KeyOrder::kScrambled ? Unpermute(v) : v;
}

std::uint64_t KeyCodec::Round(int i, std::uint64_t half) const {
  return Mix(half ^ round_keys_[i]) >> (64 - half_bits_);
}

// Balanced Feistel: (l, r) -> (r, l ^ F_i(r)); a bijection on 2*half_bits.
std::uint64_t KeyCodec::FeistelForward(std::uint64_t x) const {
  std::uint64_t l = x >> half_bits_;
  std::uint64_t r = x & half_mask_;
  for (int i = 0; i < kRounds; ++i) {
    const std::uint64_t next = l ^ Round(i, r);
    l = r;
    r = next;
  }
  return (l << half_bits_) | r;
}

std::uint64_t KeyCodec::FeistelBackward(std::uint64_t x) const {
  std::uint64_t l = x >> half_bits_;
  std::uint64_t r = x & half_mask_;
  for (int i = kRounds - 1; i >= 0; --i) {
    const std::uint64_t prev = r ^ Round(i, l);
    r = l;
    l = prev;
  }
  return (l << half_bits_) | r;
}

// Cycle-walking: apply the Feistel bijection until the value lands back in
// [0, space). Starting inside the space, the walk must return to it (the
// cycle through n contains n), so this is a permutation of the space.
std::uint64_t KeyCodec::Permute(std::uint64_t n) const {
  std::uint64_t x = n;
  do {
    x = FeistelForward(x);
  } while (x >= space_);
  return x;
}

std::uint64_t KeyCodec::Unpermute(std::uint64_t n) const {
  std::uint64_t x = n;
  do {
    x = FeistelBackward(x);
  } while (x >= space_);
  return x;
}

}  // namespace forge::keys
