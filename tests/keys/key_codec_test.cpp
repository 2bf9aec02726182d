// Tests for keys/key_codec: Base62 encoding and the keyed permutation.
#include "keys/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/status.h"

namespace forge::keys {
namespace {

constexpr KeyOrder kBothOrders[] = {KeyOrder::kSequential,
                                    KeyOrder::kScrambled};
constexpr std::uint64_t kSecret = 0x5eed'1234'abcd'9876ULL;

// An independent Base62 reader: the value a key spells, or -1 when a byte
// is outside the alphabet.
class Base62Reader {
 public:
  Base62Reader() {
    digit_.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
      digit_[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
    }
  }
  std::int64_t Value(const char* key, int length) const {
    std::int64_t v = 0;
    for (int i = 0; i < length; ++i) {
      const int d = digit_[static_cast<unsigned char>(key[i])];
      if (d < 0) return -1;
      v = v * 62 + d;
    }
    return v;
  }

 private:
  std::array<int, 256> digit_{};
};

std::string Name(KeyOrder order) { return std::string(KeyOrderName(order)); }

TEST(KeySpace, IsPowersOfSixtyTwo) {
  EXPECT_EQ(KeySpace(1), 62u);
  EXPECT_EQ(KeySpace(2), 3844u);
  EXPECT_EQ(KeySpace(7), 3'521'614'606'208ULL);
  EXPECT_EQ(KeySpace(10), 839'299'365'868'340'224ULL);
  EXPECT_DEATH((void)KeySpace(0), "outside the allowed range 1..10");
  EXPECT_DEATH((void)KeySpace(11), "outside the allowed range 1..10");
}

// Lengths are checked where they enter (config, the store's format), so
// another one here is a programming error (FORGE_CHECK).
TEST(KeyCodec, RejectsLengthOutsideOneToTen) {
  EXPECT_DEATH(KeyCodec(0, KeyOrder::kSequential, 0), "outside the allowed");
  EXPECT_DEATH(KeyCodec(11, KeyOrder::kScrambled, 1), "outside the allowed");
  EXPECT_DEATH(KeyCodec(-3, KeyOrder::kScrambled, 1), "outside the allowed");
}

TEST(KeyCodec, RoundTripsRandomNumbersForEveryLengthAndOrder) {
  std::mt19937_64 rng(42);
  const Base62Reader reader;
  for (KeyOrder order : kBothOrders) {
    for (int length = kMinKeyLength; length <= kMaxKeyLength; ++length) {
      SCOPED_TRACE(Name(order) + " length " + std::to_string(length));
      const KeyCodec codec(length, order, kSecret);
      std::uniform_int_distribution<std::uint64_t> pick(0, codec.space() - 1);
      for (int i = 0; i < 20000; ++i) {
        const std::uint64_t n =
            i < 2 ? (i == 0 ? 0 : codec.space() - 1) : pick(rng);
        const std::string key = codec.Encode(n);
        ASSERT_EQ(key.size(), static_cast<std::size_t>(length));
        ASSERT_GE(reader.Value(key.data(), length), 0) << key;
        const auto back = codec.Decode(key);
        ASSERT_TRUE(back.has_value()) << key;
        ASSERT_EQ(*back, n) << key;
      }
    }
  }
}

// Every number of the space maps to a distinct in-range key, and Decode
// inverts it. A bitset over the space keeps L=4 (14.8M keys) fast.
void ExpectBijection(int length, KeyOrder order, std::uint64_t secret) {
  const KeyCodec codec(length, order, secret);
  const Base62Reader reader;
  std::vector<std::uint64_t> seen((codec.space() + 63) / 64, 0);
  char key[kMaxKeyLength];
  for (std::uint64_t n = 0; n < codec.space(); ++n) {
    codec.Encode(n, key);
    const std::int64_t v = reader.Value(key, length);
    ASSERT_GE(v, 0) << "n=" << n << " gave a key outside the alphabet";
    const std::uint64_t bit = static_cast<std::uint64_t>(v);
    ASSERT_LT(bit, codec.space());
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
    ASSERT_EQ(seen[bit / 64] & mask, 0u)
        << "n=" << n << " repeats key " << std::string(key, length);
    seen[bit / 64] |= mask;
    const auto back = codec.Decode(std::string_view(key, length));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(*back, n);
  }
}

TEST(KeyCodec, ExhaustiveBijectionForLengthsOneToFour) {
  for (KeyOrder order : kBothOrders) {
    for (int length = 1; length <= 4; ++length) {
      SCOPED_TRACE(Name(order) + " length " + std::to_string(length));
      ExpectBijection(length, order, kSecret);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(KeyCodec, ExhaustiveBijectionHoldsForOtherSecrets) {
  for (std::uint64_t secret : {0ULL, 1ULL, ~0ULL, 0x8000'0000'0000'0000ULL}) {
    for (int length = 1; length <= 3; ++length) {
      SCOPED_TRACE("secret " + std::to_string(secret) + " length " +
                   std::to_string(length));
      ExpectBijection(length, KeyOrder::kScrambled, secret);
      if (HasFatalFailure()) return;
    }
  }
}

// The Go original used hash(n) % 62^7 and issued the same key for these two
// counters. A permutation cannot, whatever the secret.
TEST(KeyCodec, GoCollisionPairGivesDistinctKeysForAnySecret) {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> secrets = {0, 1, kSecret};
  for (int i = 0; i < 200; ++i) secrets.push_back(rng());
  for (std::uint64_t secret : secrets) {
    const KeyCodec codec(7, KeyOrder::kScrambled, secret);
    EXPECT_NE(codec.Encode(329622), codec.Encode(537050)) << secret;
  }
}

TEST(KeyCodec, DifferentSecretsGiveDifferentPermutations) {
  const KeyCodec a(7, KeyOrder::kScrambled, 1);
  const KeyCodec b(7, KeyOrder::kScrambled, 2);
  int same = 0;
  for (std::uint64_t n = 0; n < 10000; ++n) {
    if (a.Encode(n) == b.Encode(n)) ++same;
  }
  EXPECT_LE(same, 2) << "two secrets agree on too many keys";

  // Even the tiny L=1 space (62! orders) gets distinct orders per secret.
  std::vector<std::string> orders;
  for (std::uint64_t secret = 1; secret <= 20; ++secret) {
    const KeyCodec codec(1, KeyOrder::kScrambled, secret);
    std::string all;
    for (std::uint64_t n = 0; n < 62; ++n) all += codec.Encode(n);
    orders.push_back(all);
  }
  std::sort(orders.begin(), orders.end());
  EXPECT_EQ(std::unique(orders.begin(), orders.end()), orders.end());
}

TEST(KeyCodec, ScrambledKeysDoNotFollowTheCounter) {
  const KeyCodec codec(7, KeyOrder::kScrambled, kSecret);
  const KeyCodec plain(7, KeyOrder::kSequential, 0);
  int fixed_points = 0;
  int ascending = 0;
  std::string prev = codec.Encode(0);
  for (std::uint64_t n = 1; n < 10000; ++n) {
    const std::string key = codec.Encode(n);
    if (key == plain.Encode(n)) ++fixed_points;
    if (key > prev) ++ascending;
    prev = key;
  }
  EXPECT_LE(fixed_points, 2);
  // A random order rises about half the time; a counter always does.
  EXPECT_GT(ascending, 4000);
  EXPECT_LT(ascending, 6000);
}

TEST(KeyCodec, SequentialKeysAreBase62AndSortLikeTheNumbers) {
  const KeyCodec codec(7, KeyOrder::kSequential, 0);
  EXPECT_EQ(codec.Encode(0), "0000000");
  EXPECT_EQ(codec.Encode(9), "0000009");
  EXPECT_EQ(codec.Encode(10), "000000A");
  EXPECT_EQ(codec.Encode(36), "000000a");
  EXPECT_EQ(codec.Encode(61), "000000z");
  EXPECT_EQ(codec.Encode(62), "0000010");
  EXPECT_EQ(codec.Encode(codec.space() - 1), "zzzzzzz");

  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::uint64_t> pick(0, codec.space() - 1);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t a = pick(rng);
    std::uint64_t b = i % 2 ? a + 1 : pick(rng);
    if (b >= codec.space() || a == b) continue;
    if (a > b) std::swap(a, b);
    ASSERT_LT(codec.Encode(a), codec.Encode(b)) << a << " < " << b;
  }
}

// EncodeRange of [first, first + count) into '#'-filled slots writes, in
// each slot, exactly the key Encode gives and nothing past it.
::testing::AssertionResult RangeIsWhatEncodeWrites(const KeyCodec& codec,
                                                   std::uint64_t first,
                                                   std::size_t count) {
  constexpr std::size_t kStride = 96;
  std::vector<char> out(count * kStride, '#');
  codec.EncodeRange(first, count, out.data(), kStride);
  for (std::size_t i = 0; i < count; ++i) {
    const char* slot = out.data() + i * kStride;
    const std::string got(slot, codec.text_length());
    if (got != codec.Encode(first + i) || slot[codec.text_length()] != '#') {
      return ::testing::AssertionFailure()
             << "number " << first + i << ": slot \"" << std::string(slot, 20)
             << "\", Encode \"" << codec.Encode(first + i) << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// Issue 18: the broker encodes whole batches with EncodeRange; every key
// must be the one Encode gives, for every order, length (cycle-walking
// small spaces included), prefix and check, at any count and offset, and
// a slot's bytes past the key stay as they were.
TEST(KeyCodec, EncodeRangeWritesWhatEncodeWrites) {
  std::string why;
  const std::vector<KeyPolicy> policies = {
      KeyPolicy{},
      KeyPolicy{*Alphabet::Parse("crockford32", &why), CheckKind::kLuhn,
                "inv-"},
      KeyPolicy{*Alphabet::Parse("base58", &why), CheckKind::kNone, "x"}};
  for (const KeyPolicy& policy : policies) {
    for (const KeyOrder order : kBothOrders) {
      for (const int length : {1, 2, 5, 7, 10}) {
        const KeyCodec codec(length, order, kSecret, policy);
        SCOPED_TRACE(Name(order) + " length " + std::to_string(length) +
                     " prefix " + policy.prefix);
        for (const std::uint64_t first :
             {std::uint64_t{0}, codec.space() / 3,
              codec.space() - std::min<std::uint64_t>(codec.space(), 61)}) {
          const std::size_t count = static_cast<std::size_t>(
              std::min<std::uint64_t>(61, codec.space() - first));
          ASSERT_TRUE(RangeIsWhatEncodeWrites(codec, first, count));
        }
      }
    }
  }
}

// The AVX-512 kernel (32 numbers a call) against the scalar Encode over
// many random ranges and the top of the space: alphabets of 2 to 64
// characters (64 fills the whole byte-permute table, and its 8-digit space
// of 2^48 is where the division's error bound is tightest), lengths 1 to
// 8 (tiny spaces cycle-walk most lanes several times), prefixes, both
// orders. On a CPU with AVX-512 the kernel must be the one in use.
TEST(KeyCodec, TheVectorKernelWritesWhatEncodeWrites) {
  std::string why;
  std::mt19937_64 rng(18);
  for (const char* name :
       {"base62", "base58", "base36", "crockford32", "hex", "01",
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"}) {
    for (const std::string prefix : {"", "ab_"}) {
      const KeyPolicy policy{*Alphabet::Parse(name, &why), CheckKind::kNone,
                             prefix};
      for (const KeyOrder order : kBothOrders) {
        for (int length = 1; length <= 8; ++length) {
          const KeyCodec codec(length, order, rng(), policy);
          SCOPED_TRACE(std::string(name) + " " + Name(order) + " length " +
                       std::to_string(length) + " prefix " + prefix);
          if (__builtin_cpu_supports("avx512vbmi")) {
            EXPECT_TRUE(codec.vectorised());
          }
          for (int round = 0; round < 8; ++round) {
            const std::size_t count = static_cast<std::size_t>(
                std::min<std::uint64_t>(300, codec.space()));
            // The last round ends at the top of the space.
            const std::uint64_t first =
                round == 7 ? codec.space() - count
                           : rng() % (codec.space() - count + 1);
            ASSERT_TRUE(RangeIsWhatEncodeWrites(codec, first, count));
          }
        }
      }
    }
  }
}

// A scrambled codec's keys are fixed forever: stores keep numbers, not
// keys, so a changed permutation would turn new numbers into keys already
// handed out. These are the keys of the first release (secret 42, length
// 7); EncodeRange (the vector kernel included) must give the same.
TEST(KeyCodec, ScrambledKeysNeverChange) {
  const KeyCodec codec(7, KeyOrder::kScrambled, 42);
  const std::vector<std::pair<std::uint64_t, std::string>> golden = {
      {0, "ouHZM63"},       {1, "KbEalQa"},
      {2, "nPP5l1r"},       {3, "wwfjSaE"},
      {1000000, "TArkzPm"}, {1000031, "pGCeL8v"},
      {1000039, "McLmxIh"}, {codec.space() - 1, "ccRSUMB"}};
  for (const auto& [n, key] : golden) EXPECT_EQ(codec.Encode(n), key) << n;
  constexpr std::size_t kStride = 8;
  std::vector<char> out(40 * kStride);
  codec.EncodeRange(1000000, 40, out.data(), kStride);
  EXPECT_EQ(std::string(out.data(), 7), golden[4].second);
  EXPECT_EQ(std::string(out.data() + 31 * kStride, 7), golden[5].second);
  EXPECT_EQ(std::string(out.data() + 39 * kStride, 7), golden[6].second);
}

TEST(KeyCodec, EncodeRangePastTheSpaceThrowsBeforeWriting) {
  const KeyCodec codec(2, KeyOrder::kScrambled, kSecret);
  std::vector<char> out(8 * 16, '#');
  try {
    codec.EncodeRange(codec.space() - 4, 8, out.data(), 16);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Code::kCorruption);
    EXPECT_NE(std::string(e.what()).find(std::to_string(codec.space())),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(std::count(out.begin(), out.end(), '#'), 8 * 16);
}

TEST(KeyCodec, EncodeWritesExactlyLengthCharacters) {
  for (KeyOrder order : kBothOrders) {
    const KeyCodec codec(5, order, kSecret);
    char buf[8];
    std::fill(std::begin(buf), std::end(buf), '#');
    codec.Encode(123456, buf);
    EXPECT_EQ(std::string(buf, 5), codec.Encode(123456));
    EXPECT_EQ(std::string(buf + 5, 3), "###");
  }
}

TEST(KeyCodec, DecodeRejectsWrongLengthAndForeignCharacters) {
  for (KeyOrder order : kBothOrders) {
    const KeyCodec codec(7, order, kSecret);
    EXPECT_TRUE(codec.Decode("abcDE12").has_value());
    EXPECT_FALSE(codec.Decode("").has_value());
    EXPECT_FALSE(codec.Decode("abcDE1").has_value());
    EXPECT_FALSE(codec.Decode("abcDE123").has_value());
    for (char bad :
         {'-', '_', ' ', '+', '/', '=', '.', '\0', '\x7f', '\xff', '\xc3'}) {
      std::string key = "abcDE12";
      key[3] = bad;
      EXPECT_FALSE(codec.Decode(key).has_value())
          << "accepted byte " << static_cast<int>(bad);
    }
  }
}

TEST(KeyCodec, EncodeRejectsNumbersOutsideTheSpace) {
  for (KeyOrder order : kBothOrders) {
    for (int length : {1, 7, 10}) {
      const KeyCodec codec(length, order, kSecret);
      char buf[kMaxKeyLength];
      // A number from a store outside the space is damaged data: a
      // recoverable forge::Error, never a key.
      EXPECT_THROW(codec.Encode(codec.space()), Error);
      EXPECT_THROW(codec.Encode(codec.space(), buf), Error);
      EXPECT_THROW(codec.Encode(~std::uint64_t{0}), Error);
      EXPECT_NO_THROW(codec.Encode(codec.space() - 1));
    }
  }
}

}  // namespace
}  // namespace forge::keys
