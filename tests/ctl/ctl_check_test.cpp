// `forge-ctl check` on a healthy setup and on broken ones: no broker, a
// killed broker, a store whose counter was rewound, ring keys the store
// never reserved, a segment whose format differs from the store's, and a
// DB_URL that is not the segment's store.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "stats/stats.h"
#include "store/range_store.h"
#include "tests/ctl/ctl_fixture.h"
#include "tests/support/process.h"

namespace forge {
namespace {

using testing::CtlTest;
using testing::kCtlDeadline;
using testing::Process;
using testing::RunResult;
using testing::ShmName;

const std::vector<std::string> kChecks = {"segment", "lock",   "heartbeat",
                                          "store",   "format", "counter"};

class CheckTest : public CtlTest {
 protected:
  // forge-ctl check; its stdout split into lines.
  RunResult Check(testing::Env env = {}) {
    RunResult r = Ctl({"check"}, std::move(env));
    lines_.clear();
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines_.push_back(line);
    return r;
  }

  // The line of check `name`, "" if missing.
  std::string Line(const std::string& name) const {
    for (const std::string& l : lines_) {
      if (l.substr(5, name.size() + 1) == name + " ") return l;
    }
    return "";
  }
  bool Passed(const std::string& name) const {
    return Line(name).rfind("ok   ", 0) == 0;
  }
  bool Failed(const std::string& name) const {
    return Line(name).rfind("FAIL ", 0) == 0;
  }
  std::string Out() const {
    std::string all;
    for (const std::string& l : lines_) all += l + "\n";
    return all;
  }

  // A store made in-process, the way forge-broker makes one.
  void MakeStore(keys::KeyOrder order, std::uint64_t reserve) {
    store::StoreFormat f;
    f.order = order;
    auto store = store::OpenStore("sqlite:" + DbPath(), f);
    store->Reserve(reserve);
    codec_.emplace(f.key_length, order, store->format().secret);
    store_id_ = store->format().store_id;
  }

  void PushKeys(shm::Segment& seg, const std::vector<std::string>& texts) {
    std::vector<shm::Key> keys(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      texts[i].copy(keys[i].text, texts[i].size());
    }
    ASSERT_EQ(seg.ring().Push(keys.data(), keys.size()), keys.size());
  }

  std::vector<std::string> lines_;
  std::optional<keys::KeyCodec> codec_;
  std::string store_id_;  // of the store MakeStore made
};

TEST_F(CheckTest, HealthySetupPassesEveryCheck) {
  Process broker = StartBroker();
  const RunResult r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(lines_.size(), kChecks.size()) << r.out;
  for (std::size_t i = 0; i < kChecks.size(); ++i) {
    EXPECT_EQ(lines_[i].substr(0, 5 + kChecks[i].size()), "ok   " + kChecks[i])
        << r.out;
  }
  EXPECT_NE(Line("lock").find("held by pid " + std::to_string(broker.pid())),
            std::string::npos);
  EXPECT_NE(Line("counter").find("all 1024 ring keys"), std::string::npos)
      << r.out;
}

TEST_F(CheckTest, StoppedBrokerFailsLockAndHeartbeat) {
  Process broker = StartBroker();
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kCtlDeadline), 0) << broker.Stderr();
  const RunResult r = Check();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Failed("lock")) << r.out;
  EXPECT_NE(Line("lock").find("no broker holds"), std::string::npos);
  EXPECT_TRUE(Failed("heartbeat")) << r.out;
  EXPECT_NE(Line("heartbeat").find("has stopped"), std::string::npos);
  for (const char* ok : {"segment", "store", "format", "counter"}) {
    EXPECT_TRUE(Passed(ok)) << r.out;
  }
}

TEST_F(CheckTest, KilledBrokerFailsHeartbeatButItsKeysAreSafe) {
  Process broker = StartBroker();
  broker.Kill();  // SIGKILL: the ring keeps its keys, the lock is dropped
  const RunResult r = Check();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Failed("lock")) << r.out;
  EXPECT_TRUE(Failed("heartbeat")) << r.out;
  EXPECT_NE(Line("heartbeat").find("is not alive"), std::string::npos) << r.out;
  EXPECT_TRUE(Passed("counter")) << r.out;
  EXPECT_NE(Line("counter").find("all 1024 ring keys"), std::string::npos);
}

TEST_F(CheckTest, RewoundStoreCounterFails) {
  Process broker = StartBroker({{"KEY_ORDER", "sequential"}});
  {
    SQLite::Database db(DbPath(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    ASSERT_EQ(db.exec("UPDATE counter SET next = 5 WHERE id = 1"), 1);
  }
  const RunResult r = Check();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Failed("counter")) << r.out;
  EXPECT_NE(Line("counter").find("the store's counter is 5"), std::string::npos)
      << r.out;
  for (const char* ok : {"segment", "lock", "heartbeat", "store", "format"}) {
    EXPECT_TRUE(Passed(ok)) << r.out;
  }
}

TEST_F(CheckTest, RingKeyTheStoreNeverReservedFails) {
  MakeStore(keys::KeyOrder::kSequential, 100);
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 7, 1);
  PushKeys(seg, {codec_->Encode(98), codec_->Encode(99)});
  RunResult r = Check({{"SHM_NAME", name.str()}});
  EXPECT_EQ(r.exit_code, 0) << Out() << r.err;
  EXPECT_NE(Line("counter").find("highest number 99"), std::string::npos)
      << Out();

  PushKeys(seg, {codec_->Encode(100)});  // not reserved yet
  seg.broker().heartbeat_unix_ns.store(base::UnixNowNs());
  r = Check({{"SHM_NAME", name.str()}});
  EXPECT_EQ(r.exit_code, 1) << Out();
  EXPECT_TRUE(Failed("counter")) << Out();
  EXPECT_NE(Line("counter").find("number 100, not below the store's counter "
                                 "100"),
            std::string::npos)
      << Out();
  EXPECT_TRUE(Passed("heartbeat")) << Out();
  EXPECT_TRUE(Passed("lock")) << Out();
}

TEST_F(CheckTest, RingKeyOfAnotherFormatFails) {
  MakeStore(keys::KeyOrder::kSequential, 100);
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 7, 1);
  PushKeys(seg, {"00-0001"});
  const RunResult r = Check({{"SHM_NAME", name.str()}});
  EXPECT_EQ(r.exit_code, 1) << Out();
  EXPECT_NE(Line("counter").find("not a key of this store"), std::string::npos)
      << Out();
}

TEST_F(CheckTest, SegmentKeyLengthDifferentFromTheStoreFails) {
  MakeStore(keys::KeyOrder::kScrambled, 100);
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 6, 0);
  const RunResult r = Check({{"SHM_NAME", name.str()}});
  EXPECT_EQ(r.exit_code, 1) << Out();
  EXPECT_TRUE(Passed("store")) << Out();
  EXPECT_TRUE(Failed("format")) << Out();
  EXPECT_NE(Line("format").find("the segment has KEY_LENGTH=6 "
                                "KEY_ORDER=scrambled, the store "
                                "KEY_LENGTH=7 KEY_ORDER=scrambled"),
            std::string::npos)
      << Out();
  EXPECT_TRUE(Failed("counter")) << Out();
  EXPECT_NE(Line("counter").find("not checked"), std::string::npos);
}

TEST_F(CheckTest, DbUrlOfAnotherStoreFails) {
  MakeStore(keys::KeyOrder::kSequential, 100);
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 7, 1);
  const std::string other = dir() / "other.db";
  store::StoreFormat f;
  f.order = keys::KeyOrder::kSequential;
  store::OpenStore("sqlite:" + other, f);
  const RunResult r =
      Check({{"SHM_NAME", name.str()}, {"DB_URL", "sqlite:" + other}});
  EXPECT_EQ(r.exit_code, 1) << Out();
  EXPECT_TRUE(Failed("store")) << Out();
  EXPECT_NE(Line("store").find("but the segment was filled from"),
            std::string::npos)
      << Out();
  // Both identities are named: the segment's and the one DB_URL opened.
  EXPECT_NE(Line("store").find("(id " + store_id_ + ")"), std::string::npos)
      << Out();
}

// The identity decides, not the path: the same file reached through a
// symbolic link is the segment's store (a text comparison said it was not).
TEST_F(CheckTest, SameStoreUnderAnotherPathPasses) {
  MakeStore(keys::KeyOrder::kSequential, 100);
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 7, 1);
  const std::string link = dir() / "link.db";
  std::filesystem::create_symlink(DbPath(), link);
  const RunResult r =
      Check({{"SHM_NAME", name.str()}, {"DB_URL", "sqlite:" + link}});
  EXPECT_TRUE(Passed("store")) << Out();
  EXPECT_NE(Line("store").find("(id " + store_id_ + ")"), std::string::npos)
      << Out();
}

TEST_F(CheckTest, MissingStoreFailsAndIsNotCreated) {
  ShmName name;
  shm::Segment seg = FakeBrokerSegment(name.str(), store_id_, 7, 1);
  const RunResult r = Check({{"SHM_NAME", name.str()}});
  EXPECT_EQ(r.exit_code, 1) << Out();
  EXPECT_NE(Line("store").find("does not exist"), std::string::npos) << Out();
  EXPECT_FALSE(std::filesystem::exists(DbPath()));
}

}  // namespace
}  // namespace forge
