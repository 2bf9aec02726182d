// keys/alphabet.h — the characters a namespace's keys are spelled with
// (docs/design.md §6).
//
// Contract
//   * An alphabet is a preset — base62 (0-9A-Za-z, the default and
//     today's), base58 (base62 without 0 O I l), base36 (0-9a-z, decoded
//     case-insensitively), crockford32 (0-9A-Z without I L O U; decoding
//     accepts lower case and maps I/L to 1 and O to 0), digits (0-9),
//     hex (0-9a-f, decoded case-insensitively) — or custom: 2 to 256
//     distinct URL-safe characters (A-Z a-z 0-9 - . _ ~), in digit order.
//   * spec() is how config, the store and a segment spell it: the preset's
//     name, or the custom characters themselves. Parse(spec()) gives the
//     same alphabet back. A text equal to a preset's name is that preset;
//     one that only looks like a name (a preset's name in other case,
//     base<digits> such as "base64") is refused, not read as characters.
//   * Digit(c) is the decode map: the digit a typed character stands for,
//     or -1; it accepts every character of chars() and, for the presets
//     above, the extra spellings listed.
//   * The key space of a length L is size()^L and must stay below 2^63
//     (the store's counter is a signed 64-bit column): MaxKeyLength.
//   * Immutable; safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace forge::keys {

inline constexpr std::size_t kMinAlphabetSize = 2;
inline constexpr std::size_t kMaxAlphabetSize = 256;
inline constexpr std::string_view kDefaultAlphabet = "base62";
inline constexpr std::string_view kAlphabetRule =
    "base62, base58, base36, crockford32, digits, hex, or a custom string of "
    "2 to 256 distinct URL-safe characters (A-Z a-z 0-9 - . _ ~)";

class Alphabet {
 public:
  Alphabet();  // base62

  // `spec` is a preset name or custom characters (see the contract);
  // nullopt with *why set to one line ("has \"a\" twice", ...) otherwise.
  static std::optional<Alphabet> Parse(std::string_view spec, std::string* why);

  const std::string& spec() const { return spec_; }
  std::string_view chars() const { return chars_; }
  std::uint32_t size() const {
    return static_cast<std::uint32_t>(chars_.size());
  }
  bool preset() const { return preset_; }
  char Char(std::uint32_t digit) const { return chars_[digit]; }
  int Digit(char c) const { return digit_[static_cast<unsigned char>(c)]; }

  bool operator==(const Alphabet& other) const { return spec_ == other.spec_; }

 private:
  Alphabet(std::string spec, std::string chars, bool preset);

  std::string spec_;
  std::string chars_;
  bool preset_ = true;
  std::array<std::int16_t, 256> digit_{};
};

// The largest key length whose key space size^length is below 2^63
// (base62: 10, base58: 10, base36: 12, crockford32: 12, digits: 18,
// hex: 15, a 2-character alphabet: 62).
int MaxKeyLength(std::uint32_t alphabet_size);

// size^length; a length outside 1..MaxKeyLength(size) is a programming
// error (FORGE_CHECK): every length is checked where it enters.
std::uint64_t KeySpace(std::uint32_t alphabet_size, int length);

}  // namespace forge::keys
