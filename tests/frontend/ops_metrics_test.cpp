// /metrics end to end: the formatter's output and a real frontend's
// exposition read by the real Prometheus parser, moving exactly with the
// keys served. Real forge-broker and forge-frontend (tests/frontend/
// ops_fixture.h).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "frontend/consumer.h"
#include "frontend/metrics.h"
#include "shm/health.h"
#include "tests/frontend/fake_backend.h"
#include "tests/frontend/ops_fixture.h"

namespace forge::ops {
namespace {

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
    {"forge_keys_blocked", "counter"},
    {"forge_refill_latency_seconds", "gauge"},
    {"forge_broker_heartbeat_age_seconds", "gauge"},
    {"forge_broker_state", "gauge"},
    {"forge_key_space_size", "gauge"},
    {"forge_key_space_used_ratio", "gauge"},
    {"forge_store_reconnects", "counter"},
    {"forge_store_durability", "gauge"},
    {"forge_store_info", "gauge"},
    {"forge_store_regressions", "counter"},
    {"forge_store_granted_high", "gauge"},
    {"forge_broker_range_size", "gauge"},
};

TEST_F(OpsProcessTest, TheFormatterPassesTheRealParser) {
  const Exposition e = testing::ParseExposition(frontend::FormatMetrics(
      frontend::testing::AsDefault(frontend::testing::HealthySnapshot())));
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.families, kFamilies);
  EXPECT_EQ(
      e.samples.at("forge_keys_served_total{namespace=\"default\",slot=\"4\"}"),
      50);
  EXPECT_EQ(e.Sum("forge_keys_served_total"), 400);
  EXPECT_EQ(
      e.samples.at(R"(forge_refill_latency_seconds{namespace="default"})"),
      0.0015);
  EXPECT_EQ(e.samples.at(R"(forge_key_space_used_ratio{namespace="default"})"),
            3000.0 / 3521614606208.0);
  EXPECT_EQ(
      e.samples.at(
          "forge_broker_state{namespace=\"default\",state=\"store-error\"}"),
      0);

  frontend::Snapshot detached;
  const Exposition d = testing::ParseExposition(
      frontend::FormatMetrics(frontend::testing::AsDefault(detached)));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.samples.at(R"(forge_broker_up{namespace="default"})"), 0);
}

TEST_F(OpsProcessTest, MetricsParseAndMoveExactlyWithTheKeysServed) {
  StartBoth();
  ASSERT_TRUE(WaitWorkersAttached());
  const Exposition before = Scrape();
  EXPECT_EQ(before.families, kFamilies);
  EXPECT_EQ(before.samples.at(R"(forge_segment_attached{namespace="default"})"),
            1);
  EXPECT_EQ(before.samples.at(R"(forge_broker_up{namespace="default"})"), 1);
  EXPECT_EQ(before.samples.at(
                "forge_broker_state{namespace=\"default\",state=\"running\"}"),
            1);
  EXPECT_EQ(before.Sum("forge_broker_state"), 1) << "one-hot";
  EXPECT_EQ(before.samples.at(R"(forge_ring_capacity{namespace="default"})"),
            kPoolCapacity);
  const double low_water =
      before.samples.at(R"(forge_ring_low_water{namespace="default"})");
  EXPECT_GT(low_water, 0);
  EXPECT_LT(low_water, kPoolCapacity);
  EXPECT_EQ(before.samples.at(R"(forge_key_space_size{namespace="default"})"),
            3521614606208.0);
  EXPECT_GE(
      before.samples.at(R"(forge_ranges_reserved_total{namespace="default"})"),
      1);
  EXPECT_EQ(
      before.samples.at(R"(forge_store_errors_total{namespace="default"})"), 0);
  EXPECT_LT(before.samples.at(
                R"(forge_broker_heartbeat_age_seconds{namespace="default"})"),
            std::chrono::duration<double>(shm::kHeartbeatStaleAfter).count());
  EXPECT_EQ(before.Count("forge_worker_pid"), std::size_t{kWorkers});

  // 7 single keys and one batch of 30: exactly 37 keys in 8 requests.
  for (int i = 0; i < 7; ++i) {
    const HttpResponse r = Get(port(), "/get-key");
    ASSERT_EQ(r.status, 200) << r.error;
    ASSERT_TRUE(IsKey(r.body)) << r.body;
  }
  const HttpResponse batch = Get(port(), "/get-keys?count=30");
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
        return e.samples.at(
                   R"(forge_keys_produced_total{namespace="default"})") ==
               e.Sum("forge_keys_served_total") +
                   e.samples.at(R"(forge_ring_fill{namespace="default"})");
      },
      kDeadline));
  EXPECT_GE(
      after.samples.at(R"(forge_key_space_used_ratio{namespace="default"})"),
      after.samples.at(R"(forge_keys_produced_total{namespace="default"})") /
          3521614606208.0);

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

}  // namespace
}  // namespace forge::ops
