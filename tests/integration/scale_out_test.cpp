// Many brokers, one store (issue 5): four real broker + frontend pairs on
// one SQLite file or one PostgreSQL database, hammered at once over HTTP,
// half the requests in namespace kSecond (issue 13: 0 duplicates in each);
// and brokers whose key format disagrees with the store's.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/integration/scale_out_fixture.h"

namespace forge::scale_out {
namespace {

using std::chrono::milliseconds;
using testing::LoadOptions;
using testing::LoadResult;
using testing::RunLoad;

constexpr std::size_t kInstances = 4;
constexpr std::size_t kBatch = 5;  // keys per /get-keys request

// Odd requests ask namespace kSecond, even ones default; in each, one
// request in five takes a small batch, the rest one key each.
bool InSecond(std::size_t i) { return i % 2 == 1; }
std::string Target(std::size_t i) {
  const std::string ns = std::string("ns=") + kSecond;
  if (i % 10 < 2) {
    return "/get-keys?" + (InSecond(i) ? ns + "&" : "") +
           "count=" + std::to_string(kBatch);
  }
  return InSecond(i) ? "/get-key?" + ns : std::string("/get-key");
}
// Keys of one namespace in the answers to `requests` requests made with
// Target.
std::size_t KeysFor(std::size_t requests, bool second) {
  std::size_t keys = 0;
  for (std::size_t i = 0; i < requests; ++i) {
    if (InSecond(i) == second) keys += i % 10 < 2 ? kBatch : 1;
  }
  return keys;
}

// One namespace of the test: its name and codec, and whether Target's
// requests for it are the odd ones.
struct Space {
  std::string name;
  keys::KeyCodec codec;
  bool second;
};
const std::vector<Space>& Spaces() {
  static const std::vector<Space> spaces = {
      {"default", {kKeyLength, keys::KeyOrder::kSequential, 0}, false},
      {kSecond, {kSecondLength, keys::KeyOrder::kSequential, 0}, true}};
  return spaces;
}

// One RunLoad per instance, all at the same time.
std::vector<LoadResult> HammerAll(
    const std::vector<std::unique_ptr<Instance>>& instances,
    std::size_t requests) {
  std::vector<LoadResult> results(instances.size());
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    LoadOptions o;
    o.port = instances[i]->port();
    o.connections = 8;
    o.requests = requests;
    o.target = Target;
    o.deadline = milliseconds(60000);
    clients.emplace_back([&results, i, o] { results[i] = RunLoad(o); });
  }
  for (std::thread& t : clients) t.join();
  return results;
}

// [min, max] of each instance's numbers overlaps another instance's: the
// brokers really reserved concurrently, interleaved in the store.
bool Interleaved(const std::vector<std::vector<std::uint64_t>>& served) {
  for (std::size_t a = 0; a < served.size(); ++a) {
    for (std::size_t b = a + 1; b < served.size(); ++b) {
      const auto [a_lo, a_hi] =
          std::minmax_element(served[a].begin(), served[a].end());
      const auto [b_lo, b_hi] =
          std::minmax_element(served[b].begin(), served[b].end());
      if (*a_lo < *b_hi && *b_lo < *a_hi) return true;
    }
  }
  return false;
}

class ScaleOutTest
    : public ::testing::TestWithParam<std::tuple<StoreKind, std::uint64_t>> {
 protected:
  StoreKind kind() const { return std::get<0>(GetParam()); }
  std::uint64_t range_size() const { return std::get<1>(GetParam()); }
  // Per instance (both namespaces). RANGE_SIZE=1 makes every key a store
  // transaction: fewer keys, still thousands of reservations, and the
  // suite stays fast.
  std::size_t requests() const { return range_size() == 1 ? 560 : 4000; }

  // RANGE_SIZE=1: a tiny ring, so every key is its own store transaction
  // and the brokers fight over the counter thousands of times.
  void StartAll() {
    InstanceOptions options;
    options.db_url = store_.DbUrl();
    options.range_size = range_size();
    options.pool_capacity = range_size() == 1 ? 64 : 1024;
    for (int port : DistinctFreePorts(kInstances)) {
      instances_.push_back(std::make_unique<Instance>(options, port));
    }
    // The brokers start together: creating the store is safe under a race.
    for (auto& in : instances_) in->HoldBroker();
    for (auto& in : instances_) in->HoldFrontend();
    for (auto& in : instances_) ASSERT_TRUE(in->WaitHealthy()) << Logs();
  }

  // The checks of one namespace, on the settled brokers: its ranges tile
  // [0, counter), no number served twice, none past the counter.
  void ExpectTiled(const Space& space, const std::vector<LoadResult>& loads) {
    const keys::KeyCodec& codec = space.codec;
    const std::size_t keys_each = KeysFor(requests(), space.second);
    std::vector<std::vector<std::uint64_t>> served;
    std::vector<std::string> malformed;
    for (const LoadResult& r : loads) {
      served.push_back(ServedNumbers(r, codec, &malformed));
      EXPECT_EQ(served.back().size(), keys_each) << r.Summary();
    }
    EXPECT_TRUE(malformed.empty()) << "e.g. '" << malformed.front() << "'";
    const std::uint64_t counter = store_.Counter(space.name);

    // The store's ranges tile [0, counter) without overlap: every range a
    // broker got is whole (fresh store, nothing returned), so the counter
    // moved by exactly RANGE_SIZE per reservation.
    std::uint64_t reservations = 0;
    for (auto& in : instances_) {
      reservations += in->Stats(space.name)->ranges_reserved.load();
    }
    EXPECT_EQ(counter, reservations * range_size());

    // No number served twice, by one instance or by two; none past the
    // counter (it was reserved before it was served).
    std::map<std::uint64_t, std::size_t> owner;
    std::size_t repeats = 0, beyond = 0;
    for (std::size_t i = 0; i < served.size(); ++i) {
      for (std::uint64_t n : served[i]) {
        const auto [it, fresh] = owner.emplace(n, i);
        if (!fresh && ++repeats <= 5) {
          ADD_FAILURE() << "number " << n << " (key " << codec.Encode(n)
                        << ") served by instance " << it->second << " and "
                        << i;
        }
        beyond += n >= counter ? 1 : 0;
      }
    }
    EXPECT_EQ(repeats, 0u);
    EXPECT_EQ(beyond, 0u) << "numbers at or past the store counter " << counter;
    EXPECT_EQ(owner.size(), kInstances * keys_each);
    EXPECT_TRUE(Interleaved(served)) << "the brokers took turns, not ranges";

    if (range_size() == 1) {
      EXPECT_GE(reservations, kInstances * keys_each)
          << "every key was its own store transaction";
    } else {
      // Each 1000-aligned block of numbers came from one broker's range,
      // so exactly one instance served from it.
      std::map<std::uint64_t, std::set<std::size_t>> block_owners;
      for (const auto& [n, i] : owner) block_owners[n / range_size()].insert(i);
      for (const auto& [block, owners] : block_owners) {
        EXPECT_EQ(owners.size(), 1u) << "block " << block << " served by "
                                     << owners.size() << " instances";
      }
      EXPECT_GE(block_owners.size(), kInstances);
    }
  }

  std::string Logs() const {
    std::string logs;
    for (const auto& in : instances_) logs += in->Logs();
    return logs;
  }

  SharedStore store_{kind()};
  std::vector<std::unique_ptr<Instance>> instances_;
};

TEST_P(ScaleOutTest, FourInstancesOnOneStoreNeverServeTheSameNumber) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  const std::vector<LoadResult> loads = HammerAll(instances_, requests());
  for (const LoadResult& r : loads) {
    EXPECT_FALSE(r.timed_out) << r.Summary();
    EXPECT_EQ(r.Status(200), requests()) << r.Summary();
  }

  // Settle: every broker asleep, so the counters and the statistics agree.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return std::all_of(instances_.begin(), instances_.end(),
                           [](const auto& in) { return in->BrokerIdle(); });
      },
      kDeadline))
      << Logs();
  std::size_t keys = 0;
  for (const Space& space : Spaces()) {
    SCOPED_TRACE("namespace " + space.name);
    keys += KeysFor(requests(), space.second);
    ExpectTiled(space, loads);
  }
  std::size_t lines = 0;
  for (const LoadResult& r : loads) {
    for (const std::string& body : r.bodies_200) {
      lines +=
          static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')) +
          (!body.empty() && body.back() != '\n' ? 1 : 0);
    }
  }
  EXPECT_EQ(lines, kInstances * keys) << "keys of no namespace";
}

INSTANTIATE_TEST_SUITE_P(
    Stores, ScaleOutTest,
    ::testing::Combine(
        ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
        ::testing::Values(std::uint64_t{1}, std::uint64_t{1000})),
    [](const auto& p) {
      return std::string(StoreName(std::get<0>(p.param))) + "_RangeSize" +
             std::to_string(std::get<1>(p.param));
    });

// A broker whose KEY_LENGTH or KEY_ORDER differs from the store's refuses
// to start: exit 2, one error line naming both formats, nothing reserved.
class StoreFormatTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  SharedStore store_{GetParam()};
};

TEST_P(StoreFormatTest, BrokerWithAnotherKeyFormatThanTheStoreRefusesToStart) {
  InstanceOptions options;
  options.db_url = store_.DbUrl();
  const std::vector<int> ports = DistinctFreePorts(2);
  Instance first(options, ports[0]);
  first.HoldBroker();
  ASSERT_TRUE(testing::WaitUntil([&] { return first.BrokerIdle(); }, kDeadline))
      << first.Logs() << store_.StoreLog();
  const std::uint64_t counter = store_.Counter();

  const std::string stored = "KEY_LENGTH=7 KEY_ORDER=sequential";
  const std::vector<std::pair<testing::Env, std::string>> wrong = {
      {{{"KEY_LENGTH", "6"}}, "KEY_LENGTH=6"},
      {{{"KEY_ORDER", "scrambled"}}, "KEY_ORDER=scrambled"},
      {{{"KEY_LENGTH", "8"}, {"KEY_ORDER", "scrambled"}},
       "KEY_LENGTH=8 KEY_ORDER=scrambled"}};
  for (const auto& [extra, wanted] : wrong) {
    Instance second(options, ports[1]);
    testing::Process broker = second.StartBroker(extra);
    ASSERT_EQ(broker.Wait(kDeadline), 2) << wanted << "\n" << broker.Stderr();
    const std::vector<std::string> errors = ErrorLines(broker.Stderr());
    ASSERT_EQ(errors.size(), 1u) << broker.Stderr();
    EXPECT_NE(errors[0].find(stored), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find(wanted), std::string::npos) << errors[0];
  }
  EXPECT_EQ(store_.Counter(), counter) << "a refused broker reserved numbers";
  EXPECT_TRUE(first.broker()->Running()) << first.Logs();
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreFormatTest,
                         ::testing::Values(StoreKind::kSqlite,
                                           StoreKind::kPostgres),
                         [](const auto& p) {
                           return std::string(StoreName(p.param));
                         });

}  // namespace
}  // namespace forge::scale_out
