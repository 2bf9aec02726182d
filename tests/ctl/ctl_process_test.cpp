// forge-ctl as a program, next to a real forge-broker: stats (table, JSON,
// rates), decode/encode against keys the broker actually published, and
// the command-line contract (help, bad flags, missing segment).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/names.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "shm/workers.h"
#include "stats/text.h"
#include "tests/ctl/ctl_fixture.h"
#include "tests/ctl/mini_json.h"
#include "tests/support/process.h"

namespace forge {
namespace {

using testing::CtlTest;
using testing::kCtlDeadline;
using testing::OneLine;
using testing::PopKeys;
using testing::Process;
using testing::RunResult;
namespace json = forge::testing::json;

TEST_F(CtlTest, JsonReportsARunningBroker) {
  Process broker = StartBroker();
  const auto v = StatsJson();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("broker.pid")->number, broker.pid());
  EXPECT_TRUE(v->At("broker.alive")->boolean);
  EXPECT_EQ(v->At("broker.state")->text, "running");
  EXPECT_LT(v->At("broker.heartbeat_age_ms")->number, 3000);
  EXPECT_EQ(v->At("ring.capacity")->number, 1024);
  EXPECT_EQ(v->At("ring.fill")->number, 1024);
  EXPECT_EQ(v->At("ring.fill_fraction")->number, 1);
  EXPECT_GE(v->At("keys.produced")->number, 1024);
  EXPECT_GE(v->At("ranges.reserved")->number, 11);
  EXPECT_EQ(v->At("key.length")->number, 7);
  EXPECT_EQ(v->At("key.order")->text, "scrambled");
  EXPECT_GT(v->At("key_space.used_fraction")->number, 0);
  EXPECT_NE(v->At("store")->text.find(DbPath()), std::string::npos);
  EXPECT_EQ(v->At("store_kind")->text, "sqlite");
  EXPECT_EQ(v->At("workers")->items.size(), 0u);
  EXPECT_EQ(v->At("rates")->kind, json::Value::Kind::kNull) << "--interval 0";
}

TEST_F(CtlTest, OneShotMeasuresRatesOverTheInterval) {
  Process broker = StartBroker();
  const auto v = StatsJson({"--interval", "200"});
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->At("rates")->kind, json::Value::Kind::kObject);
  EXPECT_GE(v->At("rates.interval_ms")->number, 200);
  // Idle: nothing served, nothing produced, so no exhaustion in sight.
  EXPECT_EQ(v->At("rates.served_per_s")->number, 0);
  EXPECT_EQ(v->At("rates.produced_per_s")->number, 0);
  EXPECT_EQ(v->At("key_space.exhaustion.state")->text, "never");
}

TEST_F(CtlTest, TableReportsARunningBroker) {
  Process broker = StartBroker();
  const RunResult r = Stats();  // default: rates over 1 s
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& want : std::vector<std::string>{
           "pid " + std::to_string(broker.pid()) + ", alive", "running",
           "[####################] 100.0%  1024 / 1024 keys",
           "rates            over the last 1.0", "keys produced",
           "keys served      0  (0.0/s)", "keys wasted", "ranges reserved",
           "refills", "store errors", "last refill", "length 7, scrambled",
           DbPath(), "key space used",
           "exhaustion       never at the current rate", "workers (0)",
           "total served"}) {
    EXPECT_NE(r.out.find(want), std::string::npos)
        << "missing '" << want << "' in\n"
        << r.out;
  }
}

// A test consumer pops keys and counts them as served by its own worker
// slot for as long as forge-ctl measures: the rates must show it.
TEST_F(CtlTest, RatesMoveWhileKeysAreServed) {
  Process broker = StartBroker();
  shm::Segment seg = shm::Segment::Attach(shm());
  const auto slot = shm::ClaimWorkerSlot(seg, ::getpid(), ::getppid());
  ASSERT_TRUE(slot.has_value());
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    shm::Key keys[8];
    // relaxed: a stop flag with no data behind it.
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t n = seg.ring().TryPopBatch(keys, 8);
      // relaxed: a statistic, as the frontend workers count.
      seg.worker(*slot).served.fetch_add(n, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing
    }
  });
  const auto v = StatsJson({"--interval", "500"});
  stop.store(true, std::memory_order_relaxed);  // relaxed: see above
  consumer.join();
  shm::ReleaseWorkerSlot(seg, *slot, ::getpid());
  ASSERT_TRUE(v.has_value());
  EXPECT_GT(v->At("rates.served_per_s")->number, 0);
  EXPECT_GT(v->At("rates.produced_per_s")->number, 0) << "the broker refills";
  EXPECT_EQ(v->At("key_space.exhaustion.state")->text, "projected");
  EXPECT_GT(v->At("key_space.exhaustion.seconds_left")->number, 0);
  EXPECT_EQ(v->At("key_space.exhaustion.date")->kind,
            json::Value::Kind::kString);
  const json::Value* workers = v->At("workers");
  ASSERT_EQ(workers->items.size(), 1u);
  EXPECT_EQ(workers->items[0].At("slot")->number, *slot);
  EXPECT_GT(workers->items[0].At("served_per_s")->number, 0);
}

TEST_F(CtlTest, ShmNameFlagAfterTheSubcommand) {
  Process broker = StartBroker();
  const RunResult r =
      Ctl({"stats", "--json", "--interval", "0", "--shm-name", shm()},
          {{"SHM_NAME", "not-this-one"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = json::Parse(r.out);
  ASSERT_TRUE(v.has_value()) << r.out;
  EXPECT_EQ(v->At("broker.pid")->number, broker.pid());
}

TEST_F(CtlTest, StoppedBrokerIsReportedStoppedAndNotAlive) {
  Process broker = StartBroker();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kCtlDeadline), 0) << broker.Stderr();
  const auto v = StatsJson();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("broker.state")->text, "stopped");
  EXPECT_FALSE(v->At("broker.alive")->boolean);
  // No worker was attached, so the broker took its keys back out of the
  // ring and returned them to the store (zero-waste stop).
  EXPECT_EQ(v->At("ring.fill")->number, 0);
}

// Two more namespaces served next to a real broker's default one (their
// segments made here as their broker would): one row each, and the
// segments' memory in all.
TEST_F(CtlTest, StatsShowsEveryServedNamespace) {
  Process broker = StartBroker();
  const shm::Segment invites = FakeBrokerSegment(
      base::NamespaceSegmentName(shm(), "invites"), "", 10, 0);
  const shm::Segment orders =
      FakeBrokerSegment(base::NamespaceSegmentName(shm(), "orders"), "", 8, 1);
  const auto v = StatsJson();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->At("broker.pid")->number, broker.pid()) << "default's fields";
  EXPECT_EQ(v->At("ring.capacity")->number, 1024);
  const json::Value* ns = v->At("namespaces");
  ASSERT_NE(ns, nullptr);
  ASSERT_EQ(ns->items.size(), 3u);
  EXPECT_EQ(ns->items[0].At("name")->text, "default");
  EXPECT_EQ(ns->items[0].At("ring.fill")->number, 1024);
  EXPECT_EQ(ns->items[1].At("name")->text, "invites");
  EXPECT_EQ(ns->items[1].At("key.length")->number, 10);
  EXPECT_EQ(ns->items[1].At("state")->text, "running");
  EXPECT_EQ(ns->items[2].At("name")->text, "orders");
  EXPECT_EQ(ns->items[2].At("key.order")->text, "sequential");
  EXPECT_EQ(
      v->At("segments_memory_bytes")->number,
      static_cast<double>(shm::SegmentSize(1024) + 2 * shm::SegmentSize(16)));
  const RunResult t = Stats({"--interval", "100"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  for (const std::string& want :
       {std::string("keys served      0  (0.0/s)"),
        "namespaces (3), segments " +
            stats::ByteSize(shm::SegmentSize(1024) + 2 * shm::SegmentSize(16)) +
            " in all",
        std::string(
            "  default          [##########] 100.0%  1024 / 1024   0.0"),
        std::string(
            "  invites          [..........]   0.0%  0 / 16        0.0"),
        std::string("  orders  ")}) {
    EXPECT_NE(t.out.find(want), std::string::npos)
        << "missing '" << want << "' in\n"
        << t.out;
  }
}

TEST_F(CtlTest, DecodeEncodeRoundTripOfServedSequentialKeys) {
  Process broker = StartBroker({{"KEY_ORDER", "sequential"}});
  const std::vector<std::string> keys = PopKeys(shm(), 12);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const RunResult d = Ctl({"decode", keys[i]});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    // A fresh store, so the ring started at number 0.
    EXPECT_EQ(d.out, std::to_string(i) + "\n") << keys[i];
    const RunResult e = Ctl({"encode", std::to_string(i)});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    EXPECT_EQ(e.out, keys[i] + "\n");
  }
}

TEST_F(CtlTest, DecodeEncodeRoundTripOfServedScrambledKeys) {
  Process broker = StartBroker();
  const auto used = StatsJson()->At("key_space.used")->number;
  std::set<std::string> numbers;
  for (const std::string& key : PopKeys(shm(), 8)) {
    const RunResult d = Ctl({"decode", key});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    ASSERT_TRUE(OneLine(d.out)) << d.out;
    const std::string number = d.out.substr(0, d.out.size() - 1);
    EXPECT_LT(std::stod(number), used) << "a number the store reserved";
    numbers.insert(number);
    const RunResult e = Ctl({"encode", number});
    ASSERT_EQ(e.exit_code, 0) << e.err;
    EXPECT_EQ(e.out, key + "\n");
  }
  EXPECT_EQ(numbers.size(), 8u);
}

TEST_F(CtlTest, BadKeysAndNumbersExit2WithOneLine) {
  Process broker = StartBroker();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"decode", "abc"}, "has 3 characters; keys of this store have 7"},
      {{"decode", "abc-def"}, "\"-\" at position 4"},
      {{"decode", ""}, "KEY is empty"},
      {{"encode", "12x"}, "is not a decimal number"},
      {{"encode", "-1"}, "is not a decimal number"},
      {{"encode", "3521614606208"}, "allowed: 0..3521614606207"},
      {{"encode", "99999999999999999999999"},
       "outside the key space of this store"},
  };
  for (const auto& [args, want] : cases) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(CtlTest, DecodeNeverCreatesAStore) {
  const std::string missing = dir() / "nowhere/forge.db";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"decode", "0000000"}, {"encode", "5"}}) {
    const RunResult r = Ctl(args, {{"DB_URL", "sqlite:" + missing}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find(missing + " does not exist"), std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir() / "nowhere"));
}

TEST_F(CtlTest, MissingSegmentExits1WithOneLine) {
  for (const char* cmd : {"stats", "check"}) {
    const RunResult r = Ctl({cmd});
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_EQ(r.err, "forge-ctl: no segment \"" + shm() +
                         "\" (/dev/shm/mini-forge." + shm() +
                         "): is forge-broker running with SHM_NAME=" + shm() +
                         "?\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(CtlTest, BadFlagExits2WithOneLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"stats", "--no-such-flag"},
           {"check", "--no-such-flag"},
           {"decode", "0", "--no-such-flag"},
           {"encode", "0", "--no-such-flag"}}) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
  }
  const RunResult r = Stats({"--watch", "1", "--interval", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  const RunResult zero = Stats({"--watch", "0"});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_TRUE(OneLine(zero.err)) << zero.err;
}

// A view nobody received is a failure (issue 11 item 8): every command
// whose stdout is /dev/full exits 1 with one line, --watch included.
TEST_F(CtlTest, OutputThatCannotBeWrittenExits1) {
  Process broker = StartBroker({{"KEY_ORDER", "sequential"}});
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"stats", "--interval", "0"},
           {"stats", "--json", "--interval", "0"},
           {"stats", "--watch", "0.1"},
           {"check"},
           {"decode", "0000000"},
           {"encode", "5"},
           {"segment", "list"},
           {"--help"}}) {
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
    std::vector<std::string> argv = {"/bin/sh", "-c",
                                     "exec \"$0\" \"$@\" >/dev/full",
                                     testing::Bin("forge-ctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = testing::Run(
        argv, {{"SHM_NAME", shm()}, {"DB_URL", "sqlite:" + DbPath()}},
        kCtlDeadline, dir().path());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find("forge-ctl: cannot write to standard output (No "
                         "space left on device)"),
              std::string::npos)
        << r.err;
  }
}

// forge-ctl's store errors show a DB_URL through the one redaction:
// neither the userinfo password nor libpq's sslpassword appears.
TEST_F(CtlTest, StoreErrorsNeverShowPasswords) {
  const std::string url = "postgres://forge:PWSECRET@127.0.0.1:" +
                          std::to_string(testing::FreePort()) +
                          "/forge?sslmode=disable&sslpassword=SSLSECRET";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"decode", "0000000"},
                                             {"encode", "5"}}) {
    const RunResult r = Ctl(args, {{"DB_URL", url}});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find("forge:***@127.0.0.1"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("SECRET"), std::string::npos) << r.err;
  }
}

TEST_F(CtlTest, NoSubcommandExits2) {
  const RunResult r = Ctl({});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(r.err.empty());
  const RunResult ns = Ctl({"namespace"});
  EXPECT_EQ(ns.exit_code, 2) << ns.err;
  EXPECT_TRUE(OneLine(ns.err)) << ns.err;
}

TEST_F(CtlTest, EveryCommandHasHelp) {
  const RunResult r = Ctl({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* cmd : {"stats", "decode", "encode", "check-key", "check",
                          "namespace", "segment"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << r.out;
  }
  const std::vector<std::pair<std::string, std::string>> subs = {
      {"stats", "--watch"},    {"stats", "--interval"},
      {"stats", "--json"},     {"decode", "KEY"},
      {"encode", "NUMBER"},    {"check", "counter"},
      {"decode", "--ns"},      {"encode", "--ns"},
      {"namespace", "create"}, {"namespace", "list"},
      {"namespace", "show"},   {"namespace", "blocklist"},
      {"check-key", "--ns"},   {"check-key", "KEY"},
      {"segment", "list"},     {"segment", "remove"}};
  for (const auto& [cmd, want] : subs) {
    const RunResult sub = Ctl({cmd, "--help"});
    EXPECT_EQ(sub.exit_code, 0) << sub.err;
    EXPECT_NE(sub.out.find(want), std::string::npos) << sub.out;
  }
}

}  // namespace
}  // namespace forge
