// Operations, end to end: /metrics read by the real Prometheus parser and
// moving with the keys served, /healthz following the broker's heartbeat
// and pid, the bearer token over real HTTP, JSON logs, and the modes of
// the files a broker creates. Real forge-broker (SQLite in a temporary
// directory) and forge-frontend (2 workers) on a free loopback port.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <string>

#include "frontend/metrics.h"
#include "frontend/segment_backend.h"
#include "shm/health.h"
#include "shm/segment.h"
#include "tests/frontend/fake_backend.h"
#include "tests/frontend/python_tools.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace forge {
namespace {

using std::chrono::milliseconds;
using testing::Bin;
using testing::Env;
using testing::Exposition;
using testing::Get;
using testing::HttpResponse;
using testing::Process;
using testing::RawRequest;
using testing::ShmName;
using testing::TempDir;
using testing::WaitUntil;

constexpr auto kDeadline = milliseconds(20000);
constexpr int kWorkers = 2;
constexpr std::uint64_t kPoolCapacity = 1024;
constexpr const char* kToken = "ops-test-token-4f9c2a7e1b";

bool IsKey(const std::string& s) {
  return s.size() == 7 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0;
         });
}

std::size_t CountOf(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

int Mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

class OpsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(testing::Python3().empty())
        << "these tests need python3 with prometheus_client: install "
           "python3-prometheus-client (scripts/install-deps.sh test)";
  }

  Env BaseEnv(const Env& extra) const {
    Env env = {{"SHM_NAME", shm_.str()},
               {"DB_URL", "sqlite:" + (dir_ / "data/forge.db")},
               {"HOST", "127.0.0.1"},
               {"PORT", std::to_string(port_)},
               {"WORKERS", std::to_string(kWorkers)},
               {"HTTP_THREADS", "4"},
               {"POOL_CAPACITY", std::to_string(kPoolCapacity)},
               {"EMPTY_WAIT_MS", "200"}};
    for (const auto& [k, v] : extra) env[k] = v;
    return env;
  }
  Process Start(const std::string& program, const Env& extra = {}) {
    return Process::Start({Bin(program)}, BaseEnv(extra), dir_.path());
  }
  // Broker and frontend up, /healthz answering 200 (with the token when
  // `authorization` is given).
  void StartBoth(const Env& extra = {}, const std::string& authorization = "") {
    broker_.emplace(Start("forge-broker", extra));
    frontend_.emplace(Start("forge-frontend", extra));
    ASSERT_TRUE(WaitUntil(
        [&] { return Request("/healthz", authorization).status == 200; },
        kDeadline))
        << frontend_->Stderr() << broker_->Stderr();
  }
  // GET on a fresh connection, with an Authorization header when given.
  HttpResponse Request(const std::string& target,
                       const std::string& authorization = "") {
    if (authorization.empty()) return Get(port_, target);
    return RawRequest(
        port_, "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                   authorization + "\r\nConnection: close\r\n\r\n");
  }
  // GET /metrics, checked and parsed by prometheus_client.
  Exposition Scrape() {
    const HttpResponse r = Get(port_, "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.Header("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
    Exposition e = testing::ParseExposition(r.body);
    EXPECT_EQ(e.error, "") << r.body;
    return e;
  }
  bool WaitWorkersAttached() {
    return WaitUntil(
        [&] { return Scrape().Sum("forge_workers_alive") == kWorkers; },
        kDeadline);
  }
  // SIGTERM, then expect a clean exit; returns its stderr.
  static std::string Stop(Process& p) {
    p.Signal(SIGTERM);
    EXPECT_EQ(p.Wait(kDeadline), 0) << p.Stderr();
    return p.Stderr();
  }

  TempDir dir_;
  ShmName shm_;
  int port_ = testing::FreePort();
  std::optional<Process> broker_;
  std::optional<Process> frontend_;
};

// ---- /metrics ----

const std::map<std::string, std::string> kFamilies = {
    // Names as prometheus_client reports them: counters without _total.
    {"forge_segment_attached", "gauge"},
    {"forge_broker_up", "gauge"},
    {"forge_keys_served", "counter"},
    {"forge_unavailable", "counter"},
    {"forge_http_requests", "counter"},
    {"forge_worker_pid", "gauge"},
    {"forge_workers_alive", "gauge"},
    {"forge_ring_capacity", "gauge"},
    {"forge_ring_fill", "gauge"},
    {"forge_ring_low_water", "gauge"},
    {"forge_ranges_reserved", "counter"},
    {"forge_keys_produced", "counter"},
    {"forge_refills", "counter"},
    {"forge_store_errors", "counter"},
    {"forge_keys_wasted", "counter"},
    {"forge_refill_latency_seconds", "gauge"},
    {"forge_broker_heartbeat_age_seconds", "gauge"},
    {"forge_broker_state", "gauge"},
    {"forge_key_space_size", "gauge"},
    {"forge_key_space_used_ratio", "gauge"},
};

TEST_F(OpsProcessTest, TheFormatterPassesTheRealParser) {
  const Exposition e = testing::ParseExposition(
      frontend::FormatMetrics(frontend::testing::HealthySnapshot()));
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.families, kFamilies);
  EXPECT_EQ(e.samples.at("forge_keys_served_total{slot=\"4\"}"), 50);
  EXPECT_EQ(e.Sum("forge_keys_served_total"), 400);
  EXPECT_EQ(e.samples.at("forge_refill_latency_seconds"), 0.0015);
  EXPECT_EQ(e.samples.at("forge_key_space_used_ratio"),
            3000.0 / 3521614606208.0);
  EXPECT_EQ(e.samples.at("forge_broker_state{state=\"store-error\"}"), 0);

  frontend::Snapshot detached;
  const Exposition d =
      testing::ParseExposition(frontend::FormatMetrics(detached));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.samples.at("forge_broker_up"), 0);
}

TEST_F(OpsProcessTest, MetricsParseAndMoveExactlyWithTheKeysServed) {
  StartBoth();
  ASSERT_TRUE(WaitWorkersAttached());
  const Exposition before = Scrape();
  EXPECT_EQ(before.families, kFamilies);
  EXPECT_EQ(before.samples.at("forge_segment_attached"), 1);
  EXPECT_EQ(before.samples.at("forge_broker_up"), 1);
  EXPECT_EQ(before.samples.at("forge_broker_state{state=\"running\"}"), 1);
  EXPECT_EQ(before.Sum("forge_broker_state"), 1) << "one-hot";
  EXPECT_EQ(before.samples.at("forge_ring_capacity"), kPoolCapacity);
  const double low_water = before.samples.at("forge_ring_low_water");
  EXPECT_GT(low_water, 0);
  EXPECT_LT(low_water, kPoolCapacity);
  EXPECT_EQ(before.samples.at("forge_key_space_size"), 3521614606208.0);
  EXPECT_GE(before.samples.at("forge_ranges_reserved_total"), 1);
  EXPECT_EQ(before.samples.at("forge_store_errors_total"), 0);
  EXPECT_LT(before.samples.at("forge_broker_heartbeat_age_seconds"),
            std::chrono::duration<double>(shm::kHeartbeatStaleAfter).count());
  EXPECT_EQ(before.Count("forge_worker_pid"), std::size_t{kWorkers});

  // 7 single keys and one batch of 30: exactly 37 keys in 8 requests.
  for (int i = 0; i < 7; ++i) {
    const HttpResponse r = Get(port_, "/get-key");
    ASSERT_EQ(r.status, 200) << r.error;
    ASSERT_TRUE(IsKey(r.body)) << r.body;
  }
  const HttpResponse batch = Get(port_, "/get-keys?count=30");
  ASSERT_EQ(batch.status, 200) << batch.error;
  ASSERT_EQ(std::count(batch.body.begin(), batch.body.end(), '\n'), 30);
  const Exposition after = Scrape();
  EXPECT_EQ(after.Sum("forge_keys_served_total"),
            before.Sum("forge_keys_served_total") + 37);
  // The second scrape counts itself, like the first one did.
  EXPECT_EQ(after.Sum("forge_http_requests_total"),
            before.Sum("forge_http_requests_total") + 8 + 1);
  EXPECT_EQ(after.Sum("forge_unavailable_total"),
            before.Sum("forge_unavailable_total"));

  // Every key the broker pushed is either served or still in the ring.
  EXPECT_TRUE(WaitUntil(
      [&] {
        const Exposition e = Scrape();
        return e.samples.at("forge_keys_produced_total") ==
               e.Sum("forge_keys_served_total") +
                   e.samples.at("forge_ring_fill");
      },
      kDeadline));
  EXPECT_GE(after.samples.at("forge_key_space_used_ratio"),
            after.samples.at("forge_keys_produced_total") / 3521614606208.0);

  // Any worker answers for all: fresh connections land on either worker.
  std::set<double> pids;
  for (int i = 0; i < 6; ++i) {
    const Exposition e = Scrape();
    EXPECT_EQ(e.Sum("forge_keys_served_total"),
              after.Sum("forge_keys_served_total"));
    for (const auto& [key, value] : e.samples) {
      if (key.starts_with("forge_worker_pid{")) pids.insert(value);
    }
  }
  EXPECT_EQ(pids.size(), std::size_t{kWorkers}) << "the same two workers";
}

// ---- /healthz ----

TEST_F(OpsProcessTest, HealthzFollowsTheBrokerHeartbeatAndPid) {
  StartBoth();
  EXPECT_EQ(Get(port_, "/healthz").body, "ok\n");
  const std::string down = "no broker is running on segment '" + shm_.str();

  // Frozen: the pid lives on but the heartbeat stops.
  // Nothing but a stale heartbeat can make it 503 here. (No upper bound on
  // the time taken: on a loaded 2-core machine each probe may take seconds.)
  broker_->Signal(SIGSTOP);
  ASSERT_TRUE(WaitUntil([&] { return Get(port_, "/healthz").status == 503; },
                        shm::kHeartbeatStaleAfter + kDeadline));
  EXPECT_EQ(Get(port_, "/healthz").body.rfind(down, 0), 0u);
  const Exposition e = Scrape();
  EXPECT_EQ(e.samples.at("forge_broker_up"), 0);
  EXPECT_GE(e.samples.at("forge_broker_heartbeat_age_seconds"),
            std::chrono::duration<double>(shm::kHeartbeatStaleAfter).count());
  broker_->Signal(SIGCONT);
  EXPECT_TRUE(WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                        kDeadline));

  // Killed and reaped: the pid is gone.
  broker_->Signal(SIGKILL);
  ASSERT_EQ(broker_->Wait(kDeadline), 128 + SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return Get(port_, "/healthz").status == 503; },
                        kDeadline));
  EXPECT_EQ(Get(port_, "/healthz").body.rfind(down, 0), 0u);
  EXPECT_EQ(Scrape().samples.at("forge_broker_up"), 0);
  EXPECT_EQ(Get(port_, "/get-key").status, 200)
      << "keys already in the ring are still served";

  broker_.emplace(Start("forge-broker"));
  EXPECT_TRUE(WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                        kDeadline))
      << broker_->Stderr();
}

// ---- AUTH_TOKEN ----

TEST_F(OpsProcessTest, BearerTokenGuardsTheKeyRoutes) {
  const std::string good = std::string("Bearer ") + kToken;
  StartBoth({{"AUTH_TOKEN", kToken}, {"DEBUG_ENABLED", "true"}});
  HttpResponse r = Get(port_, "/get-key");
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
  EXPECT_EQ(Get(port_, "/metrics").status, 200) << "open by default";
  EXPECT_EQ(Get(port_, "/healthz").status, 200) << "open by default";
  const std::string frontend_log = Stop(*frontend_);
  EXPECT_NE(frontend_log.find("GET /get-key 200"), std::string::npos)
      << "request lines were logged (DEBUG_ENABLED)";
  EXPECT_EQ(frontend_log.find(kToken), std::string::npos) << frontend_log;

  // AUTH_PROTECT_ALL: health and metrics need the token as well.
  frontend_.emplace(Start("forge-frontend", {{"AUTH_TOKEN", kToken},
                                             {"AUTH_PROTECT_ALL", "true"}}));
  ASSERT_TRUE(WaitUntil([&] { return Request("/healthz", good).status == 200; },
                        kDeadline))
      << frontend_->Stderr();
  EXPECT_EQ(Get(port_, "/healthz").status, 401);
  EXPECT_EQ(Get(port_, "/metrics").status, 401);
  EXPECT_EQ(Request("/metrics", good).status, 200);
  EXPECT_EQ(Stop(*frontend_).find(kToken), std::string::npos);
  EXPECT_EQ(Stop(*broker_).find(kToken), std::string::npos);
}

// ---- logs ----

TEST_F(OpsProcessTest, JsonLogsAreObjectsWithoutRequestLines) {
  StartBoth({{"LOG_FORMAT", "json"}});
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Get(port_, "/get-key").status, 200);
  EXPECT_EQ(Get(port_, "/nope-ops").status, 404);
  EXPECT_EQ(Get(port_, "/get-keys?count=x").status, 400);
  for (Process* p : {&*frontend_, &*broker_}) {
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
    ASSERT_EQ(Get(port_, "/get-key?trace=ops-" + std::to_string(i)).status,
              200);
  }
  const std::string log = Stop(*frontend_);
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
  broker_.emplace(Start("forge-broker"));
  ::umask(saved);
  const std::string db = dir_ / "data/forge.db";
  const std::vector<std::string> files = {shm::Segment::ObjectPath(shm_.str()),
                                          shm::Segment::LockPath(shm_.str()),
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
      << broker_->Stderr();
  for (const std::string& f : files) EXPECT_EQ(Mode(f), 0600) << f;
  EXPECT_EQ(Mode(dir_ / "data"), 0700) << "the data directory it created";
}

}  // namespace
}  // namespace forge
