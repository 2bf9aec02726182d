// Key policies through the real binaries (issue 14): declared alphabets,
// check characters and prefixes are what /get-key hands out and what
// /check-key accepts; an exhaustive small key space with a blocklist
// issues every clean key exactly once and no blocked one; a blocklist set
// with forge-ctl while keys wait in the ring reaches those keys too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/names.h"
#include "keys/key_codec.h"
#include "shm/notify.h"
#include "shm/segment.h"
#include "tests/support/http_client.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> Lines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The letters a person may read a key character as (README "Key policy"),
// spelled out independently of keys/blocklist.cpp: its oracle.
std::string ReadsAs(char c) {
  switch (c) {
    case '0':
      return "o";
    case '1':
      return "il";
    case '3':
      return "e";
    case '4':
      return "a";
    case '5':
      return "s";
    case '7':
      return "t";
    case '8':
      return "b";
    default:
      return std::string(
          1, static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
}

bool NaiveBlocked(std::string_view key, const std::vector<std::string>& words) {
  for (const std::string& w : words) {
    for (std::size_t p = 0; p + w.size() <= key.size(); ++p) {
      bool all = true;
      for (std::size_t j = 0; j < w.size() && all; ++j) {
        all = ReadsAs(key[p + j]).find(w[j]) != std::string::npos;
      }
      if (all) return true;
    }
  }
  return false;
}

// Pops every key of namespace `ns` until its broker says the key space is
// exhausted and the ring is empty; calls `take` with each key's text.
// False when that did not happen within `timeout`.
template <typename Take>
bool PopUntilExhausted(const Stack& stack, const std::string& ns, Take take,
                       milliseconds timeout) {
  shm::Segment seg =
      shm::Segment::Attach(base::NamespaceSegmentName(stack.shm(), ns));
  const std::uint32_t length = seg.header().key_length;
  std::vector<shm::Key> buf(256 * seg.ring().Stride());
  return WaitUntil(
      [&] {
        for (;;) {
          const std::size_t n = seg.ring().TryPopBatch(buf.data(), 256);
          for (std::size_t i = 0; i < n; ++i) {
            take(shm::KeyTextAt(buf.data(), i, length));
          }
          if (n == 0) break;
        }
        shm::MaybeWakeProducer(seg);
        // acquire: pairs with the broker's release store of its state.
        const auto state = static_cast<shm::BrokerState>(
            seg.broker().state.load(std::memory_order_acquire));
        return state == shm::BrokerState::kExhausted && seg.ring().Size() == 0;
      },
      timeout);
}

std::uint64_t Blocked(const Stack& stack, const std::string& ns) {
  // relaxed: a statistic.
  return stack.View(ns)->broker().keys_blocked.load(std::memory_order_relaxed);
}

class PolicyTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  PolicyTest()
      : stack_({{"WORKERS", "2"}}, StackOptions::OwnStore(GetParam())) {}

  std::string Body(const std::string& target, int status = 200) const {
    const HttpResponse r = Get(stack_.port(), target);
    EXPECT_EQ(r.status, status)
        << target << ": " << r.body << r.error << stack_.Logs();
    return r.body;
  }

  Stack stack_;
};

TEST_P(PolicyTest, DeclaredPoliciesAreWhatClientsGetAndCheck) {
  TestNamespace inv{"inv", 8, "scrambled"};
  inv.alphabet = "base58";
  inv.check = "luhn";
  inv.prefix = "inv_";
  inv.blocklist = "default";
  // 4 + 18 + 1 = 23 characters: a key that takes two ring slots.
  TestNamespace pins{"pins", 18, "sequential"};
  pins.alphabet = "digits";
  pins.check = "luhn";
  pins.prefix = "pin-";
  pins.blocklist = "none";
  stack_.Declare({inv, pins});
  ASSERT_TRUE(stack_.Up()) << stack_.Logs();

  EXPECT_EQ(Body("/get-key").size(), 7u);  // default: today's format
  const std::string key = Body("/get-key?ns=inv");
  ASSERT_EQ(key.size(), 4u + 8u + 1u) << key;
  EXPECT_THAT(key, StartsWith("inv_"));
  const std::string_view base58 =
      "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  for (const char c : key.substr(4)) {
    EXPECT_NE(base58.find(c), std::string_view::npos) << key;
  }
  EXPECT_EQ(Body("/check-key?ns=inv&key=" + key),
            R"({"namespace":"inv","well_formed":true,"check_ok":true})"
            "\n");
  EXPECT_EQ(Body("/check-key?ns=inv&key=" + key.substr(4)),
            R"({"namespace":"inv","well_formed":true,"check_ok":true})"
            "\n");
  std::string typo = key;
  typo[6] = typo[6] == 'z' ? 'y' : 'z';
  EXPECT_EQ(Body("/check-key?ns=inv&key=" + typo),
            R"({"namespace":"inv","well_formed":true,"check_ok":false})"
            "\n");

  // Sequential digits with luhn: the numbers 0, 1, 2 as the codec spells
  // them (the same policy, built here).
  keys::KeyPolicy policy;
  std::string why;
  policy.alphabet = *keys::Alphabet::Parse("digits", &why);
  policy.check = keys::CheckKind::kLuhn;
  policy.prefix = "pin-";
  const keys::KeyCodec codec(18, keys::KeyOrder::kSequential, 0, policy);
  const std::vector<std::string> got = Lines(Body("/get-keys?ns=pins&count=3"));
  EXPECT_EQ(got, (std::vector<std::string>{codec.Encode(0), codec.Encode(1),
                                           codec.Encode(2)}));
  EXPECT_EQ(Body("/get-key?ns=pins"), codec.Encode(3));
  EXPECT_EQ(Body("/check-key?ns=pins&key=" + codec.Encode(2)),
            R"({"namespace":"pins","well_formed":true,"check_ok":true,)"
            R"("number":2})"
            "\n");
}

INSTANTIATE_TEST_SUITE_P(Stores, PolicyTest,
                         ::testing::Values(StoreKind::kSqlite,
                                           StoreKind::kPostgres));

class PolicySqliteTest : public PolicyTest {};

// 36^4 = 1,679,616 keys, scrambled: the ring's keys over the namespace's
// whole life are exactly the keys no word of the list is read in, each
// once; the broker counts the others as blocked.
TEST_P(PolicySqliteTest,
       AnExhaustiveSpaceIssuesEveryCleanKeyOnceAndNoBlockedOne) {
  const std::vector<std::string> words = {"zz", "bee", "tool", "ai"};
  TestNamespace tiny{"tiny", 4, "scrambled", 65536};
  tiny.alphabet = "base36";
  tiny.blocklist = "words.txt";  // beside config.yml
  stack_.Declare({tiny});
  WriteFile(stack_.dir() / "config/words.txt",
            "# test list\nzz\nBee\n\ntool\nai\n");
  ASSERT_TRUE(stack_.Up({{"RANGE_SIZE", "100000"}})) << stack_.Logs();

  constexpr std::uint32_t kSpace = 36 * 36 * 36 * 36;
  const std::string_view base36 = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::vector<bool> seen(kSpace);
  std::uint64_t repeats = 0, malformed = 0;
  const bool done = PopUntilExhausted(
      stack_, "tiny",
      [&](std::string_view key) {
        std::uint32_t v = 0;
        for (const char c : key) {
          const auto d = base36.find(c);
          if (key.size() != 4 || d == std::string_view::npos) {
            ++malformed;
            return;
          }
          v = v * 36 + static_cast<std::uint32_t>(d);
        }
        if (seen[v]) ++repeats;
        seen[v] = true;
      },
      milliseconds(120000));
  ASSERT_TRUE(done) << stack_.Logs();
  EXPECT_EQ(repeats, 0u);
  EXPECT_EQ(malformed, 0u);

  std::uint64_t clean = 0, wrong = 0;
  std::string key(4, '0');
  for (std::uint32_t v = 0; v < kSpace; ++v) {
    std::uint32_t x = v;
    for (int i = 3; i >= 0; --i, x /= 36) key[i] = base36[x % 36];
    const bool blocked = NaiveBlocked(key, words);
    clean += blocked ? 0 : 1;
    if (seen[v] == blocked) ++wrong;  // issued and blocked, or clean and not
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(kSpace - clean, 0u);
  EXPECT_EQ(Blocked(stack_, "tiny"), kSpace - clean);
}

// 1000 sequential 3-digit keys all wait in the ring; a list set with
// forge-ctl then takes the ones it blocks back out of it.
TEST_P(PolicySqliteTest, ABlocklistSetWithForgeCtlReachesKeysAlreadyInTheRing) {
  TestNamespace codes{"codes", 3, "sequential", 1024};
  codes.alphabet = "digits";
  codes.blocklist = "none";
  stack_.Declare({codes});
  ASSERT_TRUE(stack_.Up()) << stack_.Logs();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto seg = stack_.View("codes");
        return seg && seg->ring().Size() == 1000;
      },
      kStackDeadline))
      << stack_.Logs();

  // 800 reads "boo", 833 "bee", 734 "tea".
  WriteFile(stack_.dir() / "words.txt", "boo\nbee\ntea\n");
  const RunResult set =
      testing::Run({Bin("forge-ctl"), "namespace", "blocklist", "codes",
                    stack_.dir() / "words.txt"},
                   stack_.MakeEnv());
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  ASSERT_TRUE(
      WaitUntil([&] { return Blocked(stack_, "codes") == 3; }, kStackDeadline))
      << stack_.Logs();

  std::set<std::string> got;
  ASSERT_TRUE(PopUntilExhausted(
      stack_, "codes", [&](std::string_view k) { got.emplace(k); },
      kStackDeadline))
      << stack_.Logs();
  EXPECT_EQ(got.size(), 997u);
  for (const char* blocked : {"800", "833", "734"}) {
    EXPECT_EQ(got.count(blocked), 0u) << blocked;
  }
  EXPECT_EQ(got.count("801"), 1u);
  EXPECT_THAT(stack_.broker()->Stderr(), HasSubstr("blocklist none -> custom"));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, PolicySqliteTest,
                         ::testing::Values(StoreKind::kSqlite));

}  // namespace
}  // namespace forge::testing
