// Router and helpers of frontend/handlers.h, without sockets.
#include "frontend/handlers.h"

#include <gtest/gtest.h>

#include <sstream>

#include "frontend/metrics.h"
#include "frontend/status.h"
#include "stats/stats.h"
#include "tests/frontend/fake_backend.h"

namespace forge::frontend {
namespace {

using testing::FakeBackend;
using testing::FakeStatus;
using testing::HealthySnapshot;
using testing::MadeUpOverview;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() { backend_.SetSnapshot(HealthySnapshot()); }

  Reply Get(std::string_view path, const QueryParams& query = {}) {
    return router_.Handle("GET", path, query);
  }

  FakeBackend backend_;
  Router router_{backend_, RouterLimits{100}};
};

std::vector<std::string> Lines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(RouterTest, GetKeyAnswersTheKeyOnlyWithNoStore) {
  const Reply r = Get("/get-key");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "k000000");
  EXPECT_EQ(r.content_type, kTextPlain);
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/get-key").body, "k000001");
}

TEST_F(RouterTest, GetKeysAnswersCountKeysOnePerLineNewlineTerminated) {
  const Reply r = Get("/get-keys", {{"count", "5"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "k000000\nk000001\nk000002\nk000003\nk000004\n");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(backend_.take_calls(), 1u) << "one batch claim per request";
}

TEST_F(RouterTest, GetKeysAcceptsTheMaximumAndLeadingZeros) {
  EXPECT_EQ(Lines(Get("/get-keys", {{"count", "100"}}).body).size(), 100u);
  EXPECT_EQ(Lines(Get("/get-keys", {{"count", "007"}}).body).size(), 7u);
}

TEST_F(RouterTest, GetKeysAnswersWhatArrivedWhenTheRingRunsShort) {
  backend_.SetKeysLeft(3);
  const Reply r = Get("/get-keys", {{"count", "10"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Lines(r.body).size(), 3u);
}

TEST_F(RouterTest, KeyAnswersSayHowManyKeysInXKeyCount) {
  EXPECT_EQ(Get("/get-key").key_count, 1u);
  EXPECT_EQ(Get("/get-keys", {{"count", "5"}}).key_count, 5u);
  backend_.SetKeysLeft(3);
  const Reply short_batch = Get("/get-keys", {{"count", "10"}});
  EXPECT_EQ(short_batch.status, 200);
  EXPECT_EQ(short_batch.key_count, 3u) << "fewer than asked, and says so";
  // Only a body of keys carries the count.
  EXPECT_EQ(Get("/get-keys", {{"count", "10"}}).key_count, std::nullopt);
  EXPECT_EQ(Get("/get-keys", {{"count", "x"}}).key_count, std::nullopt);
  EXPECT_EQ(Get("/healthz").key_count, std::nullopt);
}

TEST_F(RouterTest, ReplyListsXKeyCountAfterItsStaticHeaders) {
  Reply r = Get("/get-keys", {{"count", "12"}});
  std::vector<std::string> headers;
  r.ForEachHeader([&](std::string_view name, std::string_view value) {
    headers.push_back(std::string(name) + ": " + std::string(value));
  });
  EXPECT_EQ(headers, (std::vector<std::string>{"Cache-Control: no-store",
                                               "X-Key-Count: 12"}));
}

// The worker may swap segments (a new broker with another KEY_LENGTH)
// between a claim and the answer: the keys keep the length of the segment
// they came from, never the next one's.
TEST_F(RouterTest, KeysKeepTheLengthOfTheSegmentTheyCameFrom) {
  backend_.SwapLengthAfterTake(3);
  EXPECT_EQ(Get("/get-keys", {{"count", "2"}}).body, "k000000\nk000001\n");
  EXPECT_EQ(Get("/get-key").body, "k02") << "the new segment's keys";
  backend_.SwapLengthAfterTake(7);
  EXPECT_EQ(Get("/get-key").body, "k03");
  EXPECT_EQ(Get("/get-key").body, "k000004");
}

TEST_F(RouterTest, UnknownQueryParametersAreIgnored) {
  EXPECT_EQ(Get("/get-key", {{"nocache", "123"}}).status, 200);
  EXPECT_EQ(Get("/get-keys", {{"count", "2"}, {"x", "y"}}).status, 200);
}

struct BadCount {
  QueryParams query;
  std::string says;  // part of the one-line reason
};

class BadCountTest : public RouterTest,
                     public ::testing::WithParamInterface<BadCount> {};

TEST_P(BadCountTest, IsRejectedWith400AndAReason) {
  const std::size_t before = backend_.take_calls();
  const Reply r = Get("/get-keys", GetParam().query);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(GetParam().says), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("1..100"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.back(), '\n');
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line";
  EXPECT_EQ(backend_.take_calls(), before) << "no key claimed";
}

INSTANTIATE_TEST_SUITE_P(
    Counts, BadCountTest,
    ::testing::Values(
        BadCount{{}, "count is missing"},
        BadCount{{{"count", "0"}}, "count=0 asks for no keys"},
        BadCount{{{"count", "-5"}}, "count=-5 is not a whole number"},
        BadCount{{{"count", "abc"}}, "count=abc is not"},
        BadCount{{{"count", ""}}, "count= is not"},
        BadCount{{{"count", "+5"}}, "count=+5 is not"},
        BadCount{{{"count", " 5"}}, "count= 5 is not"},
        BadCount{{{"count", "5x"}}, "count=5x is not"},
        BadCount{{{"count", "1.5"}}, "count=1.5 is not"},
        BadCount{{{"count", "101"}}, "count=101 is over MAX_BATCH"},
        BadCount{{{"count", "99999999999999999999999"}}, "is over MAX_BATCH"},
        BadCount{{{"count", "1"}, {"count", "2"}}, "given 2 times"}));

TEST(ParseCountTest, EchoesHostileValuesSanitisedAndShort) {
  const std::string hostile = "\x1b[31m" + std::string(200, 'A');
  const Result<std::size_t> count = ParseCount({{"count", hostile}}, 10);
  ASSERT_FALSE(count.ok());
  const std::string& error = count.status().message();
  EXPECT_EQ(error.find('\x1b'), std::string::npos);
  EXPECT_LT(error.size(), 200u);
}

TEST_F(RouterTest, UnknownPathIs404ForAnyMethod) {
  for (const char* method : {"GET", "POST", "DELETE"}) {
    const Reply r = router_.Handle(method, "/nope", {});
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("/get-key"), std::string::npos);
  }
  EXPECT_EQ(Get("/get-key/").status, 404);
  EXPECT_EQ(Get("/").status, 404);
  EXPECT_EQ(backend_.take_calls(), 0u);
}

TEST_F(RouterTest, OtherMethodsOnKnownPathsAre405WithAllowGet) {
  for (const char* path : {"/get-key", "/get-keys", "/healthz", "/metrics",
                           "/status", "/status.json"}) {
    for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "PATCH"}) {
      const Reply r = router_.Handle(method, path, {{"count", "1"}});
      EXPECT_EQ(r.status, 405) << method << " " << path;
      EXPECT_EQ(r.Header("Allow"), "GET");
      EXPECT_NE(r.body.find(method), std::string::npos);
    }
  }
  EXPECT_EQ(backend_.take_calls(), 0u) << "HEAD must not waste a key";
}

// GET /status and /status.json (issue 17).
class StatusRouteTest : public RouterTest {
 protected:
  FakeStatus status_;
  Router with_status_{backend_, RouterLimits{100}, {}, &status_.source};

  Reply GetStatus(std::string_view path, const QueryParams& query = {}) {
    return with_status_.Handle("GET", path, query);
  }
};

TEST_F(StatusRouteTest, StatusIsTheCompiledInPageAsHtmlWithNoStore) {
  const Reply r = GetStatus("/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.body, kStatusHtml);
  EXPECT_EQ(r.body.rfind("<!doctype html>", 0), 0u);
  for (const char* id : {"broker-state", "broker-pid", "rate", "banner"}) {
    EXPECT_NE(r.body.find("id=\"" + std::string(id) + "\""), std::string::npos)
        << id;
  }
  EXPECT_NE(r.body.find("fetch(\"/status.json\""), std::string::npos);
  // Self-contained: no external script, style sheet, image or font.
  for (const char* external :
       {"src=", "http://", "https://", "@import", "rel=\"stylesheet\""}) {
    EXPECT_EQ(r.body.find(external), std::string::npos) << external;
  }
  EXPECT_EQ(Get("/status").body, r.body) << "the page needs no source";
}

TEST_F(StatusRouteTest, StatusJsonIsForgeCtlStatsJsonWithRates) {
  const stats::Overview first = MadeUpOverview(status_.now_ns, 0);
  Reply r = GetStatus("/status.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.body, stats::FormatJson(first)) << "no rates on the first call";
  EXPECT_NE(r.body.find("\"rates\":null"), std::string::npos);

  status_.Advance(1000, 250);
  stats::Overview second = MadeUpOverview(status_.now_ns, 250);
  stats::AddRates(first, &second);
  r = GetStatus("/status.json");
  EXPECT_EQ(r.body, stats::FormatJson(second));
  EXPECT_NE(r.body.find("\"served_per_s\":250,"), std::string::npos) << r.body;
}

TEST_F(StatusRouteTest, RatesSpanAtLeastHalfASecondHoweverOftenPolled) {
  (void)GetStatus("/status.json");
  status_.Advance(100, 10);
  EXPECT_NE(GetStatus("/status.json").body.find("\"rates\":null"),
            std::string::npos)
      << "0.1 s is too short to measure";
  status_.Advance(500, 50);  // 0.6 s after the first
  EXPECT_NE(GetStatus("/status.json").body.find("\"interval_ms\":600,"),
            std::string::npos);
  status_.Advance(100, 10);  // the last kept one is 0.1 s old: the first
  const std::string body = GetStatus("/status.json").body;
  EXPECT_NE(body.find("\"interval_ms\":700,"), std::string::npos) << body;
  EXPECT_NE(body.find("\"served_per_s\":100,"), std::string::npos) << body;
}

TEST_F(StatusRouteTest, UnreadableSegmentIs503JsonAndRatesRestart) {
  (void)GetStatus("/status.json");
  status_.missing = true;
  status_.Advance(1000, 0);
  const Reply r = GetStatus("/status.json");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.Header("Retry-After"), "1");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.body, "{\"error\":\"no segment \\\"test\\\" yet\"}\n");
  status_.missing = false;
  status_.Advance(1000, 0);
  EXPECT_NE(GetStatus("/status.json").body.find("\"rates\":null"),
            std::string::npos);
}

TEST_F(StatusRouteTest, WithoutASourceStatusJsonIs503) {
  const Reply r = Get("/status.json");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

TEST_F(StatusRouteTest, StatusRoutesIgnoreNsAndCountInDefault) {
  const std::size_t before = backend_.requests();
  EXPECT_EQ(GetStatus("/status", {{"ns", "not a name!"}}).status, 200);
  EXPECT_EQ(GetStatus("/status.json", {{"ns", "x"}, {"ns", "y"}}).status, 200);
  EXPECT_EQ(backend_.requests(), before + 2);
  EXPECT_EQ(backend_.take_calls(), 0u);
}

TEST_F(RouterTest, EmptyRingIs503WithRetryAfterAndTheReason) {
  backend_.SetKeysLeft(0);
  Snapshot s = HealthySnapshot();
  s.broker_alive = false;
  backend_.SetSnapshot(s);
  for (const char* path : {"/get-key", "/get-keys"}) {
    const Reply r = Get(path, {{"count", "3"}});
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.Header("Retry-After"), "1");
    EXPECT_EQ(r.body,
              "no broker is running on segment 'test' (start "
              "forge-broker with SHM_NAME=test)\n");
  }
  EXPECT_EQ(backend_.unavailable(), 2u);
}

TEST(UnavailableReasonTest, NamesEachCause) {
  Snapshot s = HealthySnapshot();
  s.attached = false;
  EXPECT_EQ(UnavailableReason(s).rfind("broker not started", 0), 0u);
  s = HealthySnapshot();
  s.broker_state = shm::BrokerState::kExhausted;
  s.broker_alive = false;  // exhausted wins over "no broker"
  EXPECT_EQ(UnavailableReason(s).rfind("key space exhausted", 0), 0u);
  s = HealthySnapshot();
  s.broker_alive = false;
  EXPECT_EQ(UnavailableReason(s).rfind("no broker is running", 0), 0u);
  s = HealthySnapshot();
  s.broker_state = shm::BrokerState::kStoreError;
  EXPECT_EQ(UnavailableReason(s).rfind("store error", 0), 0u);
  EXPECT_NE(UnavailableReason(s).find("sqlite:/tmp/x.db"), std::string::npos);
  s = HealthySnapshot();
  s.ring_fill = 0;
  EXPECT_EQ(UnavailableReason(s).rfind("the ring is empty", 0), 0u);
}

TEST_F(RouterTest, HealthzIsOkOnlyWithAliveBrokerAndKeys) {
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/healthz").body, "ok\n");
  Snapshot s = HealthySnapshot();
  s.ring_fill = 0;
  backend_.SetSnapshot(s);
  EXPECT_EQ(Get("/healthz").status, 503);
  s = HealthySnapshot();
  s.broker_alive = false;
  backend_.SetSnapshot(s);
  const Reply r = Get("/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("no broker is running", 0), 0u);
  EXPECT_EQ(backend_.take_calls(), 0u) << "health checks claim no key";
}

TEST_F(RouterTest, MetricsIsPrometheusTextOfTheSnapshot) {
  const Reply r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kPrometheusText);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, FormatMetrics(testing::AsDefault(HealthySnapshot())));
  EXPECT_EQ(backend_.take_calls(), 0u) << "metrics claim no key";
}

TEST(SanitizeTest, ReplacesControlBytesAndTruncates) {
  EXPECT_EQ(Sanitize("a\r\nb"), "a??b");
  EXPECT_EQ(Sanitize(std::string(10, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace forge::frontend
