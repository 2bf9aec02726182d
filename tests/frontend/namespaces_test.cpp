// Namespaces in the frontend (issue 13): the Router's ns rules, scoped
// tokens and all-namespace /healthz and /metrics over fakes, and
// SegmentNamespaces over real segments (the test plays the broker).
#include "frontend/consumer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/names.h"
#include "frontend/handlers.h"
#include "frontend/metrics.h"
#include "tests/frontend/fake_backend.h"
#include "tests/frontend/fake_broker.h"
#include "tests/support/process.h"

namespace forge::frontend {
namespace {

using forge::testing::ShmName;
using forge::testing::WaitUntil;
using std::chrono::milliseconds;
using testing::FakeBackend;
using testing::FakeBroker;
using testing::FakeNamespaces;
using testing::HealthySnapshot;

constexpr const char* kAll = "all-namespaces-token-0123";
constexpr const char* kInvitesOnly = "invites-only-token-456789";

class NamespaceRouterTest : public ::testing::Test {
 protected:
  NamespaceRouterTest() {
    default_.SetSnapshot(HealthySnapshot());
    invites_.SetSnapshot(HealthySnapshot());
    invites_.SwapLengthAfterTake(10);
    namespaces_.Add("invites", invites_);
  }
  Reply Get(const Router& router, std::string_view path,
            const QueryParams& query, std::string_view authorization = {}) {
    return router.Handle("GET", path, query, authorization);
  }
  static AuthPolicy Scoped(bool protect_all = false) {
    return {.token = kAll,
            .protect_all = protect_all,
            .scoped = {{kInvitesOnly, {"invites"}}},
            .tokens_file = true};
  }

  FakeBackend default_;
  FakeBackend invites_;
  FakeNamespaces namespaces_{default_};
  Router open_{namespaces_, RouterLimits{100}};
  Router scoped_{namespaces_, RouterLimits{100}, Scoped()};
};

void ExpectOneLine(const Reply& r) {
  ASSERT_FALSE(r.body.empty());
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << r.body;
}

TEST_F(NamespaceRouterTest, NsPicksTheBackendAndCountsTheRequestThere) {
  Get(open_, "/get-key", {});  // the fake's first key is 7 characters
  Reply r = Get(open_, "/get-key", {{"ns", "invites"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "k000000");
  r = Get(open_, "/get-keys", {{"ns", "invites"}, {"count", "3"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "k000000001\nk000000002\nk000000003\n")
      << "the invites backend now hands out 10-character keys";
  EXPECT_EQ(Get(open_, "/get-key", {{"ns", "default"}}).body, "k000001");
  EXPECT_EQ(invites_.requests(), 2u);
  EXPECT_EQ(default_.requests(), 2u);
  EXPECT_EQ(invites_.take_calls(), 2u);
}

TEST_F(NamespaceRouterTest, BadEmptyOrRepeatedNsIs400NamingTheRule) {
  const QueryParams bad[] = {{{"ns", ""}},
                             {{"ns", "Invites"}},
                             {{"ns", "_x"}},
                             {{"ns", "a b"}},
                             {{"ns", std::string(33, 'a')}},
                             {{"ns", "invites"}, {"ns", "invites"}}};
  for (const char* path : {"/get-key", "/get-keys", "/healthz"}) {
    for (const QueryParams& q : bad) {
      const Reply r = Get(open_, path, q);
      EXPECT_EQ(r.status, 400) << path << " " << q.begin()->second;
      EXPECT_NE(r.body.find(base::kNamespaceRule), std::string::npos) << r.body;
      ExpectOneLine(r);
    }
  }
  EXPECT_NE(Get(open_, "/get-key", bad[5]).body.find("given 2 times"),
            std::string::npos);
  EXPECT_EQ(invites_.take_calls() + default_.take_calls(), 0u);
  EXPECT_EQ(Get(open_, "/metrics", bad[1]).status, 200) << "ns is not read";
}

TEST_F(NamespaceRouterTest, UnservedNsIs404ListingTheServedOnlyWithoutTokens) {
  Reply r = Get(open_, "/get-key", {{"ns", "orders"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "namespace \"orders\" is not served here; served: default, "
            "invites\n");
  EXPECT_EQ(Get(open_, "/healthz", {{"ns", "orders"}}).status, 404);
  r = Get(scoped_, "/get-key", {{"ns", "orders"}},
          std::string("Bearer ") + kAll);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "namespace \"orders\" is not served here\n");
  // A tokens file without a token in it still hides the list.
  const Router file_only(namespaces_, RouterLimits{100}, {.tokens_file = true});
  EXPECT_EQ(Get(file_only, "/get-key", {{"ns", "orders"}}).body,
            "namespace \"orders\" is not served here\n");
}

TEST_F(NamespaceRouterTest, ScopedTokensReachOnlyTheirNamespaces) {
  const std::string all = std::string("Bearer ") + kAll;
  const std::string invites = std::string("Bearer ") + kInvitesOnly;
  EXPECT_TRUE(scoped_.auth_enabled());
  // AUTH_TOKEN: every namespace.
  EXPECT_EQ(Get(scoped_, "/get-key", {}, all).status, 200);
  EXPECT_EQ(Get(scoped_, "/get-key", {{"ns", "invites"}}, all).status, 200);
  // The scoped token: its namespace only.
  EXPECT_EQ(Get(scoped_, "/get-key", {{"ns", "invites"}}, invites).status, 200);
  EXPECT_EQ(
      Get(scoped_, "/get-keys", {{"ns", "invites"}, {"count", "2"}}, invites)
          .status,
      200);
  for (const QueryParams& q : {QueryParams{}, QueryParams{{"ns", "default"}},
                               QueryParams{{"ns", "orders"}}}) {
    const Reply r = Get(scoped_, "/get-key", q, invites);
    EXPECT_EQ(r.status, 403) << "before 404: nothing is learnt of others";
    const std::string ns = q.empty() ? "default" : q.begin()->second;
    EXPECT_EQ(r.body.rfind("token may not use namespace \"" + ns + "\"", 0), 0u)
        << r.body;
    ExpectOneLine(r);
  }
  // Anything else: 401, and a bad ns is 400 before that.
  for (const std::string& wrong :
       {std::string(), std::string("Bearer invites-only-token-45678"),
        std::string("Bearer ") + kInvitesOnly + "0"}) {
    const Reply r = Get(scoped_, "/get-key", {{"ns", "invites"}}, wrong);
    EXPECT_EQ(r.status, 401) << wrong;
    EXPECT_EQ(r.body.find(kInvitesOnly), std::string::npos) << "never echoed";
  }
  EXPECT_EQ(Get(scoped_, "/get-key", {{"ns", "Bad!"}}, "").status, 400);
  // /healthz and /metrics stay open unless AUTH_PROTECT_ALL.
  EXPECT_EQ(Get(scoped_, "/healthz", {{"ns", "default"}}).status, 200);
  const Router protect(namespaces_, RouterLimits{100}, Scoped(true));
  EXPECT_EQ(Get(protect, "/metrics", {}, invites).status, 200);
  EXPECT_EQ(Get(protect, "/healthz", {{"ns", "invites"}}, invites).status, 200);
  EXPECT_EQ(Get(protect, "/healthz", {{"ns", "default"}}, invites).status, 403);
  EXPECT_EQ(Get(protect, "/metrics", {}).status, 401);
}

TEST_F(NamespaceRouterTest, ScopedTokensAloneTurnAuthenticationOn) {
  const Router only_scoped(namespaces_, RouterLimits{100},
                           {.scoped = {{kInvitesOnly, {"invites"}}}});
  EXPECT_TRUE(only_scoped.auth_enabled());
  EXPECT_EQ(Get(only_scoped, "/get-key", {{"ns", "invites"}}).status, 401);
  EXPECT_EQ(Get(only_scoped, "/get-key", {{"ns", "invites"}},
                std::string("Bearer ") + kInvitesOnly)
                .status,
            200);
}

TEST_F(NamespaceRouterTest, HealthzChecksEveryServedNamespaceOrTheOneAsked) {
  EXPECT_EQ(Get(open_, "/healthz", {}).status, 200);
  Snapshot empty = HealthySnapshot();
  empty.ring_fill = 0;
  invites_.SetSnapshot(empty);
  Reply r = Get(open_, "/healthz", {});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("namespace \"invites\": the ring is empty", 0), 0u)
      << r.body;
  ExpectOneLine(r);
  EXPECT_EQ(Get(open_, "/healthz", {{"ns", "default"}}).status, 200);
  EXPECT_EQ(Get(open_, "/healthz", {{"ns", "invites"}}).status, 503);
}

TEST_F(NamespaceRouterTest, MetricsLabelEveryNamespace) {
  Snapshot s = HealthySnapshot();
  s.ring_fill = 7;
  invites_.SetSnapshot(s);
  const Reply r = Get(open_, "/metrics", {});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("forge_ring_fill{namespace=\"default\"} 100\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("forge_ring_fill{namespace=\"invites\"} 7\n"),
            std::string::npos);
  EXPECT_NE(
      r.body.find(
          "forge_keys_served_total{namespace=\"invites\",slot=\"4\"} 50\n"),
      std::string::npos);
  EXPECT_EQ(r.body.find("forge_ring_fill 100"), std::string::npos)
      << "no unlabelled per-namespace sample";
}

// ---- SegmentNamespaces over real segments ----

SegmentBackendOptions Options(const ShmName& name) {
  return {name.str(), milliseconds(100), ::getppid()};
}

std::size_t SlotsOf(const shm::Segment& seg, pid_t pid) {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
    n += seg.worker(i).pid.load() == pid ? 1 : 0;
  }
  return n;
}

TEST(SegmentNamespacesTest, AttachesANamespaceOnFirstUseAndClaimsASlotInIt) {
  ShmName name;
  FakeBroker def(name.str());
  FakeBroker invites(base::NamespaceSegmentName(name.str(), "invites"), 10);
  def.Push(0, 3);
  invites.Push(0, 3);
  SegmentNamespaces namespaces(Options(name));
  EXPECT_TRUE(namespaces.Maintain());
  EXPECT_EQ(SlotsOf(invites.seg, ::getpid()), 0u) << "not before a request";
  const NamespaceLookup found = namespaces.Find("invites");
  ASSERT_NE(found.backend, nullptr);
  EXPECT_EQ(namespaces.Find("invites").backend, found.backend) << "kept";
  KeyBuffer key;
  const TakenKeys taken = found.backend->TakeKeys(key, 1);
  ASSERT_EQ(taken.count, 1u);
  EXPECT_EQ(taken.key_length, 10u);
  EXPECT_EQ(key.Text(0, taken.key_length), "K000000000");
  EXPECT_EQ(SlotsOf(invites.seg, ::getpid()), 1u);
  EXPECT_EQ(SlotsOf(def.seg, ::getpid()), 1u);
  EXPECT_EQ(namespaces.Served(),
            (std::vector<std::string>{"default", "invites"}));
  EXPECT_EQ(namespaces.Find("default").backend, &namespaces.default_backend());
}

// At the attach limit only a namespace that has a segment is "full"
// (503); a name with no segment is still unknown (404).
TEST(SegmentNamespacesTest, AtTheLimitAnUnknownNamespaceIsStillUnknown) {
  ShmName name;
  FakeBroker a(base::NamespaceSegmentName(name.str(), "a"));
  FakeBroker b(base::NamespaceSegmentName(name.str(), "b"));
  SegmentNamespaces namespaces(Options(name), /*max_attached=*/1);
  ASSERT_NE(namespaces.Find("a").backend, nullptr);
  const NamespaceLookup unknown = namespaces.Find("nosuch");
  EXPECT_EQ(unknown.backend, nullptr);
  EXPECT_FALSE(unknown.full);
  const NamespaceLookup over = namespaces.Find("b");
  EXPECT_EQ(over.backend, nullptr);
  EXPECT_TRUE(over.full);
  EXPECT_NE(namespaces.Find("a").backend, nullptr) << "kept";
}

TEST(SegmentNamespacesTest, ASegmentCreatedLaterIsFoundWithoutARestart) {
  ShmName name;
  SegmentNamespaces namespaces(Options(name));
  EXPECT_EQ(namespaces.Find("late").backend, nullptr);
  EXPECT_FALSE(namespaces.Find("late").full);
  EXPECT_NE(namespaces.Find("default").backend, nullptr)
      << "default is always there, detached until its broker comes";
  EXPECT_EQ(namespaces.Served(), std::vector<std::string>{"default"});
  FakeBroker late(base::NamespaceSegmentName(name.str(), "late"));
  late.Push(0, 1);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return namespaces.Find("late").backend; },
                        milliseconds(10000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            kMissMemory + milliseconds(2000))
      << "a miss is remembered for about a second, no longer";
}

TEST(SegmentNamespacesTest, MaintainFollowsAReplacedNamespaceSegment) {
  ShmName name;
  const std::string seg = base::NamespaceSegmentName(name.str(), "invites");
  auto first = std::make_unique<FakeBroker>(seg, 8);
  first->Push(0, 1);
  SegmentNamespaces namespaces(Options(name));
  Backend* backend = namespaces.Find("invites").backend;
  ASSERT_NE(backend, nullptr);
  first.reset();
  ASSERT_EQ(::shm_unlink(shm::Segment::ObjectName(seg).c_str()), 0);
  FakeBroker second(seg, 9);
  second.Push(0, 1);
  namespaces.Maintain();  // the one timer: damage check, then re-attach
  ASSERT_TRUE(WaitUntil(
      [&] {
        namespaces.Maintain();
        return backend->Observe().key_length == 9;
      },
      milliseconds(10000)));
  KeyBuffer key;
  EXPECT_EQ(backend->TakeKeys(key, 1).key_length, 9u);
}

}  // namespace
}  // namespace forge::frontend
