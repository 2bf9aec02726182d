#include "keys/key_codec.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "base/status.h"
#include "keys/mix.h"

namespace forge::keys {
namespace {

__extension__ typedef unsigned __int128 Wide;  // GCC and Clang

// Smallest even bit width b with 2^b >= space.
int EvenBitsCovering(std::uint64_t space) {
  int bits = 0;
  while (bits < 64 && (std::uint64_t{1} << bits) < space) ++bits;
  return bits + (bits & 1);
}

// How config, stores and segments spell an enum's values (the first is
// the default).
template <typename Enum>
struct Spelling {
  Enum value;
  std::string_view name;
};
constexpr Spelling<CheckKind> kCheckNames[] = {{CheckKind::kNone, "none"},
                                               {CheckKind::kLuhn, "luhn"}};
constexpr Spelling<KeyOrder> kOrderNames[] = {
    {KeyOrder::kScrambled, "scrambled"}, {KeyOrder::kSequential, "sequential"}};

template <typename Enum, std::size_t N>
std::string_view NameOf(const Spelling<Enum> (&names)[N], Enum value) {
  for (const Spelling<Enum>& s : names) {
    if (s.value == value) return s.name;
  }
  return names[0].name;
}

template <typename Enum, std::size_t N>
std::optional<Enum> ValueOf(const Spelling<Enum> (&names)[N],
                            std::string_view text) {
  for (const Spelling<Enum>& s : names) {
    if (s.name == text) return s.value;
  }
  return std::nullopt;
}

// Luhn mod N over digit values fed right to left (the rightmost digit of
// the key without its check character is doubled first).
class LuhnSum {
 public:
  explicit LuhnSum(std::uint32_t n) : n_(n) {}
  void Add(std::uint32_t digit) {
    // Doubling adds the base-n digit sum of 2 * digit.
    const std::uint32_t twice = 2 * digit;
    sum_ += !double_ ? digit : twice < n_ ? twice : twice - n_ + 1;
    double_ = !double_;
  }
  // The check digit that brings the sum to a multiple of n.
  std::uint32_t CheckDigit() const {
    return static_cast<std::uint32_t>((n_ - sum_ % n_) % n_);
  }

 private:
  std::uint32_t n_;
  std::uint64_t sum_ = 0;
  bool double_ = true;
};

}  // namespace

std::uint64_t KeySpace(int length) {
  return KeySpace(static_cast<std::uint32_t>(kAlphabet.size()), length);
}

std::string_view CheckKindName(CheckKind kind) {
  return NameOf(kCheckNames, kind);
}

std::optional<CheckKind> ParseCheckKind(std::string_view text) {
  return ValueOf(kCheckNames, text);
}

bool IsKeyPrefix(std::string_view text) {
  if (text.empty() || text.size() > kMaxPrefixLength) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string KeyLengthProblem(const Alphabet& alphabet, int length) {
  const int most = MaxKeyLength(alphabet.size());
  if (length >= kMinKeyLength && length <= most) return "";
  const std::string keys =
      alphabet.preset() ? alphabet.spec() + " keys"
                        : "keys of a " + std::to_string(alphabet.size()) +
                              "-character alphabet";
  return keys + " are 1 to " + std::to_string(most) + " characters long (" +
         std::to_string(alphabet.size()) + "^" + std::to_string(most + 1) +
         " keys do not fit in 63 bits), not " + std::to_string(length);
}

std::string CheckProblem(const Alphabet& alphabet, CheckKind check) {
  if (check != CheckKind::kLuhn || alphabet.size() % 2 == 0) return "";
  return "check luhn needs an alphabet of even size (Luhn mod N's doubling "
         "is a permutation only then); this one has " +
         std::to_string(alphabet.size()) + " characters";
}

std::string_view KeyOrderName(KeyOrder order) {
  return NameOf(kOrderNames, order);
}

std::optional<KeyOrder> ParseKeyOrder(std::string_view text) {
  return ValueOf(kOrderNames, text);
}

KeyCodec::KeyCodec(int length, KeyOrder order, std::uint64_t secret,
                   KeyPolicy policy)
    : length_(length),
      order_(order),
      policy_(std::move(policy)),
      space_(KeySpace(policy_.alphabet.size(), length)),
      text_length_(0) {
  const std::string problem = CheckProblem(policy_.alphabet, policy_.check);
  FORGE_CHECK(problem.empty(), problem);
  FORGE_CHECK(policy_.prefix.empty() || IsKeyPrefix(policy_.prefix),
              "key prefix \"" + policy_.prefix + "\" breaks its rule");
  text_length_ = policy_.prefix.size() + static_cast<std::size_t>(length) +
                 (policy_.check == CheckKind::kNone ? 0 : 1);
  // Division by the base as a multiply and a shift (Granlund-Montgomery):
  // with 2^shift >= base and magic = ceil(2^(63 + shift) / base),
  // floor(v * magic / 2^(63 + shift)) == v / base for every v < 2^63,
  // the error term v * (ceil - exact) / 2^(63 + shift) staying below
  // 1 / base; magic < 2^64 because 2^(shift - 1) < base (or base is a
  // power of two).
  const std::uint64_t base = policy_.alphabet.size();
  FORGE_CHECK(base >= 2, "an alphabet has at least 2 characters");
  while ((std::uint64_t{1} << divide_shift_) < base) ++divide_shift_;
  const Wide magic = ((Wide{1} << (63 + divide_shift_)) + base - 1) / base;
  FORGE_CHECK(magic >> 64 == 0, "division magic of base " +
                                    std::to_string(base) + " needs 65 bits");
  divide_magic_ = static_cast<std::uint64_t>(magic);
  half_bits_ = EvenBitsCovering(space_) / 2;
  half_mask_ = (std::uint64_t{1} << half_bits_) - 1;
  const std::string_view chars = policy_.alphabet.chars();
  vector_ = CpuHasVectorKernel() && chars.size() <= vector_chars_.size() &&
            length_ <= 8 && policy_.check == CheckKind::kNone;
  if (vector_) std::copy(chars.begin(), chars.end(), vector_chars_.begin());
  // Round keys: a splitmix64 sequence seeded with the secret.
  std::uint64_t state = secret;
  for (auto& key : round_keys_) {
    state += 0x9e3779b97f4a7c15ULL;
    key = Mix(state);
  }
}

void KeyCodec::CheckInSpace(std::uint64_t n) const {
  // The number comes from a store: one outside the key space is damaged
  // data, not a bug here, so it is a recoverable error.
  if (n >= space_) {
    throw Error(Code::kCorruption, "key number " + std::to_string(n) +
                                       " is outside the key space [0, " +
                                       std::to_string(space_) + ")");
  }
}

void KeyCodec::Encode(std::uint64_t n, char* out) const {
  CheckInSpace(n);
  WriteDigits(order_ == KeyOrder::kScrambled ? Permute(n) : n, out);
}

void KeyCodec::WriteDigits(std::uint64_t v, char* out) const {
  const Alphabet& a = policy_.alphabet;
  const std::uint64_t base = a.size();
  policy_.prefix.copy(out, policy_.prefix.size());
  char* digits = out + policy_.prefix.size();
  LuhnSum luhn(a.size());
  for (int i = length_ - 1; i >= 0; --i) {
    const std::uint64_t quotient = DivideByBase(v);
    const auto digit = static_cast<std::uint32_t>(v - quotient * base);
    digits[i] = a.Char(digit);
    luhn.Add(digit);
    v = quotient;
  }
  if (policy_.check == CheckKind::kLuhn) {
    digits[length_] = a.Char(luhn.CheckDigit());
  }
}

void KeyCodec::EncodeRange(std::uint64_t first, std::size_t count, char* out,
                           std::size_t stride) const {
  if (count == 0) return;
  CheckInSpace(first);
  CheckInSpace(first + std::min<std::uint64_t>(count - 1, space_ - first));
  std::size_t i = 0;
  if (vector_) {
    for (; i + kVectorKeys <= count; i += kVectorKeys) {
      EncodeVectors(first + i, out + i * stride, stride);
    }
  }
  if (policy_.check == CheckKind::kNone) {
    for (; i + kLanes <= count; i += kLanes) {
      EncodeLanes(first + i, out + i * stride, stride);
    }
  }
  for (; i < count; ++i) Encode(first + i, out + i * stride);
}

void KeyCodec::EncodeLanes(std::uint64_t first, char* out,
                           std::size_t stride) const {
  std::array<std::uint64_t, kLanes> v{};
  for (std::size_t k = 0; k < kLanes; ++k) v[k] = first + k;
  if (order_ == KeyOrder::kScrambled) {
    // FeistelForward on every lane, round by round: independent chains.
    std::array<std::uint64_t, kLanes> l{};
    std::array<std::uint64_t, kLanes> r{};
#pragma GCC unroll 4
    for (std::size_t k = 0; k < kLanes; ++k) {
      l[k] = v[k] >> half_bits_;
      r[k] = v[k] & half_mask_;
    }
    for (int round = 0; round < kRounds; ++round) {
#pragma GCC unroll 4
      for (std::size_t k = 0; k < kLanes; ++k) {
        const std::uint64_t next = l[k] ^ Round(round, r[k]);
        l[k] = r[k];
        r[k] = next;
      }
    }
    for (std::size_t k = 0; k < kLanes; ++k) {
      v[k] = (l[k] << half_bits_) | r[k];
      while (v[k] >= space_) v[k] = FeistelForward(v[k]);  // cycle-walk
    }
  }
  const Alphabet& a = policy_.alphabet;
  const std::uint64_t base = a.size();
  const std::size_t prefix = policy_.prefix.size();
  for (std::size_t k = 0; k < kLanes; ++k) {
    policy_.prefix.copy(out + k * stride, prefix);
  }
  for (int d = length_ - 1; d >= 0; --d) {
#pragma GCC unroll 4
    for (std::size_t k = 0; k < kLanes; ++k) {
      const std::uint64_t quotient = DivideByBase(v[k]);
      out[k * stride + prefix + static_cast<std::size_t>(d)] =
          a.Char(static_cast<std::uint32_t>(v[k] - quotient * base));
      v[k] = quotient;
    }
  }
}

std::string KeyCodec::Encode(std::uint64_t n) const {
  std::string key(text_length_, '0');
  Encode(n, key.data());
  return key;
}

std::optional<std::uint64_t> KeyCodec::Decode(std::string_view key) const {
  return Check(key).number;
}

std::optional<std::string_view> KeyCodec::Body(std::string_view key) const {
  const std::size_t body = text_length_ - policy_.prefix.size();
  if (key.size() == text_length_ && key.starts_with(policy_.prefix)) {
    return key.substr(policy_.prefix.size());
  }
  if (key.size() == body) return key;
  return std::nullopt;
}

KeyCodec::Verdict KeyCodec::Check(std::string_view key) const {
  Verdict verdict;
  const std::optional<std::string_view> body = Body(key);
  if (!body) return verdict;
  const Alphabet& a = policy_.alphabet;
  std::uint64_t v = 0;
  for (const char c : body->substr(0, static_cast<std::size_t>(length_))) {
    const int digit = a.Digit(c);
    if (digit < 0) return verdict;
    v = v * a.size() + static_cast<std::uint64_t>(digit);
  }
  if (policy_.check == CheckKind::kLuhn) {
    const int typed = a.Digit((*body)[static_cast<std::size_t>(length_)]);
    if (typed < 0) return verdict;
    verdict.well_formed = true;
    LuhnSum luhn(a.size());
    for (int i = length_ - 1; i >= 0; --i) {
      luhn.Add(static_cast<std::uint32_t>(
          a.Digit((*body)[static_cast<std::size_t>(i)])));
    }
    if (static_cast<std::uint32_t>(typed) != luhn.CheckDigit()) return verdict;
  }
  verdict.well_formed = true;
  verdict.check_ok = true;
  verdict.number = order_ == KeyOrder::kScrambled ? Unpermute(v) : v;
  return verdict;
}

std::uint64_t KeyCodec::DivideByBase(std::uint64_t v) const {
  // >> (63 + shift) as the high word (one multiply) >> (shift - 1): shift
  // is at least 1 (base >= 2), and floor of a floor is the same floor.
  const auto high = static_cast<std::uint64_t>((Wide{v} * divide_magic_) >> 64);
  return high >> (divide_shift_ - 1);
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
