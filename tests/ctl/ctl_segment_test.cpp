// forge-ctl segment list / remove (issue 17 §6) next to a real broker and
// frontend: the rows of live segments, refusals naming the live broker
// and workers, removal once they are gone, damaged files listed with their
// problem, and bad arguments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/names.h"
#include "shm/layout.h"
#include "shm/segment.h"
#include "tests/ctl/ctl_fixture.h"
#include "tests/ctl/mini_json.h"
#include "tests/shm/raw_file.h"
#include "tests/support/process.h"

namespace forge {
namespace {

using testing::CtlTest;
using testing::kCtlDeadline;
using testing::OneLine;
using testing::Process;
using testing::RunResult;
namespace json = forge::testing::json;
namespace fs = std::filesystem;

std::string PathOf(const std::string& segment) {
  return "/dev/shm/mini-forge." + segment;
}

class SegmentCtlTest : public CtlTest {
 protected:
  // `segment list --json`, parsed.
  json::Value List() {
    const RunResult r = Ctl({"segment", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(OneLine(r.out)) << r.out;
    return json::Parse(r.out).value_or(json::Value{});
  }

  // The row of segment `name` in `list`; nullptr (and a failure) if none.
  static const json::Value* Row(const json::Value& list,
                                const std::string& name) {
    const json::Value* segments = list.At("segments");
    if (segments != nullptr) {
      for (const json::Value& row : segments->items) {
        if (row.At("name")->text == name) return &row;
      }
    }
    ADD_FAILURE() << "no row " << name;
    return nullptr;
  }

  // The words of the table row of segment `name`.
  std::vector<std::string> SegmentRow(const std::string& name) {
    return TableRow({"segment", "list"}, name);
  }

  RunResult Remove(const std::string& name) {
    return Ctl({"segment", "remove", name});
  }

  // Expects `remove name` to exit 1 with one line containing every `want`
  // and to leave the segment in place.
  void ExpectRefused(const std::string& name,
                     const std::vector<std::string>& want) {
    const RunResult r = Remove(name);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    for (const std::string& w : want) {
      EXPECT_NE(r.err.find(w), std::string::npos) << w << " in " << r.err;
    }
    EXPECT_NE(r.err.find("nothing was removed"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(fs::exists(PathOf(name)));
  }

  // Expects `remove name` to unlink the segment and its lock file.
  void ExpectRemoved(const std::string& name, const std::string& note = "") {
    const RunResult r = Remove(name);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("removed " + PathOf(name) + " and its lock file " +
                              PathOf(name) + ".lock",
                          0),
              0u)
        << r.out;
    EXPECT_NE(r.out.find(note), std::string::npos) << r.out;
    EXPECT_TRUE(OneLine(r.out)) << r.out;
    EXPECT_FALSE(fs::exists(PathOf(name)));
    EXPECT_FALSE(fs::exists(PathOf(name) + ".lock"));
  }
};

// A real broker and a frontend with two workers on the default segment,
// and a namespace segment this process serves as its broker: both listed
// with pid, state, workers and keys; remove refuses a live broker, by its
// lock and (once the lock is gone) by its pid and heartbeat.
TEST_F(SegmentCtlTest, SegmentListShowsLiveSegmentsAndRemoveRefusesBrokers) {
  Process broker = StartBroker();
  Process frontend = StartFrontend({{"WORKERS", "2"}});
  ASSERT_TRUE(WaitWorkers(frontend.pid(), 2)) << frontend.Stderr();
  const std::string invites = base::NamespaceSegmentName(shm(), "invites");
  std::optional<shm::Segment> fake = FakeBrokerSegment(invites, "", 8, 1);

  const json::Value list = List();
  const json::Value* d = Row(list, shm());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->At("shm_name")->text, shm());
  EXPECT_EQ(d->At("namespace")->text, "default");
  EXPECT_EQ(d->At("path")->text, PathOf(shm()));
  EXPECT_EQ(d->At("size_bytes")->number,
            static_cast<double>(fs::file_size(PathOf(shm()))));
  EXPECT_EQ(d->At("problem")->kind, json::Value::Kind::kNull);
  EXPECT_EQ(d->At("broker.pid")->number, broker.pid());
  EXPECT_TRUE(d->At("broker.alive")->boolean);
  EXPECT_EQ(d->At("broker.state")->text, "running");
  EXPECT_EQ(d->At("lock.state")->text, "held");
  EXPECT_EQ(d->At("lock.pid")->number, broker.pid());
  std::vector<pid_t> listed;
  for (const json::Value& pid : d->At("worker_pids")->items) {
    listed.push_back(static_cast<pid_t>(pid.number));
  }
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, WorkerPids(frontend.pid()));
  EXPECT_EQ(d->At("ring.capacity")->number, 1024);
  // Idle workers: what the ring holds is what stats says it holds.
  EXPECT_EQ(d->At("ring.fill")->number, StatsJson()->At("ring.fill")->number);
  const json::Value* n = Row(list, invites);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->At("shm_name")->text, shm());
  EXPECT_EQ(n->At("namespace")->text, "invites");
  EXPECT_EQ(n->At("broker.pid")->number, ::getpid());
  EXPECT_EQ(n->At("worker_pids")->items.size(), 0u);
  EXPECT_EQ(n->At("ring.fill")->number, 0);
  EXPECT_EQ(n->At("ring.capacity")->number, 16);

  // name, bytes, broker, workers, keys, state
  const std::vector<std::string> row = SegmentRow(shm());
  ASSERT_EQ(row.size(), 6u);
  EXPECT_EQ(row[1], std::to_string(fs::file_size(PathOf(shm()))));
  EXPECT_EQ(row[2], std::to_string(broker.pid()));
  EXPECT_EQ(row[3], "2");
  EXPECT_EQ(row[4],
            std::to_string(static_cast<long>(d->At("ring.fill")->number)));
  EXPECT_EQ(row[5], "running");

  const std::string me = std::to_string(::getpid());
  ExpectRefused(invites, {"broker pid " + me + " (holds its producer lock)"});
  fake.reset();  // the lock goes; the segment still names a live broker
  ExpectRefused(invites, {"broker pid " + me + " (alive, running)"});
  shm::Segment::Attach(invites).broker().state.store(
      static_cast<std::uint32_t>(shm::BrokerState::kStopped));
  ExpectRemoved(invites);
  EXPECT_EQ(Row(List(), shm())->At("broker.pid")->number, broker.pid())
      << "the default segment stays";
}

// The broker and a worker alive: both named; the broker stopped: the
// worker named; the frontend stopped too: removed, with its keys as gaps.
TEST_F(SegmentCtlTest, SegmentRemoveRefusesLiveBrokerAndWorkers) {
  Process broker = StartBroker();
  Process frontend = StartFrontend({{"WORKERS", "1"}});
  ASSERT_TRUE(WaitWorkers(frontend.pid(), 1)) << frontend.Stderr();
  const std::string worker =
      "worker pid " + std::to_string(WorkerPids(frontend.pid()).at(0));
  ExpectRefused(shm(), {"broker pid " + std::to_string(broker.pid()) +
                        " (holds its producer lock) and " + worker});
  broker.Signal(SIGTERM);
  ASSERT_EQ(broker.Wait(kCtlDeadline), 0) << broker.Stderr();
  ExpectRefused(shm(), {"is in use by " + worker + ": stop them first"});
  frontend.Signal(SIGTERM);
  ASSERT_EQ(frontend.Wait(kCtlDeadline), 0) << frontend.Stderr();
  // A worker was attached at the broker's stop, so the ring kept its keys.
  ExpectRemoved(shm(), " keys in its ring become gaps, never issued)");
  const json::Value after = List();
  for (const json::Value& r : after.At("segments")->items) {
    EXPECT_NE(r.At("name")->text, shm()) << "listed after its removal";
  }
  const RunResult again = Remove(shm());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(OneLine(again.err)) << again.err;
  EXPECT_NE(again.err.find("no segment \"" + shm() + "\""), std::string::npos)
      << again.err;
}

// A file too small for a header, a segment of the previous layout and a
// file no broker names so: each listed with its problem on one line, never
// a crash; the first two removed.
TEST_F(SegmentCtlTest, SegmentListShowsDamagedFilesWithTheirProblem) {
  const std::string tiny = shm() + "@tiny";
  testing::WriteFile(PathOf(tiny), "garbage");
  ASSERT_EQ(::chmod(PathOf(tiny).c_str(), 0600), 0);
  const std::string old = shm() + "@old";
  FakeBrokerSegment(old, "", 7, 0);  // made, then left by its "broker"
  shm::testing::RawFile(PathOf(old)).prefix().header.layout_version =
      shm::kPreviousLayoutVersion;
  const std::string foreign = shm() + "@Not-A-Namespace";
  testing::WriteFile(PathOf(foreign), "x");

  const json::Value list = List();
  for (const auto& [name, want] :
       std::vector<std::pair<std::string, std::string>>{
           {tiny, "is only 7 bytes, too small for a segment header"},
           {old, "has layout version 3, this build reads version 4"},
           {foreign, "is not named as forge-broker names segments"}}) {
    const json::Value* r = Row(list, name);
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->At("problem")->text.find(want), std::string::npos)
        << r->At("problem")->text;
    EXPECT_EQ(r->At("broker")->kind, json::Value::Kind::kNull);
    const std::vector<std::string> row = SegmentRow(name);
    ASSERT_GE(row.size(), 3u);
    EXPECT_EQ(row[2], "unreadable:");
  }
  ExpectRemoved(old, "(unreadable, so its worker slots were not checked)");
  const RunResult r = Remove(tiny);  // no broker ever locked it
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "removed " + PathOf(tiny) +
                       " (unreadable, so its worker slots were not checked)\n");
  EXPECT_FALSE(fs::exists(PathOf(tiny)));
}

TEST_F(SegmentCtlTest, SegmentBadArgumentsExit2WithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"segment"}, "A subcommand is required"},
      {{"segment", "list", "--bogus"}, "--bogus"},
      {{"segment", "remove"}, "NAME"},
      {{"segment", "remove", "a/b"}, "is not a segment name: use SHM_NAME"},
      {{"segment", "remove", "x.lock"}, "not ending in .lock"},
      {{"segment", "remove", "x@Bad"}, "is not a namespace name"},
      {{"segment", "remove", "x", "--ns", "Bad"}, "is not a namespace name"},
      {{"segment", "remove", "x@a", "--ns", "b"}, "not both"},
  };
  for (const auto& [args, want] : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace forge
