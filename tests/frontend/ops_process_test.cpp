// Operations, end to end: /healthz following the broker's heartbeat and
// pid, the bearer token over real HTTP, JSON logs, and the modes of the
// files a broker creates. Real forge-broker and forge-frontend
// (tests/frontend/ops_fixture.h); /metrics is in ops_metrics_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include "frontend/consumer.h"
#include "shm/health.h"
#include "shm/segment.h"
#include "tests/frontend/ops_fixture.h"

namespace forge::ops {
namespace {

// ---- /healthz ----

TEST_F(OpsProcessTest, HealthzFollowsTheBrokerHeartbeatAndPid) {
  StartBoth();
  EXPECT_EQ(Get(port(), "/healthz").body, "ok\n");
  const std::string down = "no broker is running on segment '" + shm();

  // Frozen: the pid lives on but the heartbeat stops.
  // Nothing but a stale heartbeat can make it 503 here. (No upper bound on
  // the time taken: on a loaded 2-core machine each probe may take seconds.)
  broker()->Signal(SIGSTOP);
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/healthz").status == 503; },
                        shm::kHeartbeatStaleAfter + kDeadline));
  EXPECT_EQ(Get(port(), "/healthz").body.rfind(down, 0), 0u);
  const Exposition e = Scrape();
  EXPECT_EQ(e.samples.at(R"(forge_broker_up{namespace="default"})"), 0);
  EXPECT_GE(e.samples.at(
                R"(forge_broker_heartbeat_age_seconds{namespace="default"})"),
            std::chrono::duration<double>(shm::kHeartbeatStaleAfter).count());
  broker()->Signal(SIGCONT);
  EXPECT_TRUE(WaitUntil([&] { return Get(port(), "/healthz").status == 200; },
                        kDeadline));

  // Killed and reaped: the pid is gone.
  broker()->Signal(SIGKILL);
  ASSERT_EQ(broker()->Wait(kDeadline), 128 + SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/healthz").status == 503; },
                        kDeadline));
  EXPECT_EQ(Get(port(), "/healthz").body.rfind(down, 0), 0u);
  EXPECT_EQ(Scrape().samples.at(R"(forge_broker_up{namespace="default"})"), 0);
  EXPECT_EQ(Get(port(), "/get-key").status, 200)
      << "keys already in the ring are still served";

  HoldBroker();
  EXPECT_TRUE(WaitUntil([&] { return Get(port(), "/healthz").status == 200; },
                        kDeadline))
      << broker()->Stderr();
}

// ---- AUTH_TOKEN ----

TEST_F(OpsProcessTest, BearerTokenGuardsTheKeyRoutes) {
  const std::string good = std::string("Bearer ") + kToken;
  StartBoth({{"AUTH_TOKEN", kToken}, {"DEBUG_ENABLED", "true"}});
  HttpResponse r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer realm=\"mini-forge\"");
  r = Request("/get-keys?count=2", "Bearer not-the-token-at-all");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.Header("WWW-Authenticate").find("invalid_token"),
            std::string::npos);
  r = Request("/get-key", good);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(IsKey(r.body)) << r.body;
  r = Request("/get-keys?count=3", good);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 3);
  EXPECT_EQ(Get(port(), "/metrics").status, 200) << "open by default";
  EXPECT_EQ(Get(port(), "/healthz").status, 200) << "open by default";
  const std::string frontend_log = Stop(*frontend());
  EXPECT_NE(frontend_log.find("GET /get-key 200"), std::string::npos)
      << "request lines were logged (DEBUG_ENABLED)";
  EXPECT_EQ(frontend_log.find(kToken), std::string::npos) << frontend_log;

  // AUTH_PROTECT_ALL: health and metrics need the token as well.
  HoldFrontend({{"AUTH_TOKEN", kToken}, {"AUTH_PROTECT_ALL", "true"}});
  ASSERT_TRUE(WaitUntil([&] { return Request("/healthz", good).status == 200; },
                        kDeadline))
      << frontend()->Stderr();
  EXPECT_EQ(Get(port(), "/healthz").status, 401);
  EXPECT_EQ(Get(port(), "/metrics").status, 401);
  EXPECT_EQ(Request("/metrics", good).status, 200);
  EXPECT_EQ(Stop(*frontend()).find(kToken), std::string::npos);
  EXPECT_EQ(Stop(*broker()).find(kToken), std::string::npos);
}

// ---- logs ----

TEST_F(OpsProcessTest, JsonLogsAreObjectsWithoutRequestLines) {
  StartBoth({{"LOG_FORMAT", "json"}});
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Get(port(), "/get-key").status, 200);
  EXPECT_EQ(Get(port(), "/nope-ops").status, 404);
  EXPECT_EQ(Get(port(), "/get-keys?count=x").status, 400);
  for (Process* p : {&*frontend(), &*broker()}) {
    const std::string log = Stop(*p);
    std::size_t lines = 0;
    EXPECT_EQ(testing::CheckJsonLogLines(log, &lines), "") << log;
    EXPECT_GE(lines, 2u) << "at least a start and a stop line: " << log;
    EXPECT_EQ(p->Stdout(), "");
    for (const char* request : {"/get-key", "/nope-ops", "count=x"}) {
      EXPECT_EQ(log.find(request), std::string::npos)
          << "no per-request line without DEBUG_ENABLED: " << log;
    }
  }
}

TEST_F(OpsProcessTest, DebugLogsOneJsonLinePerRequest) {
  StartBoth({{"LOG_FORMAT", "json"}, {"DEBUG_ENABLED", "true"}});
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Get(port(), "/get-key?trace=ops-" + std::to_string(i)).status,
              200);
  }
  const std::string log = Stop(*frontend());
  std::size_t lines = 0;
  EXPECT_EQ(testing::CheckJsonLogLines(log, &lines), "") << log;
  EXPECT_EQ(CountOf(log, "trace=ops-"), 5u) << log;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("trace=ops-") == std::string::npos) continue;
    EXPECT_NE(line.find("\"level\":\"debug\""), std::string::npos) << line;
    EXPECT_NE(line.find(" 200 "), std::string::npos) << line;
  }
}

// ---- file modes ----

TEST_F(OpsProcessTest, SegmentLockAndDatabaseAreOwnerOnly) {
  // A permissive umask must not loosen anything: the modes are explicit.
  const mode_t saved = ::umask(0);
  HoldBroker();
  ::umask(saved);
  const std::string db = dir() / "data/forge.db";
  const std::vector<std::string> files = {shm::Segment::ObjectPath(shm()),
                                          shm::Segment::LockPath(shm()),
                                          db,
                                          db + "-wal",
                                          db + "-shm",
                                          db + "-writers"};
  ASSERT_TRUE(WaitUntil(
      [&] {
        return std::all_of(files.begin(), files.end(),
                           [](const std::string& f) { return Mode(f) >= 0; });
      },
      kDeadline))
      << broker()->Stderr();
  for (const std::string& f : files) EXPECT_EQ(Mode(f), 0600) << f;
  EXPECT_EQ(Mode(dir() / "data"), 0700) << "the data directory it created";
}

}  // namespace
}  // namespace forge::ops
