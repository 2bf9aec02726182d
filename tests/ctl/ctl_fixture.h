// tests/ctl/ctl_fixture.h — a tests/support Stack (temporary directory,
// unique SHM_NAME, SQLite store) and helpers to run forge-ctl and
// forge-broker there (process-level tests); NamespaceCtlTest: the same
// on a store (SQLite or PostgreSQL) a broker made and left.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "tests/ctl/mini_json.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace forge::testing {

inline constexpr auto kCtlDeadline = std::chrono::milliseconds(10000);

class CtlTest : public ::testing::Test, public Stack {
 protected:
  explicit CtlTest(StackOptions options = {})
      : Stack({{"POOL_CAPACITY", "1024"}, {"RANGE_SIZE", "100"}},
              std::move(options)) {}

  std::string DbPath() const { return dir() / "forge.db"; }

  // forge-ctl with SHM_NAME and DB_URL of this test unless `env` says
  // otherwise.
  RunResult Ctl(const std::vector<std::string>& args, Env env = {}) {
    std::vector<std::string> argv{Bin("forge-ctl")};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("SHM_NAME", shm());
    env.emplace("DB_URL", DbUrl());
    return testing::Run(argv, std::move(env), kCtlDeadline, dir().path());
  }

  RunResult Stats(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"stats"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ctl(args);
  }

  // `forge-ctl stats --json`, by default without the rate interval.
  std::optional<json::Value> StatsJson(const std::vector<std::string>& extra = {
                                           "--interval", "0"}) {
    std::vector<std::string> args{"--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = Stats(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::Parse(r.out);
  }

  // A segment named `name` that this test process produces into, as if it
  // were the broker of the store at DbPath() with identity `store_id`: it
  // holds the producer lock and beats. Its keys have `length` digits of
  // `policy` (default: base62, no check, no prefix) scrambled with
  // `secret` (order 0) or sequential (order 1).
  shm::Segment FakeBrokerSegment(const std::string& name,
                                 const std::string& store_id,
                                 std::uint32_t length, std::uint32_t order,
                                 const keys::KeyPolicy& policy = {},
                                 std::uint64_t secret = 0) {
    shm::SegmentSpec spec;
    spec.capacity = 16;
    spec.key_length = length;
    spec.key_order = order;
    spec.key_space =
        keys::KeySpace(policy.alphabet.size(), static_cast<int>(length));
    spec.policy = policy;
    spec.secret = secret;
    spec.store =
        "sqlite:" +
        std::filesystem::absolute(DbPath()).lexically_normal().string();
    spec.store_id = store_id;
    shm::Segment seg = shm::Segment::OpenProducer(name, spec);
    shm::BrokerStats& b = seg.broker();
    b.pid.store(::getpid());
    b.state.store(static_cast<std::uint32_t>(shm::BrokerState::kRunning));
    b.heartbeat_unix_ns.store(base::UnixNowNs());
    return seg;
  }

  // The row of the table `args` prints whose first field is `first`, its
  // fields split at spaces (empty, and a failure, when there is none).
  std::vector<std::string> TableRow(const std::vector<std::string>& args,
                                    const std::string& first) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::vector<std::string> fields;
      for (std::string w; words >> w;) fields.push_back(w);
      if (!fields.empty() && fields[0] == first) return fields;
    }
    ADD_FAILURE() << "no row " << first << " in\n" << r.out;
    return {};
  }

  // Starts forge-broker and waits until forge-ctl sees it with a full ring.
  Process StartBroker(const Env& extra = {}) {
    Process p = Stack::StartBroker(extra);
    EXPECT_TRUE(WaitUntil(
        [&] {
          const RunResult r = Stats({"--json", "--interval", "0"});
          const auto v = json::Parse(r.out);
          return r.exit_code == 0 && v && v->At("ring.fill")->number == 1024 &&
                 v->At("broker.pid")->number == p.pid() &&
                 v->At("broker.state")->text == "running";
        },
        kCtlDeadline))
        << p.Stderr();
    return p;
  }
};

// Pops `n` keys from segment `segment_name` as a consumer would (keys of
// any length: multi-slot ones too).
inline std::vector<std::string> PopKeys(const std::string& segment_name,
                                        std::size_t n) {
  shm::Segment seg = shm::Segment::Attach(segment_name);
  const std::uint32_t length = seg.header().key_length;  // text, any policy
  std::vector<shm::Key> keys(n * shm::KeySlots(length));
  EXPECT_EQ(seg.ring().TryPopBatch(keys.data(), n), n);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.emplace_back(shm::KeyTextAt(keys.data(), i, length));
  }
  return out;
}

// True if `text` is exactly one line.
inline bool OneLine(const std::string& text) {
  return !text.empty() && text.find('\n') == text.size() - 1;
}

// A store made by a broker that then stopped: nothing serves the
// namespaces this test creates unless the test makes their segment.
class NamespaceCtlTest : public CtlTest,
                         public ::testing::WithParamInterface<StoreKind> {
 protected:
  NamespaceCtlTest() : CtlTest(StackOptions::OwnStore(GetParam())) {}

  void SetUp() override {
    Process broker = StartBroker();
    broker.Signal(SIGTERM);
    ASSERT_EQ(broker.Wait(kCtlDeadline), 0) << broker.Stderr();
  }

  RunResult Create(const std::string& name, const std::string& length,
                   const std::string& order) {
    return Ctl({"namespace", "create", name, "--key-length", length,
                "--key-order", order});
  }

  // The row of `name` in `namespace list`, its fields split at spaces.
  std::vector<std::string> ListRow(const std::string& name) {
    return TableRow({"namespace", "list"}, name);
  }

  // Expects exit 2 with one line on stderr containing `want`.
  void ExpectRefused(const std::vector<std::string>& args,
                     const std::string& want) {
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
};

}  // namespace forge::testing
