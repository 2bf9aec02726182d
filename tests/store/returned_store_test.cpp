// Returned numbers (zero-waste restarts) on both stores, through OpenStore:
// Return records them, Reserve hands them out first, lowest first, exactly
// once — across processes, and even after the counter reached the end of
// the key space. Runs against SQLite files and a throw-away PostgreSQL 15
// server (one per test binary, one database per test). RegressionTest: the
// regression guard and Advance (issue 16) on a store set back behind a mark.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "store/range_store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace forge::store::store_test {
namespace {

using forge::testing::TempDir;
using forge::testing::WaitUntil;

constexpr std::chrono::milliseconds kWait{20000};

class ReturnedTest : public BothStoresTest {};

TEST_P(ReturnedTest, ReturnedNumbersComeBackFirstLowestFirstExactlyOnce) {
  const std::string url = NewUrl();
  {
    auto store = OpenStore(url, Format(7, keys::KeyOrder::kSequential));
    EXPECT_EQ(store->Reserve(100).last, 100u);
    EXPECT_EQ(store->Reserve(100).last, 200u);
    store->Return({});  // nothing: a no-op
    store->Return({Range{150, 200}, Range{20, 30}, Range{60, 60}});
  }
  auto store = OpenStore(
      url, Format(7, keys::KeyOrder::kSequential));  // they were durable
  EXPECT_EQ(store->Next(), 200u);
  const std::vector<Range> expected = {{20, 25},   {25, 30},   {150, 180},
                                       {180, 200}, {200, 210}, {210, 310}};
  std::vector<Range> got;
  for (const std::uint64_t count : {5u, 100u, 30u, 30u, 10u, 100u}) {
    got.push_back(store->Reserve(count));
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(got[i].first, expected[i].first) << "reservation " << i;
    EXPECT_EQ(got[i].last, expected[i].last) << "reservation " << i;
  }
  EXPECT_EQ(store->Next(), 310u);
}

TEST_P(ReturnedTest, RefusesOverlapsAndNumbersNeverReservedRecordingNothing) {
  auto store = OpenStore(NewUrl(), Format(7, keys::KeyOrder::kSequential));
  store->Reserve(100);
  store->Return({Range{10, 20}});
  const StoreError twice = ErrorFrom([&] {
    store->Return({Range{40, 50}, Range{15, 25}});
  });
  EXPECT_FALSE(twice.transient());
  EXPECT_TRUE(Has(twice.what(), "[15, 25)") && Has(twice.what(), "[10, 20)"))
      << twice.what();
  const StoreError beyond = ErrorFrom([&] { store->Return({Range{90, 110}}); });
  EXPECT_FALSE(beyond.transient());
  EXPECT_TRUE(Has(beyond.what(), "never reserved past 100")) << beyond.what();
  const StoreError self = ErrorFrom([&] {
    store->Return({Range{30, 40}, Range{35, 45}});
  });
  EXPECT_FALSE(self.transient());
  EXPECT_TRUE(Has(self.what(), "same call")) << self.what();
  // Only [10, 20) was recorded: none of the refused calls left a trace.
  const Range back = store->Reserve(1000);
  EXPECT_EQ(back.first, 10u);
  EXPECT_EQ(back.last, 20u);
  EXPECT_EQ(store->Reserve(5).first, 100u);
}

TEST_P(ReturnedTest, AnExhaustedStoreStillHandsOutReturnedNumbers) {
  auto store = OpenStore(NewUrl(), Format(1, keys::KeyOrder::kSequential));
  EXPECT_EQ(store->Reserve(1000).last, 62u);
  EXPECT_TRUE(store->Reserve(1).empty());
  store->Return({Range{10, 20}, Range{61, 62}});
  const Range a = store->Reserve(5);
  EXPECT_EQ(a.first, 10u);
  EXPECT_EQ(a.last, 15u);
  const Range b = store->Reserve(100);
  EXPECT_EQ(b.first, 15u);
  EXPECT_EQ(b.last, 20u);
  const Range c = store->Reserve(100);
  EXPECT_EQ(c.first, 61u);
  EXPECT_EQ(c.last, 62u);
  EXPECT_TRUE(store->Reserve(1).empty());  // now truly used up
  EXPECT_EQ(store->Next(), 62u);
}

// Four processes reserve back to back while a fifth returns [0, 2000) in
// shuffled pieces, each time waiting until the counter moves again (the
// reservers emptied the list), so returned and counter ranges interleave.
// Every number must be handed out exactly once: what the reservers got
// tiles [0, counter). Each reserver stops at its first counter range taken
// after all returns were done, so nothing may be left in the returned list
// at the end (returned numbers are taken first).
TEST_P(ReturnedTest, FourProcessesTakeReturnedNumbersExactlyOnce) {
  constexpr std::uint64_t kReturned = 2000;
  constexpr std::uint64_t kPiece = 100;
  const std::string url = NewUrl();
  OpenStore(url, Format(7, keys::KeyOrder::kSequential))
      ->Reserve(kReturned);  // closed before fork
  const std::string done = dir_ / "returned";
  const auto texts = InChildren(5, [&](int i) {
    auto store = OpenStore(url, Format(7, keys::KeyOrder::kSequential));
    std::vector<Range> got;
    if (i == 4) {  // the returner
      std::vector<Range> pieces;
      for (std::uint64_t f = 0; f < kReturned; f += kPiece) {
        pieces.push_back(Range{f, f + kPiece});
      }
      std::shuffle(pieces.begin(), pieces.end(), std::mt19937(7));
      for (std::size_t k = 0; k < pieces.size(); k += 2) {
        const std::uint64_t before = store->Next();
        store->Return({pieces[k], pieces[k + 1]});
        if (!WaitUntil([&] { return store->Next() != before; }, kWait)) {
          throw std::runtime_error("the reservers stopped reserving");
        }
      }
      std::ofstream(done).put('\n');
      return std::string();
    }
    for (int k = 0; k < 100000; ++k) {
      const bool all_returned = ::access(done.c_str(), F_OK) == 0;
      got.push_back(store->Reserve(37));
      if (all_returned && got.back().first >= kReturned) {
        return Serialize(got);
      }
    }
    throw std::runtime_error("never saw the returned list empty");
  });
  auto store = OpenStore(url, Format(7, keys::KeyOrder::kSequential));
  const std::uint64_t counter = store->Next();
  ExpectTiles(Parse(texts), counter);
  EXPECT_EQ(store->Reserve(1).first, counter) << "returned numbers left over";
}

// The regression guard (issue 16, range_store.h): a store set back behind
// the caller's mark — a restored backup, writes lost in a failover. Here the
// "restore" sets the counter back and puts a stale row in the returned list.
class RegressionTest : public BothStoresTest {
 protected:
  // The default namespace's counter back to `next`, its returned list
  // replaced by `stale` (what an old backup would bring back).
  void SetBack(const std::string& url, std::uint64_t next, const Range& stale) {
    const NamespaceTables t = TablesHere("default");
    RawSql(url, "UPDATE " + t.counter_sql + " SET next = " +
                    std::to_string(next) + " WHERE id = 1; DELETE FROM " +
                    t.returned_sql + "; INSERT INTO " + t.returned_sql +
                    " (first, last) VALUES (" + std::to_string(stale.first) +
                    ", " + std::to_string(stale.last) + ");");
  }
};

TEST_P(RegressionTest, ACounterBelowTheMarkSkipsToItAndDropsReturnedNumbers) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, Format(7, keys::KeyOrder::kSequential));
  std::vector<Range> served;
  for (int i = 0; i < 3; ++i) served.push_back(store->Reserve(100));
  const std::uint64_t mark = served.back().last;  // 300
  SetBack(url, 100, Range{20, 30});  // [20, 30) may be served since: drop it
  const Reservation got = store->ReserveAbove(50, mark);
  EXPECT_EQ(got.regression.skipped.first, 100u);
  EXPECT_EQ(got.regression.skipped.last, 300u);
  EXPECT_EQ(got.regression.dropped, 10u);
  EXPECT_EQ(got.range.first, 300u);
  EXPECT_EQ(got.range.last, 350u);
  EXPECT_EQ(store->Next(), 350u);  // committed in the same transaction
  // The returned list is gone, the counter past the mark: no overlap.
  const Reservation next = store->ReserveAbove(50, got.range.last);
  EXPECT_FALSE(next.regression.happened());
  EXPECT_EQ(next.range.first, 350u);
  served.push_back(got.range);
  served.push_back(next.range);
  ExpectTiles(served, 400);
}

TEST_P(RegressionTest, AReturnBelowTheMarkRecordsNothingAndSkipsToIt) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, Format(7, keys::KeyOrder::kSequential));
  const Range hand = store->Reserve(100);
  SetBack(url, 40, Range{0, 10});
  const Regression r = store->ReturnAbove({Range{60, 100}}, hand.last);
  EXPECT_TRUE(r.happened());
  EXPECT_EQ(r.skipped.first, 40u);
  EXPECT_EQ(r.skipped.last, 100u);
  EXPECT_EQ(r.not_returned, 40u);
  EXPECT_EQ(r.dropped, 10u);
  // Neither [60, 100) nor the stale [0, 10) comes back.
  EXPECT_EQ(store->Reserve(10).first, 100u);
  // Without a regression a Return under a mark is recorded as before.
  EXPECT_FALSE(store->ReturnAbove({Range{100, 110}}, 110).happened());
  EXPECT_EQ(store->Reserve(10).first, 100u);
}

TEST_P(RegressionTest, AdvanceMovesTheCounterForwardOnlyAndDropsReturned) {
  const std::string url = NewUrl();
  auto store = OpenStore(url, Format(2, keys::KeyOrder::kSequential));
  store->Reserve(100);
  store->Return({Range{10, 20}});
  const Advanced a = store->Advance(500);
  EXPECT_EQ(a.from, 100u);
  EXPECT_EQ(a.to, 500u);
  EXPECT_EQ(a.dropped, 10u);
  EXPECT_EQ(store->Reserve(5).first, 500u);
  const StoreError back = ErrorFrom([&] { (void)store->Advance(400); });
  EXPECT_FALSE(back.transient());
  EXPECT_TRUE(Has(back.what(), "backwards: the counter is at 505"))
      << back.what();
  const StoreError past = ErrorFrom([&] { (void)store->Advance(62 * 62 + 1); });
  EXPECT_TRUE(Has(past.what(), "past the end of the key space (3844"))
      << past.what();
  EXPECT_EQ(store->Advance(505).dropped, 0u);  // to the counter: a no-op
  EXPECT_EQ(store->Reserve(5).first, 505u);
}

FORGE_ON_BOTH_STORES(ReturnedTest);
FORGE_ON_BOTH_STORES(RegressionTest);

}  // namespace
}  // namespace forge::store::store_test
