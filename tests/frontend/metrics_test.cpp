// FormatMetrics (frontend/metrics.h): the exposition's structure (HELP and
// TYPE before each family, once; sample names and labels) and every value,
// from a hand-made Snapshot. The real Prometheus parser reads the same
// output in ops_process_test.cpp.
#include "frontend/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>

#include "tests/frontend/fake_backend.h"

namespace forge::frontend {
namespace {

using testing::AsDefault;
using testing::HealthySnapshot;

struct Parsed {
  std::map<std::string, std::string> types;   // family -> type
  std::map<std::string, std::string> help;    // family -> help text
  std::map<std::string, std::string> values;  // `name{labels}` -> value
};

// A strict reader of the subset of format 0.0.4 that FormatMetrics writes:
// each family opens with # HELP then # TYPE (once per name), and its
// samples follow, named exactly like the family.
Parsed Parse(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-z_]+) (\S.*))");
  static const std::regex kType(R"(# TYPE ([a-z_]+) (counter|gauge))");
  static const std::regex kSample(
      R"(([a-z_]+)(\{[a-z_]+="[a-z0-9_-]+"(?:,[a-z_]+="[a-z0-9_.:-]+")*\})? (\S+))");
  Parsed p;
  std::string family;
  std::istringstream in(text);
  std::smatch m;
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, kHelp)) {
      family = m[1];
      EXPECT_TRUE(p.help.emplace(family, m[2]).second) << "twice: " << line;
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_EQ(m[1], family) << "TYPE right after its HELP: " << line;
      EXPECT_TRUE(p.types.emplace(m[1], m[2]).second) << "twice: " << line;
      if (m[2] == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << line;
      }
    } else if (std::regex_match(line, m, kSample)) {
      EXPECT_EQ(m[1], family) << "sample outside its family: " << line;
      EXPECT_NO_THROW(std::stod(m[3])) << line;
      const std::string key = std::string(m[1]) + std::string(m[2]);
      EXPECT_TRUE(p.values.emplace(key, m[3]).second) << "twice: " << line;
    } else {
      ADD_FAILURE() << "not exposition format: '" << line << "'";
    }
  }
  return p;
}

TEST(MetricsTest, EveryFamilyHasHelpAndTypeOnce) {
  const Parsed p = Parse(FormatMetrics(AsDefault(HealthySnapshot())));
  const std::map<std::string, std::string> want = {
      {"forge_segment_attached", "gauge"},
      {"forge_broker_up", "gauge"},
      {"forge_keys_served_total", "counter"},
      {"forge_unavailable_total", "counter"},
      {"forge_http_requests_total", "counter"},
      {"forge_worker_pid", "gauge"},
      {"forge_workers_alive", "gauge"},
      {"forge_ring_capacity", "gauge"},
      {"forge_ring_fill", "gauge"},
      {"forge_ring_low_water", "gauge"},
      {"forge_ranges_reserved_total", "counter"},
      {"forge_keys_produced_total", "counter"},
      {"forge_refills_total", "counter"},
      {"forge_store_errors_total", "counter"},
      {"forge_keys_wasted_total", "counter"},
      {"forge_keys_blocked_total", "counter"},
      {"forge_refill_latency_seconds", "gauge"},
      {"forge_broker_heartbeat_age_seconds", "gauge"},
      {"forge_broker_state", "gauge"},
      {"forge_key_space_size", "gauge"},
      {"forge_key_space_used_ratio", "gauge"},
      {"forge_store_regressions_total", "counter"},
      {"forge_store_granted_high", "gauge"},
      {"forge_broker_range_size", "gauge"},
      {"forge_store_reconnects_total", "counter"},
      {"forge_store_durability", "gauge"},
      {"forge_store_info", "gauge"},
  };
  EXPECT_EQ(p.types, want);
  for (const auto& [name, help] : p.help) {
    EXPECT_GT(help.size(), 10u) << name;
  }
}

TEST(MetricsTest, ValuesComeFromTheSnapshot) {
  const Parsed p = Parse(FormatMetrics(AsDefault(HealthySnapshot())));
  const std::map<std::string, std::string> want = {
      {R"(forge_segment_attached{namespace="default"})", "1"},
      {R"(forge_broker_up{namespace="default"})", "1"},
      {R"(forge_keys_served_total{namespace="default",slot="0"})", "200"},
      {R"(forge_keys_served_total{namespace="default",slot="1"})", "150"},
      {R"(forge_keys_served_total{namespace="default",slot="4"})", "50"},
      {R"(forge_unavailable_total{namespace="default",slot="0"})", "1"},
      {R"(forge_unavailable_total{namespace="default",slot="1"})", "2"},
      {R"(forge_unavailable_total{namespace="default",slot="4"})", "0"},
      {R"(forge_http_requests_total{namespace="default",slot="0"})", "205"},
      {R"(forge_http_requests_total{namespace="default",slot="1"})", "150"},
      {R"(forge_http_requests_total{namespace="default",slot="4"})", "55"},
      {R"(forge_worker_pid{namespace="default",slot="0",kind="worker"})",
       "101"},  // slot 4 has no live pid
      {R"(forge_worker_pid{namespace="default",slot="1",kind="client"})",
       "102"},
      {R"(forge_workers_alive{namespace="default"})", "2"},
      {R"(forge_ring_capacity{namespace="default"})", "1024"},
      {R"(forge_ring_fill{namespace="default"})", "100"},
      {R"(forge_ring_low_water{namespace="default"})", "256"},
      {R"(forge_ranges_reserved_total{namespace="default"})", "3"},
      {R"(forge_keys_produced_total{namespace="default"})", "500"},
      {R"(forge_refills_total{namespace="default"})", "2"},
      {R"(forge_store_errors_total{namespace="default"})", "1"},
      {R"(forge_keys_wasted_total{namespace="default"})", "7"},
      {R"(forge_keys_blocked_total{namespace="default"})", "11"},
      {R"(forge_refill_latency_seconds{namespace="default"})", "0.0015"},
      {R"(forge_broker_heartbeat_age_seconds{namespace="default"})", "0.25"},
      {R"(forge_broker_state{namespace="default",state="none"})", "0"},
      {R"(forge_broker_state{namespace="default",state="starting"})", "0"},
      {R"(forge_broker_state{namespace="default",state="running"})", "1"},
      {R"(forge_broker_state{namespace="default",state="store-error"})", "0"},
      {R"(forge_broker_state{namespace="default",state="exhausted"})", "0"},
      {R"(forge_broker_state{namespace="default",state="stopped"})", "0"},
      {R"(forge_broker_state{namespace="default",state="store-unsafe"})", "0"},
      {R"(forge_key_space_size{namespace="default"})", "3521614606208"},
      {R"(forge_key_space_used_ratio{namespace="default"})",
       MetricNumber(3000.0 / 3521614606208.0)},
      {R"(forge_store_regressions_total{namespace="default"})", "1"},
      {R"(forge_store_granted_high{namespace="default"})", "3000"},
      {R"(forge_broker_range_size{namespace="default"})", "1000"},
      {R"(forge_store_reconnects_total{namespace="default"})", "2"},
      {R"(forge_store_durability{namespace="default",mode="unknown"})", "0"},
      {R"(forge_store_durability{namespace="default",mode="local"})", "0"},
      {R"(forge_store_durability{namespace="default",mode="async"})", "0"},
      {R"(forge_store_durability{namespace="default",mode="sync"})", "1"},
      {R"(forge_store_info{namespace="default",host="127.0.0.1:5432"})", "1"},
  };
  EXPECT_EQ(p.values, want);
}

TEST(MetricsTest, BrokerStateIsOneHot) {
  using S = shm::BrokerState;
  const std::pair<S, std::string> states[] = {
      {S::kNone, "none"},
      {S::kStarting, "starting"},
      {S::kRunning, "running"},
      {S::kStoreError, "store-error"},
      {S::kExhausted, "exhausted"},
      {S::kStopped, "stopped"},
      {S::kStoreUnsafe, "store-unsafe"}};
  for (const auto& [state, name] : states) {
    Snapshot s = HealthySnapshot();
    s.broker_state = state;
    int ones = 0;
    for (const auto& [key, value] : Parse(FormatMetrics(AsDefault(s))).values) {
      if (!key.starts_with("forge_broker_state{")) continue;
      if (value == "1") {
        ++ones;
        EXPECT_EQ(key, "forge_broker_state{namespace=\"default\",state=\"" +
                           name + "\"}");
      }
    }
    EXPECT_EQ(ones, 1) << name;
  }
}

TEST(MetricsTest, ABrokerThatNeverBeatHasNoHeartbeatAgeSample) {
  Snapshot s = HealthySnapshot();
  s.heartbeat_age_ns.reset();
  s.broker_alive = false;
  const Parsed p = Parse(FormatMetrics(AsDefault(s)));
  EXPECT_EQ(p.types.count("forge_broker_heartbeat_age_seconds"), 1u);
  EXPECT_EQ(p.values.count(
                R"(forge_broker_heartbeat_age_seconds{namespace="default"})"),
            0u);
  EXPECT_EQ(p.values.at(R"(forge_broker_up{namespace="default"})"), "0");
}

TEST(MetricsTest, NoUsedSlotsLeavesEmptyPerSlotFamilies) {
  Snapshot s = HealthySnapshot();
  s.workers.clear();
  s.workers_alive = 0;
  const Parsed p = Parse(FormatMetrics(AsDefault(s)));
  EXPECT_EQ(p.types.at("forge_keys_served_total"), "counter");
  for (const auto& [key, value] : p.values) {
    EXPECT_EQ(key.find("slot="), std::string::npos) << key;
  }
}

TEST(MetricsTest, DetachedSegmentReportsOnlyTheUpGauges) {
  Snapshot s;
  s.shm_name = "x";
  const Parsed p = Parse(FormatMetrics(AsDefault(s)));
  const std::map<std::string, std::string> want = {
      {R"(forge_segment_attached{namespace="default"})", "0"},
      {R"(forge_broker_up{namespace="default"})", "0"}};
  EXPECT_EQ(p.values, want);
  EXPECT_EQ(p.types.size(), 2u);
}

TEST(MetricsTest, CountersAreWrittenExactly) {
  Snapshot s = HealthySnapshot();
  s.keys_produced = 18'446'744'073'709'551'615ULL;  // no float rounding
  const Parsed p = Parse(FormatMetrics(AsDefault(s)));
  EXPECT_EQ(p.values.at(R"(forge_keys_produced_total{namespace="default"})"),
            "18446744073709551615");
}

TEST(MetricNumberTest, ShortestRoundTripForm) {
  EXPECT_EQ(MetricNumber(0), "0");
  EXPECT_EQ(MetricNumber(1), "1");
  EXPECT_EQ(MetricNumber(0.0015), "0.0015");
  EXPECT_EQ(MetricNumber(1e-10), "1e-10");
  EXPECT_EQ(MetricNumber(3521614606208.0), "3521614606208");
  const double ratio = 3000.0 / 3521614606208.0;
  EXPECT_EQ(std::stod(MetricNumber(ratio)), ratio);
  EXPECT_EQ(MetricNumber(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(MetricNumber(std::numeric_limits<double>::infinity()), "+Inf");
}

}  // namespace
}  // namespace forge::frontend
