// Tests for keys/alphabet and the key policy of keys/key_codec: every
// preset and some custom alphabets, both orders, prefix and Luhn check,
// exhaustively on small key spaces.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "keys/alphabet.h"
#include "keys/key_codec.h"

namespace forge::keys {
namespace {

constexpr std::uint64_t kSecret = 0x5eed'1234'abcd'9876ULL;
constexpr KeyOrder kBothOrders[] = {KeyOrder::kSequential,
                                    KeyOrder::kScrambled};

struct Preset {
  const char* name;
  std::string_view chars;
  int max_length;
  int exhaustive_length;  // lengths 1..this are tested key by key
};
constexpr Preset kPresets[] = {
    {"base62", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     10, 3},
    {"base58", "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 10,
     3},
    {"base36", "0123456789abcdefghijklmnopqrstuvwxyz", 12, 4},
    {"crockford32", "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 12, 4},
    {"digits", "0123456789", 18, 5},
    {"hex", "0123456789abcdef", 15, 4},
};
// Custom alphabets: an even one (Luhn allowed), an odd one, the smallest.
constexpr std::string_view kCustoms[] = {"bcdfghjkmnpqrstvwxyz-_~.", "xyz",
                                         "01", "ABCDEFGH"};

Alphabet Parsed(std::string_view spec) {
  std::string why;
  const std::optional<Alphabet> a = Alphabet::Parse(spec, &why);
  EXPECT_TRUE(a.has_value()) << spec << ": " << why;
  return a.value_or(Alphabet());
}

std::string ParseError(std::string_view spec) {
  std::string why;
  const std::optional<Alphabet> a = Alphabet::Parse(spec, &why);
  EXPECT_FALSE(a.has_value()) << spec;
  return why;
}

// The digit a character spells, found by position in the characters (not
// through Alphabet::Digit, which is under test).
class Reader {
 public:
  explicit Reader(std::string_view chars) {
    digit_.fill(-1);
    for (std::size_t i = 0; i < chars.size(); ++i) {
      digit_[static_cast<unsigned char>(chars[i])] = static_cast<int>(i);
    }
  }
  // The number `digits` spell in base `base`, or -1.
  std::int64_t Value(std::string_view digits, std::uint64_t base) const {
    std::uint64_t v = 0;
    for (const char c : digits) {
      const int d = digit_[static_cast<unsigned char>(c)];
      if (d < 0) return -1;
      v = v * base + static_cast<std::uint64_t>(d);
    }
    return static_cast<std::int64_t>(v);
  }

 private:
  std::array<int, 256> digit_{};
};

// Every number of the space gives a distinct key of the policy's shape
// (prefix, digits of the alphabet, check) — so Encode is a bijection onto
// all digit strings of that length — and Decode gives the number back from
// the key with and without its prefix.
void ExpectBijection(int length, KeyOrder order, const KeyPolicy& policy) {
  const KeyCodec codec(length, order, kSecret, policy);
  const Alphabet& a = policy.alphabet;
  const Reader reader(a.chars());
  const std::size_t digits = static_cast<std::size_t>(length);
  const std::size_t check = policy.check == CheckKind::kNone ? 0 : 1;
  ASSERT_EQ(codec.text_length(), policy.prefix.size() + digits + check);
  std::vector<bool> seen(codec.space(), false);
  std::string key(codec.text_length(), '\0');
  for (std::uint64_t n = 0; n < codec.space(); ++n) {
    codec.Encode(n, key.data());
    ASSERT_TRUE(key.starts_with(policy.prefix)) << key;
    const std::string_view body =
        std::string_view(key).substr(policy.prefix.size());
    const std::int64_t v = reader.Value(body.substr(0, digits), a.size());
    ASSERT_GE(v, 0) << "n=" << n << " gave " << key;
    ASSERT_FALSE(seen[static_cast<std::uint64_t>(v)])
        << "n=" << n << " repeats " << key;
    seen[static_cast<std::uint64_t>(v)] = true;
    if (check != 0) {
      ASSERT_GE(reader.Value(body.substr(digits), 2), 0) << key;
    }
    ASSERT_EQ(codec.Decode(key), n) << key;
    if (n % 8 == 0) {
      ASSERT_EQ(codec.Decode(body), n) << key;
    }
  }
}

// Both orders, with and without prefix and Luhn check, every length
// 1..exhaustive_length (|alphabet|^length keys each).
void ExpectBijections(const Alphabet& alphabet, int most) {
  const bool even = alphabet.size() % 2 == 0;
  const std::vector<KeyPolicy> policies = {
      {alphabet, CheckKind::kNone, ""},
      {alphabet, even ? CheckKind::kLuhn : CheckKind::kNone, "inv_"},
  };
  for (const KeyPolicy& policy : policies) {
    for (const KeyOrder order : kBothOrders) {
      for (int length = 1; length <= most; ++length) {
        SCOPED_TRACE(alphabet.spec() + " " + std::string(KeyOrderName(order)) +
                     " length " + std::to_string(length) + " check " +
                     std::string(CheckKindName(policy.check)) + " prefix \"" +
                     policy.prefix + "\"");
        ExpectBijection(length, order, policy);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(KeyPolicy, EveryPresetIsABijectionOnSmallSpaces) {
  for (const Preset& p : kPresets) {
    ExpectBijections(Parsed(p.name), p.exhaustive_length);
    if (HasFatalFailure()) return;
  }
}

TEST(KeyPolicy, CustomAlphabetsAreBijectionsOnSmallSpaces) {
  for (const std::string_view custom : kCustoms) {
    const int most = custom.size() <= 3 ? 8 : 3;
    ExpectBijections(Parsed(custom), most);
    if (HasFatalFailure()) return;
  }
}

// Encode divides by the base with a multiply: compare with % and / on the
// numbers where that could go wrong (the top of the largest space), for
// every alphabet size 2..66.
TEST(KeyPolicy, DigitsMatchPlainDivisionForEveryBase) {
  constexpr std::string_view kUrlSafe =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._~";
  std::mt19937_64 rng(11);
  for (std::size_t size = 2; size <= kUrlSafe.size(); ++size) {
    const std::string_view chars = kUrlSafe.substr(0, size);
    const Alphabet a = Parsed(chars);
    const int length = MaxKeyLength(a.size());
    const KeyCodec codec(length, KeyOrder::kSequential, 0,
                         {a, CheckKind::kNone, ""});
    std::uniform_int_distribution<std::uint64_t> pick(0, codec.space() - 1);
    for (int i = 0; i < 2000; ++i) {
      std::uint64_t n =
          i < 1000 ? codec.space() - 1 - static_cast<unsigned>(i) : pick(rng);
      const std::uint64_t want_n = n;
      std::string want(static_cast<std::size_t>(length), '?');
      for (int d = length - 1; d >= 0; --d) {
        want[static_cast<std::size_t>(d)] = chars[n % size];
        n /= size;
      }
      ASSERT_EQ(codec.Encode(want_n), want) << "base " << size;
    }
  }
}

// Luhn mod N, exhaustively over every key of a small space per preset
// (and an even custom alphabet): every single-character substitution is
// rejected, and every adjacent transposition is rejected except exactly
// that of the alphabet's first and last characters, which Luhn cannot
// see (the documented exception, like 09/90 in decimal).
void ExpectLuhnCatchesTypos(const Alphabet& a, int length) {
  const KeyCodec codec(length, KeyOrder::kSequential, 0,
                       {a, CheckKind::kLuhn, ""});
  const std::string_view chars = a.chars();
  const char first = chars.front();
  const char last = chars.back();
  std::uint64_t blind_spots = 0;
  for (std::uint64_t n = 0; n < codec.space(); ++n) {
    const std::string key = codec.Encode(n);
    ASSERT_TRUE(codec.Check(key).check_ok) << key;
    std::string typo = key;
    for (std::size_t p = 0; p < key.size(); ++p) {
      for (const char c : chars) {
        if (c == key[p]) continue;
        typo[p] = c;
        const KeyCodec::Verdict v = codec.Check(typo);
        ASSERT_TRUE(v.well_formed) << typo;
        ASSERT_FALSE(v.check_ok) << key << " -> " << typo;
        ASSERT_FALSE(v.number.has_value());
      }
      typo[p] = key[p];
    }
    for (std::size_t p = 0; p + 1 < key.size(); ++p) {
      if (key[p] == key[p + 1]) continue;
      std::swap(typo[p], typo[p + 1]);
      const bool blind = (key[p] == first && key[p + 1] == last) ||
                         (key[p] == last && key[p + 1] == first);
      ASSERT_EQ(codec.Check(typo).check_ok, blind)
          << key << " -> " << typo << (blind ? " should" : " should not")
          << " pass";
      blind_spots += blind ? 1 : 0;
      std::swap(typo[p], typo[p + 1]);
    }
  }
  EXPECT_GT(blind_spots, 0u) << "the space never put first and last side "
                                "by side: the exception went untested";
}

TEST(KeyPolicy, LuhnCatchesEverySubstitutionAndTranspositionButOne) {
  for (const Preset& p : kPresets) {
    SCOPED_TRACE(p.name);
    ExpectLuhnCatchesTypos(Parsed(p.name), p.chars.size() > 16 ? 2 : 3);
    if (HasFatalFailure()) return;
  }
  ExpectLuhnCatchesTypos(Parsed(kCustoms[0]), 2);
  ExpectLuhnCatchesTypos(Parsed("01"), 8);
}

TEST(KeyPolicy, LuhnCheckCharacterIsTheLastAndDecodesThroughTheMap) {
  // Decimal Luhn's textbook example: 7992739871 has check digit 3.
  const KeyCodec digits(10, KeyOrder::kSequential, 0,
                        {Parsed("digits"), CheckKind::kLuhn, ""});
  EXPECT_EQ(digits.Encode(7992739871), "79927398713");
  EXPECT_TRUE(digits.Check("79927398713").check_ok);
  EXPECT_FALSE(digits.Check("79927398710").check_ok);

  // crockford32 decodes lower case and I/L/O in the digits and the check.
  const KeyCodec crockford(6, KeyOrder::kScrambled, kSecret,
                           {Parsed("crockford32"), CheckKind::kLuhn, "c-"});
  for (std::uint64_t n = 0; n < 2000; ++n) {
    const std::string key = crockford.Encode(n);
    std::string typed = key.substr(2);
    for (char& c : typed) {
      c = c == '1' ? (n % 2 ? 'l' : 'I') : c == '0' ? 'o' : c;
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ASSERT_EQ(crockford.Decode(typed), n) << key << " typed " << typed;
  }
}

TEST(KeyPolicy, CheckSaysWhatWasWrong) {
  const KeyCodec codec(4, KeyOrder::kScrambled, kSecret,
                       {Parsed("base58"), CheckKind::kLuhn, "inv_"});
  const std::string key = codec.Encode(4242);
  ASSERT_EQ(key.size(), 9u);
  KeyCodec::Verdict v = codec.Check(key);
  EXPECT_TRUE(v.well_formed && v.check_ok);
  EXPECT_EQ(v.number, 4242u);
  EXPECT_EQ(codec.Check(key.substr(4)).number, 4242u);

  std::string wrong = key;
  wrong.back() = wrong.back() == 'z' ? 'y' : 'z';
  v = codec.Check(wrong);
  EXPECT_TRUE(v.well_formed);
  EXPECT_FALSE(v.check_ok);
  EXPECT_FALSE(v.number.has_value());

  for (const std::string& bad :
       {key.substr(1), key + "x", "inv_" + key.substr(4, 3),
        "inx_" + key.substr(4), std::string("inv_0") + key.substr(5)}) {
    v = codec.Check(bad);
    EXPECT_FALSE(v.well_formed) << bad;
    EXPECT_FALSE(v.check_ok) << bad;
    EXPECT_FALSE(codec.Decode(bad).has_value()) << bad;
  }
}

TEST(KeyPolicy, CheckKindsAndOrdersAreSpelledOneWay) {
  for (const CheckKind kind : {CheckKind::kNone, CheckKind::kLuhn}) {
    EXPECT_EQ(ParseCheckKind(CheckKindName(kind)), kind);
  }
  EXPECT_EQ(CheckKindName(CheckKind::kLuhn), "luhn");
  EXPECT_EQ(CheckKindName(CheckKind::kNone), "none");
  for (const KeyOrder order : kBothOrders) {
    EXPECT_EQ(ParseKeyOrder(KeyOrderName(order)), order);
  }
  EXPECT_EQ(KeyOrderName(KeyOrder::kScrambled), "scrambled");
  for (const char* bad : {"", "Luhn", "LUHN", "luhn ", "mod10", "None"}) {
    EXPECT_EQ(ParseCheckKind(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseKeyOrder("Sequential"), std::nullopt);
}

TEST(Alphabet, MaxKeyLengthPerPreset) {
  for (const Preset& p : kPresets) {
    const Alphabet a = Parsed(p.name);
    EXPECT_TRUE(a.preset());
    EXPECT_EQ(a.spec(), p.name);
    EXPECT_EQ(a.chars(), p.chars);
    EXPECT_EQ(MaxKeyLength(a.size()), p.max_length) << p.name;
    EXPECT_EQ(KeySpace(a.size(), p.max_length) / a.size(),
              KeySpace(a.size(), p.max_length - 1));
  }
  EXPECT_EQ(MaxKeyLength(2), 62);
  EXPECT_EQ(MaxKeyLength(3), 39);
  EXPECT_EQ(MaxKeyLength(256), 7);
  EXPECT_EQ(Alphabet(), Parsed("base62"));
}

TEST(Alphabet, KeyLengthProblemNamesTheLargestLength) {
  for (const Preset& p : kPresets) {
    const Alphabet a = Parsed(p.name);
    EXPECT_EQ(KeyLengthProblem(a, 1), "");
    EXPECT_EQ(KeyLengthProblem(a, p.max_length), "");
    for (const int bad : {0, p.max_length + 1, 100}) {
      const std::string why = KeyLengthProblem(a, bad);
      EXPECT_EQ(why, std::string(p.name) + " keys are 1 to " +
                         std::to_string(p.max_length) + " characters long (" +
                         std::to_string(a.size()) + "^" +
                         std::to_string(p.max_length + 1) +
                         " keys do not fit in 63 bits), not " +
                         std::to_string(bad));
    }
  }
  EXPECT_EQ(KeyLengthProblem(Parsed("01"), 63),
            "keys of a 2-character alphabet are 1 to 62 characters long "
            "(2^63 keys do not fit in 63 bits), not 63");
}

TEST(Alphabet, CheckProblemRefusesLuhnOnOddAlphabets) {
  EXPECT_EQ(CheckProblem(Parsed("base58"), CheckKind::kLuhn), "");
  EXPECT_EQ(CheckProblem(Parsed("xyz"), CheckKind::kNone), "");
  const std::string why = CheckProblem(Parsed("xyz"), CheckKind::kLuhn);
  EXPECT_NE(why.find("even size"), std::string::npos) << why;
  EXPECT_NE(why.find("3 characters"), std::string::npos) << why;
}

TEST(Alphabet, ParseRefusesBadCustomAlphabets) {
  EXPECT_EQ(ParseError("abca"), "has \"a\" twice");
  EXPECT_EQ(ParseError("ab/c"), "has \"/\", which is not URL-safe");
  EXPECT_EQ(ParseError("ab c"), "has \" \", which is not URL-safe");
  EXPECT_EQ(ParseError(std::string("ab\x01", 3)),
            "has byte 1, which is not URL-safe");
  EXPECT_EQ(ParseError("ab\xc3\xa9"), "has byte 195, which is not URL-safe");
  EXPECT_EQ(ParseError("a"),
            "is neither a preset nor 2 to 256 characters long");
  EXPECT_EQ(ParseError(""), "is neither a preset nor 2 to 256 characters long");
  EXPECT_EQ(ParseError(std::string(257, 'a')),
            "is neither a preset nor 2 to 256 characters long");
  // A misspelt preset is not read as a 3- to 6-character alphabet.
  for (const char* name : {"Base62", "BASE58", "HEX", "Hex", "base64", "base32",
                           "Base16", "Digits", "CROCKFORD32"}) {
    EXPECT_EQ(ParseError(name),
              "is not a preset (they are spelled base62, base58, base36, "
              "crockford32, digits, hex)")
        << name;
  }
  // Every URL-safe character, in any order, is a custom alphabet.
  const Alphabet all = Parsed("~_.-zyx0123456789");
  EXPECT_FALSE(all.preset());
  EXPECT_EQ(all.spec(), "~_.-zyx0123456789");
  EXPECT_EQ(all.Digit('~'), 0);
  EXPECT_EQ(all.Digit('9'), 16);
  EXPECT_EQ(all.Digit('Z'), -1);  // custom alphabets are case-sensitive
  const Alphabet back = Parsed(all.spec());
  EXPECT_EQ(back, all);
}

TEST(Alphabet, CrockfordDecodeMap) {
  const Alphabet a = Parsed("crockford32");
  for (std::size_t i = 0; i < a.chars().size(); ++i) {
    const char c = a.chars()[i];
    EXPECT_EQ(a.Digit(c), static_cast<int>(i));
    EXPECT_EQ(
        a.Digit(static_cast<char>(std::tolower(static_cast<unsigned char>(c)))),
        static_cast<int>(i));
  }
  for (const char c : {'I', 'i', 'L', 'l'}) EXPECT_EQ(a.Digit(c), 1) << c;
  for (const char c : {'O', 'o'}) EXPECT_EQ(a.Digit(c), 0) << c;
  for (const char c : {'U', 'u', '-', '_', '~', '.'}) {
    EXPECT_EQ(a.Digit(c), -1) << c;
  }
}

TEST(Alphabet, Base36AndHexDecodeEitherCase) {
  for (const char* name : {"base36", "hex"}) {
    const Alphabet a = Parsed(name);
    for (std::size_t i = 0; i < a.chars().size(); ++i) {
      const auto c = static_cast<unsigned char>(a.chars()[i]);
      EXPECT_EQ(a.Digit(static_cast<char>(std::toupper(c))),
                static_cast<int>(i));
      EXPECT_EQ(a.Digit(static_cast<char>(c)), static_cast<int>(i));
    }
  }
  EXPECT_EQ(Parsed("hex").Digit('g'), -1);
  EXPECT_EQ(Parsed("hex").Digit('G'), -1);
  const KeyCodec codec(6, KeyOrder::kScrambled, kSecret,
                       {Parsed("base36"), CheckKind::kNone, ""});
  const std::string key = codec.Encode(123456);
  std::string upper = key;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(codec.Decode(upper), 123456u) << upper;
}

TEST(Alphabet, Base62AndBase58AreCaseSensitive) {
  const Alphabet b62 = Parsed("base62");
  EXPECT_EQ(b62.Digit('a'), 36);
  EXPECT_EQ(b62.Digit('A'), 10);
  const Alphabet b58 = Parsed("base58");
  for (const char c : {'0', 'O', 'I', 'l'}) EXPECT_EQ(b58.Digit(c), -1) << c;
  EXPECT_EQ(b58.Digit('1'), 0);
  EXPECT_EQ(b58.Digit('z'), 57);
}

}  // namespace
}  // namespace forge::keys
