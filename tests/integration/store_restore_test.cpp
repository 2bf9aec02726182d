// Store restored from an old backup (issue 16 §4): a PostgreSQL store is
// dumped (pg_dump) while a broker and a frontend serve, serving goes on
// past the dump, then the dump is restored over the store (pg_restore
// --clean) — its counter and returned list go back — and the broker is
// restarted on its segment. The broker's mark (kept in the segment) makes
// it skip the gap: the guard fires (one ERROR line, the regressions
// counter), `forge-ctl store advance` then moves the counter forward (and
// refuses to move it back), and no key is ever served twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shm/layout.h"
#include "tests/support/http_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

constexpr std::uint64_t kRange = 100;

class StoreRestoreTest : public ::testing::Test, public Stack {
 protected:
  StoreRestoreTest()
      : Stack({{"KEY_ORDER", "sequential"},
               {"RANGE_SIZE", std::to_string(kRange)},
               {"POOL_CAPACITY", "256"},
               {"WORKERS", "1"}},
              StackOptions::OwnStore(StoreKind::kPostgres)) {}

  std::string Database() const {
    const std::string url = DbUrl();
    return url.substr(url.rfind('/') + 1);
  }
  // A PostgreSQL client program (pg_dump, pg_restore) on the stack's
  // database; fails the test unless it exits 0.
  void PgTool(const std::string& tool, std::vector<std::string> args) {
    std::vector<std::string> argv = {postgres().bindir() + "/" + tool,
                                     "-h",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(postgres().port()),
                                     "-U",
                                     "postgres",
                                     "-d",
                                     Database()};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = forge::testing::Run(argv);
    ASSERT_EQ(r.exit_code, 0) << tool << ": " << r.err;
  }
  std::uint64_t Counter() {
    return std::stoull(
        postgres().Query("SELECT next FROM forge_counter", Database()));
  }
  // Takes `n` keys over HTTP into *keys (a 503 while the broker restarts
  // is asked again); fails the test when they do not come in time.
  void Take(std::size_t n, std::vector<std::string>* keys) {
    const bool done = WaitUntil(
        [&] {
          const HttpResponse r =
              Get(port(), "/get-keys?count=" +
                              std::to_string(std::min<std::size_t>(n, 200)));
          std::istringstream lines(r.status == 200 ? r.body : "");
          for (std::string key; n > 0 && std::getline(lines, key);) {
            keys->push_back(key);
            --n;
          }
          return n == 0;
        },
        kStackDeadline);
    ASSERT_TRUE(done) << n << " keys missing\n" << Logs();
  }
  std::uint64_t Broker(std::atomic<std::uint64_t> shm::BrokerStats::*field) {
    const auto view = View();
    return view ? (view->broker().*field).load() : 0;
  }
  RunResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Bin("forge-ctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    return forge::testing::Run(argv, MakeEnv(), milliseconds(20000),
                               dir().path());
  }
};

TEST_F(StoreRestoreTest, TheGuardSkipsTheRestoredGapAndAdvanceRecovers) {
  ASSERT_TRUE(Up()) << Logs();
  std::vector<std::string> keys;
  Take(300, &keys);
  const std::string dump = dir() / "backup.dump";
  PgTool("pg_dump", {"-Fc", "-f", dump});
  Take(1500, &keys);  // served after the backup: must never come again
  broker()->Signal(SIGTERM);
  ASSERT_EQ(broker()->Wait(kStackDeadline), 0) << Logs();
  const std::uint64_t mark = Broker(&shm::BrokerStats::granted_high);
  PgTool("pg_restore",
         {"--clean", "--if-exists", "--single-transaction", dump});
  const std::uint64_t restored = Counter();
  ASSERT_GE(mark, restored + 1000);  // the store went back past served keys

  HoldBroker();  // same segment: the mark survived the restart
  ASSERT_TRUE(WaitBrokerRunning(*broker())) << Logs();
  Take(1000, &keys);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Broker(&shm::BrokerStats::store_regressions) == 1 &&
               broker()->Stderr().find(
                   "store counter went back from " + std::to_string(mark) +
                   " to " + std::to_string(restored)) != std::string::npos;
      },
      kStackDeadline))
      << Logs();
  EXPECT_GE(Counter(), mark);
  EXPECT_EQ(Broker(&shm::BrokerStats::range_size), kRange);

  // The runbook's step: advance past the highest mark seen; never back.
  const std::uint64_t to = Broker(&shm::BrokerStats::granted_high) + 5000;
  const RunResult back = Ctl({"store", "advance", "--to", "10"});
  EXPECT_EQ(back.exit_code, 2) << back.err;
  EXPECT_NE(back.err.find("backwards"), std::string::npos) << back.err;
  EXPECT_EQ(std::count(back.err.begin(), back.err.end(), '\n'), 1) << back.err;
  const RunResult ahead =
      Ctl({"store", "advance", "--ns", "default", "--to", std::to_string(to)});
  EXPECT_EQ(ahead.exit_code, 0) << ahead.err;
  EXPECT_NE(ahead.out.find("-> " + std::to_string(to)), std::string::npos)
      << ahead.out;
  Take(1000, &keys);
  EXPECT_GT(Counter(), to);  // reservations come from past the advance
  EXPECT_EQ(Broker(&shm::BrokerStats::store_regressions), 1u);

  const std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size()) << "a key was served twice";
}

}  // namespace
}  // namespace forge::testing
