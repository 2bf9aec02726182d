// keys/key_codec.h — numbers to Base62 keys and back (docs/design.md §6).
//
// Contract
//   * Alphabet "0-9A-Za-z", keys left-padded with '0' to exactly `length`
//     characters (1..10). The key space is [0, 62^length).
//   * kSequential: key = base62(n), so keys sort (bytewise) like the numbers.
//     kScrambled: key = base62(P(n)) where P is a keyed permutation of
//     [0, 62^length): a balanced Feistel network over the smallest even bit
//     width covering the space, cycle-walked until the value is in range.
//     A permutation by construction, so distinct numbers always give
//     distinct keys (never a hash taken modulo the space).
//   * Decode(Encode(n)) == n for every n in the space; Decode rejects keys
//     of the wrong length or with characters outside the alphabet.
//   * Encode(n, out) does not allocate; n >= space() (a number from a
//     damaged store) throws forge::Error (kCorruption) from both overloads.
//   * Immutable after construction; safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace forge::keys {

using config::KeyOrder;

inline constexpr int kMinKeyLength = 1;
inline constexpr int kMaxKeyLength = 10;
inline constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// 62^length; a length outside [1, 10] is a programming error (FORGE_CHECK).
std::uint64_t KeySpace(int length);

// "scrambled" / "sequential": the spelling used in config and stores.
std::string_view KeyOrderName(KeyOrder order);

// The order KeyOrderName spells `text`; nullopt for any other text.
std::optional<KeyOrder> ParseKeyOrder(std::string_view text);

class KeyCodec {
 public:
  // A length outside [1, 10] is a programming error (FORGE_CHECK).
  KeyCodec(int length, KeyOrder order, std::uint64_t secret);

  int length() const { return length_; }
  KeyOrder order() const { return order_; }
  std::uint64_t space() const { return space_; }

  // n < space(). Writes exactly length() characters to out (no NUL).
  void Encode(std::uint64_t n, char* out) const;
  std::string Encode(std::uint64_t n) const;

  // The number whose key this is; nullopt for a malformed key.
  std::optional<std::uint64_t> Decode(std::string_view key) const;

 private:
  static constexpr int kRounds = 6;

  std::uint64_t Permute(std::uint64_t n) const;
  std::uint64_t Unpermute(std::uint64_t n) const;
  std::uint64_t FeistelForward(std::uint64_t x) const;
  std::uint64_t FeistelBackward(std::uint64_t x) const;
  std::uint64_t Round(int i, std::uint64_t half) const;

  int length_;
  KeyOrder order_;
  std::uint64_t space_;
  std::array<std::uint64_t, kRounds> round_keys_{};
  int half_bits_ = 0;
  std::uint64_t half_mask_ = 0;
};

}  // namespace forge::keys
