// Namespaces through the real forge-frontend (issue 13): the real broker
// serves "default"; the test plays the broker of other namespaces by
// creating their segments itself (tests/frontend/fake_broker.h), since a
// namespace segment is all the frontend looks at. Covers ?ns= on every
// route, 400/404, a segment that appears while the frontend runs, worker
// slots per segment, /healthz per namespace and the namespace label.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "base/names.h"
#include "tests/frontend/fake_broker.h"
#include "tests/frontend/ops_fixture.h"

namespace forge::ops {
namespace {

using frontend::testing::FakeBroker;

// Sum of the samples of `family` labelled namespace="ns".
double SumIn(const Exposition& e, const std::string& family,
             const std::string& ns) {
  const std::string prefix = family + "{namespace=\"" + ns + "\"";
  double sum = 0;
  for (const auto& [key, value] : e.samples) {
    if (key.starts_with(prefix)) sum += value;
  }
  return sum;
}

// The pids of the live workers holding a stats slot in namespace `ns`.
std::set<double> PidsIn(const Exposition& e, const std::string& ns) {
  std::set<double> pids;
  // Labels in any order (the parser sorts them: kind, namespace, slot).
  const std::string label = "namespace=\"" + ns + "\"";
  for (const auto& [key, value] : e.samples) {
    if (key.starts_with("forge_worker_pid{") &&
        key.find(label) != std::string::npos) {
      pids.insert(value);
    }
  }
  return pids;
}

class NamespaceProcessTest : public OpsProcessTest {
 protected:
  std::string SegmentOf(const std::string& ns) const {
    return base::NamespaceSegmentName(shm(), ns);
  }
};

TEST_F(NamespaceProcessTest, EachNamespaceServesItsOwnKeysAndCounts) {
  StartBoth();
  ASSERT_TRUE(WaitWorkersAttached());
  FakeBroker invites(SegmentOf("invites"), 10);
  invites.Push(0, 100);

  HttpResponse r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(IsKey(r.body)) << "default: 7 characters, as before";
  r = Get(port(), "/get-key?ns=invites");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "K000000000");
  r = Get(port(), "/get-keys?ns=invites&count=5");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Lines(r.body),
            (std::vector<std::string>{"K000000001", "K000000002", "K000000003",
                                      "K000000004", "K000000005"}));

  // Every worker's requests count in the segment of their namespace.
  const Exposition before = Scrape();
  constexpr int kRequests = 12;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(Get(port(), "/get-key?ns=invites").body.size(), 10u);
    EXPECT_EQ(Get(port(), "/get-key").status, 200);
  }
  const Exposition after = Scrape();
  EXPECT_EQ(SumIn(after, "forge_http_requests_total", "invites"),
            SumIn(before, "forge_http_requests_total", "invites") + kRequests);
  EXPECT_EQ(SumIn(after, "forge_keys_served_total", "invites"), 6 + kRequests);
  EXPECT_EQ(SumIn(after, "forge_keys_served_total", "default"),
            SumIn(before, "forge_keys_served_total", "default") + kRequests);
  EXPECT_EQ(after.samples.at(R"(forge_ring_fill{namespace="invites"})"),
            100 - 6 - kRequests);
  EXPECT_EQ(after.samples.at(R"(forge_key_space_size{namespace="default"})"),
            3521614606208.0);
  const std::set<double> invites_pids = PidsIn(after, "invites");
  const std::set<double> default_pids = PidsIn(after, "default");
  EXPECT_FALSE(invites_pids.empty());
  for (const double pid : invites_pids) {
    EXPECT_EQ(default_pids.count(pid), 1u)
        << "worker " << pid << " holds a slot in both segments";
  }
  EXPECT_EQ(default_pids.size(), std::size_t{kWorkers});
}

TEST_F(NamespaceProcessTest, BadAndUnknownNamespacesAndPerNamespaceHealth) {
  StartBoth();
  FakeBroker invites(SegmentOf("invites"), 10);
  invites.Push(0, 10);
  HttpResponse r = Get(port(), "/get-key?ns=orders");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "namespace \"orders\" is not served here; served: default, "
            "invites\n");
  for (const char* target :
       {"/get-key?ns=Bad", "/get-key?ns=", "/get-keys?ns=a&ns=b&count=1",
        "/healthz?ns=x%40y"}) {
    r = Get(port(), target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find(base::kNamespaceRule), std::string::npos) << r.body;
  }
  invites.Beat(shm::BrokerState::kRunning);
  EXPECT_EQ(Get(port(), "/healthz?ns=invites").status, 200);
  EXPECT_EQ(Get(port(), "/healthz").status, 200);
  // The invites broker stops beating: only invites is unhealthy.
  invites.Beat(shm::BrokerState::kRunning, 3'600'000'000'000ULL);
  r = Get(port(), "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("namespace \"invites\": no broker is running", 0), 0u)
      << r.body;
  EXPECT_EQ(Get(port(), "/healthz?ns=invites").status, 503);
  EXPECT_EQ(Get(port(), "/healthz?ns=default").status, 200);
  EXPECT_EQ(Get(port(), "/get-key?ns=invites").status, 200)
      << "keys already in its ring are still served";
  const Exposition e = Scrape();
  EXPECT_EQ(e.samples.at(R"(forge_broker_up{namespace="invites"})"), 0);
  EXPECT_EQ(e.samples.at(R"(forge_broker_up{namespace="default"})"), 1);
}

TEST_F(NamespaceProcessTest, ASegmentCreatedLaterIsServedWithoutARestart) {
  StartBoth();
  EXPECT_EQ(Get(port(), "/get-key?ns=late").status, 404);
  FakeBroker late(SegmentOf("late"), 9);
  late.Push(0, 1000);
  // Every worker finds it (a worker remembers its miss for about a
  // second, then looks again): requests go on until each worker holds a
  // stats slot in the new segment, i.e. has attached it.
  const auto attached = [&] {
    std::size_t n = 0;
    for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
      n += late.seg.worker(i).pid.load() != 0 ? 1 : 0;
    }
    return n;
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        Get(port(), "/get-key?ns=late");
        return attached() == std::size_t{kWorkers};
      },
      kDeadline))
      << Logs();
  for (int i = 0; i < 4 * kWorkers; ++i) {
    const HttpResponse r = Get(port(), "/get-key?ns=late");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.size(), 9u) << r.body;
  }
  EXPECT_TRUE(frontend()->Running()) << "the same frontend process";
}

}  // namespace
}  // namespace forge::ops
