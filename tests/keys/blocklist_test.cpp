// Tests for keys/blocklist: the look-alike reading, the automaton against
// a naive matcher, word files, the built-in list, and an exhaustive key
// space filtered through it.
#include "keys/blocklist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "keys/key_codec.h"

namespace forge::keys {
namespace {

using Words = std::vector<std::string>;

// The reference: whether a person could read key character `c` as the
// word's letter `letter` (case-insensitive; 0->o 1->i/l 3->e 4->a 5->s
// 7->t 8->b).
bool ReadsAs(char c, char letter) {
  switch (c) {
    case '0':
      return letter == 'o';
    case '1':
      return letter == 'i' || letter == 'l';
    case '3':
      return letter == 'e';
    case '4':
      return letter == 'a';
    case '5':
      return letter == 's';
    case '7':
      return letter == 't';
    case '8':
      return letter == 'b';
    default:
      return std::tolower(static_cast<unsigned char>(c)) == letter;
  }
}

bool NaiveContains(std::string_view text, std::string_view word) {
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
    bool all = true;
    for (std::size_t j = 0; j < word.size() && all; ++j) {
      all = ReadsAs(text[i + j], word[j]);
    }
    if (all) return true;
  }
  return false;
}

bool NaiveBlocks(std::string_view text, const Words& words) {
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) {
    return NaiveContains(text, w);
  });
}

TEST(Blocklist, EachLookAlikeDigitReadsAsItsLetter) {
  const std::pair<char, char> kLookAlikes[] = {
      {'0', 'o'}, {'3', 'e'}, {'4', 'a'}, {'5', 's'}, {'7', 't'}, {'8', 'b'}};
  for (const auto& [digit, letter] : kLookAlikes) {
    const std::string word = std::string("q") + letter + "q";
    SCOPED_TRACE(word);
    const Blocklist list({word});
    EXPECT_TRUE(list.Blocks(word));
    EXPECT_TRUE(list.Blocks(std::string("xq") + digit + "qx"));
    EXPECT_TRUE(list.Blocks(std::string("Q") + digit + "Q"));
    for (char other = '0'; other <= '9'; ++other) {
      if (other == digit) continue;
      EXPECT_FALSE(list.Blocks(std::string("q") + other + "q")) << other;
    }
  }
}

TEST(Blocklist, OneReadsAsIAndAsL) {
  const Blocklist i({"qiq"});
  EXPECT_TRUE(i.Blocks("q1q"));
  EXPECT_TRUE(i.Blocks("QIQ"));
  EXPECT_FALSE(i.Blocks("qlq"));  // only 1 is ambiguous, not i and l
  const Blocklist l({"qlq"});
  EXPECT_TRUE(l.Blocks("q1q"));
  EXPECT_TRUE(l.Blocks("QLQ"));
  EXPECT_FALSE(l.Blocks("qIq"));
  // One 1 may be read as i and the next as l within the same word.
  const Blocklist lil({"lil"});
  for (const char* text : {"111", "1i1", "l1l", "L11", "x1I1x"}) {
    EXPECT_TRUE(lil.Blocks(text)) << text;
  }
  for (const char* text : {"1l1", "lll", "iii", "lli"}) {
    EXPECT_FALSE(lil.Blocks(text)) << text;
  }
}

TEST(Blocklist, IgnoresCaseAndMatchesAnywhere) {
  const Blocklist list({"sex"});
  for (const char* text : {"sex", "SEX", "sEx", "5ex", "53X", "sexabc",
                           "abcsex", "absexc", "ssex", "sesex", "sesse5ex"}) {
    EXPECT_TRUE(list.Blocks(text)) << text;
    EXPECT_EQ(list.Match(text), "sex") << text;
  }
  for (const char* text : {"", "se", "s3", "sxe", "se-x", "s_ex", "s.ex",
                           "s~ex", "se\xffx", "se2x", "s6x", "se9x"}) {
    EXPECT_FALSE(list.Blocks(text)) << text;
    EXPECT_EQ(list.Match(text), std::nullopt) << text;
  }
  EXPECT_TRUE(list.Blocks(std::string_view("ab\0sex", 6)));
  EXPECT_FALSE(list.Blocks(std::string_view("se\0x", 4)));
}

TEST(Blocklist, PartialMatchesFallBackToShorterWords) {
  const Blocklist list({"abcd", "bce", "aab"});
  EXPECT_EQ(list.Match("abce"), "bce");
  EXPECT_EQ(list.Match("aaab"), "aab");
  EXPECT_EQ(list.Match("xabcdx"), "abcd");
  EXPECT_FALSE(list.Blocks("abcabc"));
  // The longest word ending where the first match shows.
  const Blocklist nested({"ole", "hole", "ass", "asshole"});
  EXPECT_EQ(nested.Match("xh0le"), "hole");
  EXPECT_EQ(nested.Match("4sshole"), "ass");
  EXPECT_EQ(nested.size(), 4u);
}

TEST(Blocklist, EmptyListBlocksNothing) {
  for (const Blocklist& list :
       {Blocklist(), Blocklist(Words{}), Blocklist::Of({})}) {
    EXPECT_TRUE(list.empty());
    EXPECT_EQ(list.size(), 0u);
    EXPECT_FALSE(list.Blocks("fuck"));
    EXPECT_EQ(list.Match("fuck"), std::nullopt);
  }
  const Blocklist words({"abc", "abc", "de"});
  EXPECT_FALSE(words.empty());
  EXPECT_EQ(words.size(), 2u);  // distinct words
}

TEST(Blocklist, ManyIAndLLettersStayCheapToCompile) {
  // Variants with every i/l replaced or not would be 2^32 per word; the
  // automaton's states grow with the words' letters instead.
  std::string il;
  std::string li;
  for (int k = 0; k < 16; ++k) {
    il += "il";
    li += "li";
  }
  const Blocklist list({il, li, std::string(32, 'l'), std::string(32, 'i')});
  EXPECT_TRUE(list.Blocks(std::string(32, '1')));
  EXPECT_FALSE(list.Blocks(std::string(31, '1')));
  EXPECT_EQ(list.Match("x" + std::string(31, 'l') + "1x"),
            std::string(32, 'l'));
  EXPECT_TRUE(list.Blocks("1i" + li.substr(2)));
  EXPECT_FALSE(list.Blocks("1l" + li.substr(2)));
}

// The automaton agrees with the naive reference on random texts, for a
// random list of words over letters that have look-alikes (and i, l).
TEST(Blocklist, AgreesWithANaiveMatcherOnRandomTexts) {
  std::mt19937_64 rng(99);
  constexpr std::string_view kLetters = "aeilostbxz";
  constexpr std::string_view kChars = "aeilostbxzAEILOSTBXZ0123456789-_";
  const auto pick = [&](std::string_view from) {
    return from[std::uniform_int_distribution<std::size_t>(
        0, from.size() - 1)(rng)];
  };
  Words words = {"qz", "zx"};
  for (int i = 0; i < 300; ++i) {
    std::string w(std::uniform_int_distribution<std::size_t>(3, 7)(rng), 'a');
    for (char& c : w) c = pick(kLetters);
    words.push_back(w);
  }
  const Blocklist list(words);
  int blocked = 0;
  constexpr int kTexts = 60000;
  for (int i = 0; i < kTexts; ++i) {
    std::string text(std::uniform_int_distribution<std::size_t>(0, 14)(rng),
                     'a');
    for (char& c : text) c = pick(kChars);
    const bool want = NaiveBlocks(text, words);
    ASSERT_EQ(list.Blocks(text), want) << text;
    const std::optional<std::string> word = list.Match(text);
    ASSERT_EQ(word.has_value(), want) << text;
    if (word) {
      ASSERT_TRUE(NaiveContains(text, *word)) << text << " " << *word;
      ASSERT_TRUE(std::find(words.begin(), words.end(), *word) != words.end());
    }
    blocked += want ? 1 : 0;
  }
  // Both outcomes are common, so the comparison means something.
  EXPECT_GT(blocked, kTexts / 10);
  EXPECT_LT(blocked, kTexts * 9 / 10);
}

TEST(Blocklist, BuiltInListAgreesWithTheNaiveMatcher) {
  const Words& words = Blocklist::BuiltInWords();
  const Blocklist list = Blocklist::Of({BlocklistKind::kDefault, {}});
  std::mt19937_64 rng(5);
  const std::string_view base62 = kAlphabet;
  std::uniform_int_distribution<std::size_t> pick(0, base62.size() - 1);
  int blocked = 0;
  constexpr int kKeys = 20000;
  for (int i = 0; i < kKeys; ++i) {
    std::string key(7, '0');
    for (char& c : key) c = base62[pick(rng)];
    // Plant a listed word (spelt with look-alikes) in some keys.
    if (i % 4 == 0) {
      const std::string& w = words[i / 4 % words.size()];
      if (w.size() <= 7) key.replace(i % (8 - w.size()), w.size(), w);
    }
    const bool want = NaiveBlocks(key, words);
    ASSERT_EQ(list.Blocks(key), want) << key;
    blocked += want ? 1 : 0;
  }
  EXPECT_GT(blocked, kKeys / 8);
}

TEST(Blocklist, BuiltInListLoads) {
  const Words& words = Blocklist::BuiltInWords();
  EXPECT_GE(words.size(), 200u);
  EXPECT_LE(words.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(words.begin(), words.end()));
  EXPECT_EQ(std::adjacent_find(words.begin(), words.end()), words.end());
  for (const std::string& w : words) {
    // The file keeps 2-letter words out (they would block too much).
    EXPECT_GE(w.size(), 3u) << w;
  }
  const Blocklist list = Blocklist::Of({BlocklistKind::kDefault, {}});
  EXPECT_EQ(list.size(), words.size());
  for (const char* text : {"xFuCkx", "a55", "5h1t", "b00b5", "C0CK", "Pr0n"}) {
    EXPECT_TRUE(list.Blocks(text)) << text;
  }
  EXPECT_EQ(list.Match("Zq5h1tZ"), "shit");
  for (const char* text : {"0000000", "zzzzzzz", "Qwerty2", "hello", "kGS42"}) {
    EXPECT_FALSE(list.Blocks(text))
        << text << " " << list.Match(text).value_or("");
  }
}

// The default list costs little of a key space: measured on random base62
// keys of 7 characters (the default KEY_LENGTH).
TEST(Blocklist, BuiltInListBlocksAFewPercentAtMost) {
  const Blocklist list = Blocklist::Of({BlocklistKind::kDefault, {}});
  const KeyCodec codec(7, KeyOrder::kScrambled, 1);
  constexpr std::uint64_t kKeys = 200000;
  std::uint64_t blocked = 0;
  char key[7];
  for (std::uint64_t n = 0; n < kKeys; ++n) {
    codec.Encode(n, key);
    blocked += list.Blocks(std::string_view(key, 7)) ? 1 : 0;
  }
  RecordProperty("blocked_per_million",
                 static_cast<int>(blocked * 1'000'000 / kKeys));
  EXPECT_LT(blocked, kKeys / 50) << blocked << " of " << kKeys;
}

TEST(Blocklist, DescribesSpecs) {
  EXPECT_EQ(DescribeBlocklist({}), "none");
  EXPECT_EQ(DescribeBlocklist({BlocklistKind::kDefault, {}}), "default");
  EXPECT_EQ(DescribeBlocklist({BlocklistKind::kCustom, {"ab", "cd"}}),
            "custom (2 words)");
  EXPECT_EQ(Blocklist::Of({BlocklistKind::kCustom, {"ab", "cd"}}).size(), 2u);
}

std::string ParseError(std::string_view text) {
  std::string why;
  EXPECT_FALSE(ParseBlocklistWords(text, "words.txt", &why).has_value());
  return why;
}

TEST(ParseBlocklistWords, ReadsOneWordPerLine) {
  std::string why;
  const auto words = ParseBlocklistWords(
      "# my words\n\n  Fuck \r\nbOOb\nboob\n\tass\t\n   # indented comment\n"
      "zz",
      "words.txt", &why);
  ASSERT_TRUE(words.has_value()) << why;
  EXPECT_EQ(*words, (Words{"ass", "boob", "fuck", "zz"}));
  const Blocklist list(*words);
  EXPECT_TRUE(list.Blocks("xZZx"));
}

TEST(ParseBlocklistWords, ErrorsNameFileLineAndRule) {
  const std::string rule =
      "; a blocked word is 2 to 32 letters a-z, one per line (lines starting "
      "with # are comments)";
  EXPECT_EQ(ParseError("ok\nf*ck\n"), "words.txt:2: \"f*ck\" has \"*\"" + rule);
  EXPECT_EQ(ParseError("# c\n\nf4ck"),
            "words.txt:3: \"f4ck\" has \"4\"" + rule);
  EXPECT_EQ(ParseError("two words"),
            "words.txt:1: \"two words\" has \" \"" + rule);
  EXPECT_EQ(ParseError("ok\r\n a \r\n"),
            "words.txt:2: \"a\" is too short" + rule);
  EXPECT_EQ(ParseError(std::string(33, 'x')),
            "words.txt:1: \"" + std::string(33, 'x') +
                "\" is 33 characters long" + rule);
  EXPECT_EQ(ParseError("caf\xc3\xa9"),
            "words.txt:1: \"caf\\xc3\\xa9\" has \"\\xc3\"" + rule);
  for (const char* empty : {"", "\n\n", "# only\n  # comments\n"}) {
    EXPECT_EQ(ParseError(empty),
              "words.txt: has no words (to block nothing use none)" + rule);
  }
}

// An exhaustive base36 space of 4 characters through a scrambled codec and
// a test list: the keys the list lets through are exactly the strings a
// naive filter over every 4-character string lets through, each once.
TEST(Blocklist, ExhaustiveBase36SpaceKeepsExactlyTheCleanKeys) {
  const Words words = {"ass", "boob", "tit", "ill", "sex", "fu", "zoo"};
  const Blocklist list(words);
  std::string why;
  const KeyPolicy policy{*Alphabet::Parse("base36", &why), CheckKind::kNone,
                         ""};
  const KeyCodec codec(4, KeyOrder::kScrambled, 77, policy);
  const std::string_view chars = policy.alphabet.chars();
  const std::uint64_t space = codec.space();

  // The naive filter over all strings, enumerated without the codec.
  std::vector<bool> clean(space, false);
  std::uint64_t clean_count = 0;
  std::string text(4, '0');
  for (std::uint64_t v = 0; v < space; ++v) {
    std::uint64_t rest = v;
    for (int i = 3; i >= 0; --i) {
      text[static_cast<std::size_t>(i)] = chars[rest % 36];
      rest /= 36;
    }
    clean[v] = !NaiveBlocks(text, words);
    clean_count += clean[v] ? 1 : 0;
  }
  ASSERT_GT(clean_count, space / 2);
  ASSERT_LT(clean_count, space);

  // Every number through the codec and the automaton.
  const KeyCodec reader(4, KeyOrder::kSequential, 0, policy);
  std::vector<bool> issued(space, false);
  std::uint64_t issued_count = 0;
  char key[4];
  for (std::uint64_t n = 0; n < space; ++n) {
    codec.Encode(n, key);
    if (list.Blocks(std::string_view(key, 4))) continue;
    const std::uint64_t v = *reader.Decode(std::string_view(key, 4));
    ASSERT_TRUE(clean[v]) << "issued blocked key " << std::string(key, 4);
    ASSERT_FALSE(issued[v]) << "issued twice " << std::string(key, 4);
    issued[v] = true;
    ++issued_count;
  }
  EXPECT_EQ(issued_count, clean_count);
}

}  // namespace
}  // namespace forge::keys
