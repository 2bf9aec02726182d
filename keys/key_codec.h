// keys/key_codec.h — numbers to keys and back (docs/design.md §6).
//
// Contract
//   * A key is prefix + digits + check: the namespace's prefix (KeyPolicy,
//     "" for default), `length` digits of its alphabet (most significant
//     first, left-padded with the alphabet's first character), then one
//     check character when the policy asks for one. text_length() is the
//     whole; the key space is [0, alphabet^length) (keys/alphabet.h).
//     The default policy (base62, no check, no prefix) is today's format.
//   * kSequential: digits = the number in the alphabet's base, so keys of
//     an alphabet in ASCII order sort (bytewise) like the numbers.
//     kScrambled: digits = P(n) where P is a keyed permutation of the key
//     space: a balanced Feistel network over the smallest even bit width
//     covering the space, cycle-walked until the value is in range. A
//     permutation by construction, so distinct numbers always give
//     distinct keys (never a hash taken modulo the space).
//   * Check character "luhn": Luhn mod N over the digits' values (N the
//     alphabet size, which must be even: CheckFits). It catches every
//     single-character substitution and every adjacent transposition
//     except of the alphabet's first and last characters (Luhn's own
//     blind spot, like 09/90 in decimal).
//   * Decode(Encode(n)) == n for every n in the space. Decode accepts the
//     key with or without the prefix, maps typed characters through the
//     alphabet's decode map (Alphabet::Digit), and rejects a key of the
//     wrong length, with a character outside the alphabet, or whose check
//     character is wrong. Check() says which of those held.
//   * Encode(n, out) does not allocate; n >= space() (a number from a
//     damaged store) throws forge::Error (kCorruption) from both overloads.
//   * EncodeRange(first, count, out, stride) writes exactly what Encode
//     writes for each number of [first, first + count), key i at
//     out + i * stride, several numbers at a time (their Feistel rounds
//     and digit divisions interleaved, so the CPU overlaps them: the
//     broker's encode cost per key, issue 18). A range reaching past
//     space() throws like Encode before writing anything. When
//     vectorised() (an x86-64 CPU with AVX-512; at most 64 characters, 8
//     digits, no check character) kVectorKeys numbers at a time go through
//     one vector kernel (key_codec_avx512.cpp); the keys are the same
//     either way.
//   * Immutable after construction; safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "keys/alphabet.h"
#include "keys/key_order.h"

namespace forge::keys {

inline constexpr int kMinKeyLength = 1;
// The longest base62 key (KEY_LENGTH's range); other alphabets: MaxKeyLength.
inline constexpr int kMaxKeyLength = 10;
inline constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// 62^length; a length outside [1, 10] is a programming error (FORGE_CHECK).
std::uint64_t KeySpace(int length);

// The check character a namespace appends to its keys.
enum class CheckKind : std::uint32_t {
  kNone = 0,
  kLuhn = 1,
};
inline constexpr std::string_view kCheckRule = "none or luhn";

// "none" / "luhn": the spelling used in config, the store and segments.
std::string_view CheckKindName(CheckKind kind);
std::optional<CheckKind> ParseCheckKind(std::string_view text);

// A prefix is "" or 1..16 characters of [A-Za-z0-9_-].
inline constexpr std::size_t kMaxPrefixLength = 16;
inline constexpr std::string_view kPrefixRule =
    "1 to 16 characters of A-Z a-z 0-9 _ -";
bool IsKeyPrefix(std::string_view text);

// The longest key text: prefix + digits (a 2-character alphabet) + check.
inline constexpr std::size_t kMaxTextLength = kMaxPrefixLength + 62 + 1;

// What a namespace's keys look like besides length and order, fixed at its
// birth. (Its blocklist is not here: that may change, keys/blocklist.h.)
struct KeyPolicy {
  Alphabet alphabet;  // base62
  CheckKind check = CheckKind::kNone;
  std::string prefix;  // "" or IsKeyPrefix
  bool operator==(const KeyPolicy&) const = default;
};

// "" when `length` digits of `alphabet` fit (1..MaxKeyLength); else one
// line naming the largest allowed length ("base58 keys are 1 to 10
// characters long (58^11 keys do not fit in 63 bits), not 11").
std::string KeyLengthProblem(const Alphabet& alphabet, int length);

// "" when `check` can be used with `alphabet` (luhn needs an even size);
// else one line saying why.
std::string CheckProblem(const Alphabet& alphabet, CheckKind check);

// "scrambled" / "sequential": the spelling used in config and stores.
std::string_view KeyOrderName(KeyOrder order);

// The order KeyOrderName spells `text`; nullopt for any other text.
std::optional<KeyOrder> ParseKeyOrder(std::string_view text);

class KeyCodec {
 public:
  // A length the policy's alphabet cannot hold (KeyLengthProblem), a check
  // it cannot use (CheckProblem) or a bad prefix is a programming error
  // (FORGE_CHECK): they are checked where they enter.
  KeyCodec(int length, KeyOrder order, std::uint64_t secret,
           KeyPolicy policy = {});

  int length() const { return length_; }  // digits, without prefix/check
  KeyOrder order() const { return order_; }
  std::uint64_t space() const { return space_; }
  const KeyPolicy& policy() const { return policy_; }
  // EncodeRange runs the AVX-512 kernel (the CPU has it and the policy
  // fits it); the keys are the same either way.
  bool vectorised() const { return vector_; }
  // Numbers the AVX-512 kernel encodes per call (4 vectors of 8 lanes).
  static constexpr std::size_t kVectorKeys = 32;
  // Characters Encode writes: prefix + length() + check.
  std::size_t text_length() const { return text_length_; }

  // n < space(). Writes exactly text_length() characters to out (no NUL).
  void Encode(std::uint64_t n, char* out) const;
  std::string Encode(std::uint64_t n) const;
  // stride >= text_length(); bytes of a slot past text_length() are left
  // as they were.
  void EncodeRange(std::uint64_t first, std::size_t count, char* out,
                   std::size_t stride) const;

  // The number whose key this is; nullopt for a malformed key or a wrong
  // check character (with or without the prefix).
  std::optional<std::uint64_t> Decode(std::string_view key) const;

  // What /check-key and forge-ctl check-key report about a typed key.
  struct Verdict {
    bool well_formed = false;  // right length, every character decodes
    bool check_ok = false;     // well formed and the check character fits
                               // (true without a check character)
    std::optional<std::uint64_t> number;  // when both hold
  };
  Verdict Check(std::string_view key) const;

 private:
  static constexpr int kRounds = 6;
  // Numbers EncodeRange works on at once without AVX-512.
  static constexpr std::size_t kLanes = 4;

  // `key` without its prefix (digits + check), or nullopt when it has the
  // wrong length either way.
  std::optional<std::string_view> Body(std::string_view key) const;
  void CheckInSpace(std::uint64_t n) const;  // throws kCorruption
  // The digits (and check character) of permuted value v, after the
  // prefix: Encode's work once the number is permuted.
  void WriteDigits(std::uint64_t v, char* out) const;
  // kLanes numbers at once, no check character (EncodeRange).
  void EncodeLanes(std::uint64_t first, char* out, std::size_t stride) const;
  // kVectorKeys numbers at once with AVX-512 (key_codec_avx512.cpp);
  // called only when vector_.
  void EncodeVectors(std::uint64_t first, char* out, std::size_t stride) const;
  // The CPU has every instruction EncodeVectors uses (asked once).
  static bool CpuHasVectorKernel();
  std::uint64_t Permute(std::uint64_t n) const;
  std::uint64_t Unpermute(std::uint64_t n) const;
  std::uint64_t FeistelForward(std::uint64_t x) const;
  std::uint64_t FeistelBackward(std::uint64_t x) const;
  std::uint64_t Round(int i, std::uint64_t half) const;
  // v / base for v < 2^63, without a division instruction.
  std::uint64_t DivideByBase(std::uint64_t v) const;

  int length_;
  KeyOrder order_;
  KeyPolicy policy_;
  std::uint64_t space_;
  std::size_t text_length_;
  std::array<std::uint64_t, kRounds> round_keys_{};
  std::uint64_t divide_magic_ = 0;
  int divide_shift_ = 0;
  int half_bits_ = 0;
  std::uint64_t half_mask_ = 0;
  // EncodeRange uses EncodeVectors: the CPU has it, and the policy fits it
  // (at most 64 characters, 8 digits, no check character).
  bool vector_ = false;
  std::array<char, 64> vector_chars_{};  // the alphabet, zero-padded
};

}  // namespace forge::keys
