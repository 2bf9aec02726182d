// Store failover (issue 16): a PostgreSQL primary with a streaming standby
// (tests/support/postgres_server.h), brokers on a multi-host DB_URL.
//   * Synchronous standby: two broker + frontend pairs under HTTP load,
//     kill -9 of the primary, the standby promoted: both brokers reconnect
//     to it, serving resumes, 0 keys served twice over the whole run, no
//     request hangs; the time from the kill to the first reservation on
//     the new primary is printed (and recorded as a test property).
//   * STORE_REQUIRE_SYNC: a broker on a primary without a synchronous
//     standby stays store-unsafe and reserves nothing; once a synchronous
//     standby streams it reserves; forge-ctl stats and /metrics show the
//     host, the durability and the reconnects. A connection that lands on
//     a standby is never used.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shm/stats.h"
#include "store/range_store.h"
#include "tests/integration/background_load.h"
#include "tests/integration/scale_out_fixture.h"
#include "tests/support/http_client.h"

namespace forge::scale_out {
namespace {

using std::chrono::milliseconds;
using testing::BackgroundLoad;
using testing::ChaosLoadOptions;
using testing::PostgresServer;
using testing::WaitUntil;
using Replication = PostgresServer::Replication;

constexpr milliseconds kFailoverDeadline{15000};
constexpr const char* kEmptyWaitMs = "200";

std::string HostOf(const PostgresServer& pg) {
  return "127.0.0.1:" + std::to_string(pg.port());
}

// libpq's multi-host URI: the primary first, then the standby.
std::string MultiHostUrl(const PostgresServer& primary,
                         const PostgresServer& standby) {
  return "postgresql://postgres@" + HostOf(primary) + "," + HostOf(standby) +
         "/forge_test?target_session_attrs=read-write";
}

std::string LinkHost(const Instance& in) {
  const std::optional<shm::ReadOnlySegment> seg = in.View();
  return seg ? shm::ReadStoreLink(seg->store_link()) : "";
}

shm::StoreDurability Durability(Instance& in) {
  const shm::BrokerStats* stats = in.Stats();
  return stats == nullptr
             ? shm::StoreDurability::kUnknown
             : static_cast<shm::StoreDurability>(stats->durability.load());
}

// Every key of `loads` that was served more than once.
std::vector<std::string> Repeats(
    const std::vector<const testing::ChaosLoadResult*>& loads) {
  std::map<std::string, int> seen;
  std::vector<std::string> repeats;
  for (const testing::ChaosLoadResult* r : loads) {
    for (const std::string& key : r->keys) {
      if (++seen[key] == 2) repeats.push_back(key);
    }
  }
  return repeats;
}

class FailoverTest : public ::testing::Test {
 protected:
  // Two instances on `url`, up and healthy.
  void StartTwo(const std::string& url) {
    InstanceOptions options;
    options.db_url = url;
    options.range_size = 200;
    options.pool_capacity = 512;
    for (int port : DistinctFreePorts(2)) {
      instances_.push_back(std::make_unique<Instance>(options, port));
    }
    for (auto& in : instances_) in->HoldBroker({{"STORE_TIMEOUT_MS", "500"}});
    for (auto& in : instances_) {
      in->HoldFrontend({{"EMPTY_WAIT_MS", kEmptyWaitMs}});
    }
    for (auto& in : instances_) ASSERT_TRUE(in->WaitHealthy()) << Logs();
  }

  // HTTP load on every instance, until FinishLoads().
  void StartLoads() {
    for (auto& in : instances_) {
      ChaosLoadOptions o;
      o.port = in->port();
      o.connections = 2;
      o.hang_after = milliseconds(5000);
      loads_.push_back(std::make_unique<BackgroundLoad>(o));
    }
  }

  // Waits until every load has `more` keys beyond what it had.
  [[nodiscard]] bool ServedMore(std::size_t more) {
    std::vector<std::size_t> then;
    for (auto& l : loads_) then.push_back(l->progress().keys.load());
    return WaitUntil(
        [&] {
          for (std::size_t i = 0; i < loads_.size(); ++i) {
            if (loads_[i]->progress().keys.load() < then[i] + more) {
              return false;
            }
          }
          return true;
        },
        kFailoverDeadline);
  }

  std::vector<std::uint64_t> Reserved() {
    std::vector<std::uint64_t> out;
    for (auto& in : instances_) {
      out.push_back(in->Stats()->ranges_reserved.load());
    }
    return out;
  }

  // kill -9 of `primary`, `standby` promoted; returns the time from the
  // kill to the first reservation on the new primary (nullopt: none within
  // the deadline). A reservation counted after the kill by a broker that
  // connected again was made on the new primary: the old one is dead.
  std::optional<milliseconds> FailOver(PostgresServer& primary,
                                       PostgresServer& standby) {
    const std::vector<std::uint64_t> before = Reserved();
    const auto killed = std::chrono::steady_clock::now();
    primary.Kill();
    standby.Promote();
    const bool reserved = WaitUntil(
        [&] {
          for (std::size_t i = 0; i < instances_.size(); ++i) {
            const shm::BrokerStats* stats = instances_[i]->Stats();
            if (stats->store_reconnects.load() > 0 &&
                stats->ranges_reserved.load() > before[i]) {
              return true;
            }
          }
          return false;
        },
        kFailoverDeadline);
    if (!reserved) return std::nullopt;
    const auto took = std::chrono::duration_cast<milliseconds>(
        std::chrono::steady_clock::now() - killed);
    std::cout << "[failover] kill -9 of the primary to the first reservation "
                 "on the promoted standby: "
              << took.count() << " ms\n";
    RecordProperty("kill_to_first_reservation_ms",
                   static_cast<int>(took.count()));
    return took;
  }

  // Stops the loads; checks that none hung or waited past EMPTY_WAIT_MS
  // (plus scheduling slack) for a 503.
  std::vector<const testing::ChaosLoadResult*> FinishLoads() {
    std::vector<const testing::ChaosLoadResult*> results;
    for (auto& l : loads_) results.push_back(&l->Finish());
    for (const testing::ChaosLoadResult* r : results) {
      EXPECT_EQ(r->hangs, 0u) << r->Summary();
      EXPECT_LT(r->max_latency.count(503) ? r->max_latency.at(503).count() : 0,
                1'500'000)
          << r->Summary();
    }
    return results;
  }

  std::string Logs() const {
    std::string logs;
    for (const auto& in : instances_) logs += in->Logs();
    return logs;
  }

  std::vector<std::unique_ptr<Instance>> instances_;
  // After the instances: destroyed (stopped) first.
  std::vector<std::unique_ptr<BackgroundLoad>> loads_;
};

TEST_F(FailoverTest, SyncStandbyPromotedUnderLoadServesOnWithoutRepeats) {
  PostgresServer primary;
  PostgresServer standby(primary, Replication::kSync);
  ASSERT_NO_FATAL_FAILURE(StartTwo(MultiHostUrl(primary, standby)));
  for (auto& in : instances_) {
    EXPECT_EQ(LinkHost(*in), HostOf(primary));
    EXPECT_EQ(Durability(*in), shm::StoreDurability::kSync) << Logs();
  }
  StartLoads();
  ASSERT_TRUE(ServedMore(3000)) << Logs();
  ASSERT_TRUE(FailOver(primary, standby)) << Logs() << standby.Log();
  ASSERT_TRUE(ServedMore(1000)) << "serving did not resume\n" << Logs();
  const std::vector<std::string> repeats = Repeats(FinishLoads());
  EXPECT_TRUE(repeats.empty())
      << repeats.size() << " keys served twice, e.g. " << repeats.front();
  for (auto& in : instances_) {
    EXPECT_EQ(LinkHost(*in), HostOf(standby));
    EXPECT_GE(in->Stats()->store_reconnects.load(), 1u);
    // The promoted standby has no standby of its own.
    EXPECT_EQ(Durability(*in), shm::StoreDurability::kLocal);
    EXPECT_EQ(in->Stats()->store_regressions.load(), 0u);
  }
  EXPECT_EQ(ErrorLines(Logs()).size(), 0u) << Logs();
}

// Asynchronous replication, the standby cut off before the kill: the
// reservations made after that are lost with the primary, the promoted
// standby's counters are behind, and each broker's regression guard skips
// past its own numbers. Across brokers nothing can tell (docs).
TEST_F(FailoverTest, AsyncFailoverWithLostWritesUnderLoadGuardKeepsEachBroker) {
  PostgresServer primary;
  PostgresServer standby(primary, Replication::kAsync);
  ASSERT_NO_FATAL_FAILURE(StartTwo(MultiHostUrl(primary, standby)));
  for (auto& in : instances_) {
    EXPECT_EQ(Durability(*in), shm::StoreDurability::kAsync) << Logs();
  }
  StartLoads();
  ASSERT_TRUE(ServedMore(2000)) << Logs();
  standby.StopStreaming();
  // Each broker reserves at least two more ranges the standby never sees.
  const std::vector<std::uint64_t> streamed = Reserved();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::vector<std::uint64_t> now = Reserved();
        for (std::size_t i = 0; i < now.size(); ++i) {
          if (now[i] < streamed[i] + 2) return false;
        }
        return true;
      },
      kFailoverDeadline))
      << Logs();
  ASSERT_TRUE(FailOver(primary, standby)) << Logs() << standby.Log();
  ASSERT_TRUE(ServedMore(1000)) << "serving did not resume\n" << Logs();
  const std::vector<const testing::ChaosLoadResult*> results = FinishLoads();
  std::uint64_t regressions = 0;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    const std::vector<std::string> repeats = Repeats({results[i]});
    EXPECT_TRUE(repeats.empty())
        << "instance " << i << " served " << repeats.size()
        << " keys twice, e.g. " << repeats.front();
    regressions += instances_[i]->Stats()->store_regressions.load();
    EXPECT_TRUE(instances_[i]->broker()->Running()) << Logs();
  }
  EXPECT_GE(regressions, 1u) << Logs();
  EXPECT_NE(Logs().find("store counter went back"), std::string::npos)
      << Logs();
  // What only synchronous replication prevents: one broker's lost numbers
  // granted again to the other (reported, not asserted).
  std::cout << "[failover] keys served by both brokers after the "
               "asynchronous failover: "
            << Repeats(results).size() << "\n";
}

TEST_F(FailoverTest, RequireSyncReservesOnlyWithASynchronousStandby) {
  PostgresServer primary;
  InstanceOptions options;
  options.db_url = primary.url();
  Instance in(options, testing::FreePort());
  in.HoldBroker({{"STORE_REQUIRE_SYNC", "true"}, {"STORE_TIMEOUT_MS", "500"}});
  const auto state = [&] {
    const shm::BrokerStats* stats = in.Stats();
    return stats == nullptr
               ? shm::BrokerState::kNone
               : static_cast<shm::BrokerState>(stats->state.load());
  };
  ASSERT_TRUE(
      WaitUntil([&] { return state() == shm::BrokerState::kStoreUnsafe; },
                kFailoverDeadline))
      << in.Logs();
  EXPECT_EQ(in.Stats()->ranges_reserved.load(), 0u);
  EXPECT_EQ(Durability(in), shm::StoreDurability::kLocal);
  EXPECT_NE(in.Logs().find("STORE_REQUIRE_SYNC: not reserving: store " +
                           HostOf(primary) + " durability is local"),
            std::string::npos)
      << in.Logs();

  PostgresServer standby(primary, Replication::kSync);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return state() == shm::BrokerState::kRunning &&
               in.Stats()->ranges_reserved.load() > 0;
      },
      kFailoverDeadline))
      << in.Logs();
  EXPECT_EQ(Durability(in), shm::StoreDurability::kSync);
  EXPECT_NE(in.Logs().find("store durability: sync (synchronous_standby_"
                           "names=*, 1 sync standby of 1)"),
            std::string::npos)
      << in.Logs();

  // forge-ctl stats and /metrics say where the store is and how durable.
  in.HoldFrontend();
  ASSERT_TRUE(in.WaitHealthy()) << in.Logs();
  const testing::RunResult ctl =
      testing::Run({testing::Bin("forge-ctl"), "stats", "--interval", "0"},
                   in.MakeEnv(), kFailoverDeadline, in.dir().path());
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_NE(ctl.out.find(HostOf(primary) + ", durability sync, 0 reconnects"),
            std::string::npos)
      << ctl.out;
  const testing::HttpResponse metrics = testing::Get(in.port(), "/metrics");
  EXPECT_NE(
      metrics.body.find(
          "forge_store_durability{namespace=\"default\",mode=\"sync\"} 1"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("forge_store_info{namespace=\"default\",host=\"" +
                              HostOf(primary) + "\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find(
                "forge_store_reconnects_total{namespace=\"default\"} 0"),
            std::string::npos);

  // A connection that lands on a standby is never used for a reservation.
  try {
    (void)store::OpenStore("postgresql://postgres@" + HostOf(standby) +
                               "/forge_test?target_session_attrs=any",
                           store::StoreFormat{});
    ADD_FAILURE() << "the store opened on a standby";
  } catch (const store::StoreError& e) {
    EXPECT_TRUE(e.transient());
    EXPECT_NE(std::string(e.what()).find("connected to a standby (" +
                                         HostOf(standby) +
                                         "), not the primary; retrying"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace forge::scale_out
