#include "keys/alphabet.h"

#include <cctype>

#include "base/status.h"

namespace forge::keys {
namespace {

struct Preset {
  std::string_view name;
  std::string_view chars;
  bool fold_case;  // lower and upper case decode alike
};

constexpr Preset kPresets[] = {
    {"base62", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     false},
    {"base58", "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
     false},
    {"base36", "0123456789abcdefghijklmnopqrstuvwxyz", true},
    {"crockford32", "0123456789ABCDEFGHJKMNPQRSTVWXYZ", true},
    {"digits", "0123456789", false},
    {"hex", "0123456789abcdef", true},
};

bool UrlSafe(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// A text meant as a preset's name but not one: a preset's name in other
// case ("Base62", "HEX") or base<digits> ("base64", "base32"). As custom
// characters these would silently make a 3- to 6-character alphabet.
bool LooksLikePresetName(std::string_view spec) {
  std::string lower(spec);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (const Preset& p : kPresets) {
    if (p.name == lower) return true;
  }
  constexpr std::string_view kBase = "base";
  return lower.size() > kBase.size() && lower.starts_with(kBase) &&
         lower.find_first_not_of("0123456789", kBase.size()) ==
             std::string::npos;
}

std::string Shown(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isprint(u) != 0) return std::string("\"") + c + "\"";
  return "byte " + std::to_string(u);
}

}  // namespace

Alphabet::Alphabet()
    : Alphabet(std::string(kPresets[0].name), std::string(kPresets[0].chars),
               true) {}

Alphabet::Alphabet(std::string spec, std::string chars, bool preset)
    : spec_(std::move(spec)), chars_(std::move(chars)), preset_(preset) {
  digit_.fill(-1);
  bool fold = false;
  for (const Preset& p : kPresets) {
    if (preset_ && p.name == spec_) fold = p.fold_case;
  }
  for (std::size_t i = 0; i < chars_.size(); ++i) {
    const auto c = static_cast<unsigned char>(chars_[i]);
    const auto d = static_cast<std::int16_t>(i);
    digit_[c] = d;
    if (fold) {
      digit_[static_cast<unsigned char>(std::tolower(c))] = d;
      digit_[static_cast<unsigned char>(std::toupper(c))] = d;
    }
  }
  if (spec_ == "crockford32") {
    digit_['I'] = digit_['i'] = digit_['L'] = digit_['l'] = digit_['1'];
    digit_['O'] = digit_['o'] = digit_['0'];
  }
}

std::optional<Alphabet> Alphabet::Parse(std::string_view spec,
                                        std::string* why) {
  for (const Preset& p : kPresets) {
    if (p.name == spec) {
      return Alphabet(std::string(p.name), std::string(p.chars), true);
    }
  }
  if (LooksLikePresetName(spec)) {
    *why =
        "is not a preset (they are spelled base62, base58, base36, "
        "crockford32, digits, hex)";
    return std::nullopt;
  }
  if (spec.size() < kMinAlphabetSize || spec.size() > kMaxAlphabetSize) {
    *why = "is neither a preset nor 2 to 256 characters long";
    return std::nullopt;
  }
  std::array<bool, 256> seen{};
  for (const char c : spec) {
    if (!UrlSafe(c)) {
      *why = "has " + Shown(c) + ", which is not URL-safe";
      return std::nullopt;
    }
    bool& s = seen[static_cast<unsigned char>(c)];
    if (s) {
      *why = "has " + Shown(c) + " twice";
      return std::nullopt;
    }
    s = true;
  }
  return Alphabet(std::string(spec), std::string(spec), false);
}

int MaxKeyLength(std::uint32_t alphabet_size) {
  FORGE_CHECK(alphabet_size >= kMinAlphabetSize,
              "alphabet of " + std::to_string(alphabet_size) + " characters");
  // Largest L with size^L < 2^63.
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  std::uint64_t space = 1;
  int length = 0;
  while (space <= (kLimit - 1) / alphabet_size) {
    space *= alphabet_size;
    ++length;
  }
  return length;
}

std::uint64_t KeySpace(std::uint32_t alphabet_size, int length) {
  const int most = MaxKeyLength(alphabet_size);
  FORGE_CHECK(length >= 1 && length <= most,
              "key length " + std::to_string(length) +
                  " is outside the allowed range 1.." + std::to_string(most) +
                  " of an alphabet of " + std::to_string(alphabet_size) +
                  " characters");
  std::uint64_t space = 1;
  for (int i = 0; i < length; ++i) space *= alphabet_size;
  return space;
}

}  // namespace forge::keys
