// Fault suite, part 3 — key space exhaustion (docs/design.md §2.6): with
// KEY_LENGTH=2 the store holds 62^2 = 3,844 numbers. Drained through HTTP
// (a 256-slot ring fed by ranges of 100), exactly those 3,844 keys come
// out, each once; then every request is a 503 saying the key space is
// exhausted, forge-ctl says so, and nothing wraps — not later, not after
// a broker restart. Next to default the broker serves kTiny, a namespace
// of KEY_LENGTH=1 (62 keys, issue 13): each namespace runs dry on its own —
// default keeps serving while kTiny is used up, and kTiny serves all its
// keys after default is used up.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/ctl/mini_json.h"
#include "tests/integration/fault_fixture.h"
#include "tests/integration/proc_util.h"
#include "tests/support/chaos_client.h"
#include "tests/support/http_client.h"

namespace forge::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kKeyLength = 2;
constexpr std::uint64_t kSpace = 62 * 62;
constexpr const char* kTiny = "tiny";
constexpr int kTinyLength = 1;
constexpr std::uint64_t kTinySpace = 62;
constexpr const char* kExhausted = "key space exhausted";
// Longer than the broker's exhausted_recheck (1 s): it asks the store
// again at least once while the test keeps asking for keys.
constexpr milliseconds kKeepAsking{1500};

// `target` asked of namespace `ns` ("" = default, no ns parameter).
std::string InNamespace(const std::string& target, const std::string& ns) {
  if (ns.empty()) return target;
  const std::size_t q = target.find('?');
  return q == std::string::npos ? target + "?ns=" + ns
                                : target.substr(0, q + 1) + "ns=" + ns + "&" +
                                      target.substr(q + 1);
}

// 0, 1, ..., n - 1: every number of a key space.
std::vector<std::uint64_t> Space(std::uint64_t n) {
  std::vector<std::uint64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  return all;
}

class ExhaustionTest : public FaultFixture {
 protected:
  // kTiny has a 16-slot ring: its 62 keys take several refills.
  void SetUp() override { Declare({{kTiny, kTinyLength, "sequential", 16}}); }

  Env SmallSpaceEnv() const {
    return {{"KEY_LENGTH", std::to_string(kKeyLength)},
            {"POOL_CAPACITY", "256"},
            {"RANGE_SIZE", "100"},
            {"WORKERS", "2"},
            {"EMPTY_WAIT_MS", "100"}};
  }

  // The i-th request of the drain (of namespace `ns`, "" = default):
  // single keys and batches of many sizes, some larger than the ring.
  static std::string Target(std::size_t i, const std::string& ns = "") {
    static const char* const kTargets[] = {"/get-key",
                                           "/get-keys?count=37",
                                           "/get-keys?count=100",
                                           "/get-keys?count=300",
                                           "/get-keys?count=1",
                                           "/get-keys?count=999"};
    return InNamespace(kTargets[i % std::size(kTargets)], ns);
  }

  // Lines of a 200 body.
  static void AddKeys(const std::string& body, std::vector<std::string>* out) {
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) out->push_back(line);
  }

  // A 503 whose body says the key space is exhausted.
  static ::testing::AssertionResult IsExhausted(const HttpResponse& r) {
    if (r.status == 503 && r.body.rfind(kExhausted, 0) == 0 &&
        r.Header("Retry-After") != "") {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "status " << r.status << " body '" << r.body << "' " << r.error;
  }

  // `forge-ctl stats --json`; an empty object if it failed.
  json::Value CtlStats() {
    const RunResult ctl =
        testing::Run({Bin("forge-ctl"), "stats", "--json", "--interval", "0"},
                     MakeEnv(), kFaultDeadline, dir().path());
    EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
    auto parsed = json::Parse(ctl.out);
    EXPECT_TRUE(parsed.has_value()) << ctl.out;
    return parsed.value_or(json::Value{});
  }
  // A field of it ("" / -1 when absent).
  static std::string Text(const json::Value& v, std::string_view path) {
    const json::Value* f = v.At(path);
    return f != nullptr ? f->text : "";
  }
  static double Number(const json::Value& v, std::string_view path) {
    const json::Value* f = v.At(path);
    return f != nullptr ? f->number : -1;
  }

  // GET `target`, asked again while the answer is a 503 for any reason but
  // exhaustion (a ring that ran dry while the store commits: retry later).
  HttpResponse Ask(const std::string& target) {
    HttpResponse r;
    WaitUntil(
        [&] {
          r = Get(port(), target);
          return r.status != 503 || r.body.rfind(kExhausted, 0) == 0;
        },
        kFaultDeadline);
    return r;
  }

  // Every request for a while, in turn to each of `namespaces` ("" =
  // default): 503 exhausted, never a key.
  void ExpectExhaustedFor(milliseconds span,
                          const std::vector<std::string>& namespaces = {""}) {
    const auto until = Clock::now() + span;
    for (std::size_t i = 0; Clock::now() < until; ++i) {
      const std::string target =
          Target(i / namespaces.size(), namespaces[i % namespaces.size()]);
      const HttpResponse r = Get(port(), target);
      ASSERT_TRUE(IsExhausted(r)) << "request " << i << " " << target;
    }
  }

  // Drains namespace `ns` ("" = default) until its first refusal, which
  // must say exhausted; no request may fail any other way. Between two
  // requests, `between` may ask something of another namespace.
  std::vector<std::string> Drain(const std::string& ns,
                                 const std::function<void()>& between = {}) {
    std::vector<std::string> keys;
    HttpResponse last;
    for (std::size_t i = 0; i < 2 * kSpace; ++i) {
      last = Ask(Target(i, ns));
      if (last.status != 200) break;
      AddKeys(last.body, &keys);
      if (between) between();
    }
    EXPECT_TRUE(IsExhausted(last))
        << "namespace '" << ns << "': " << keys.size() << " keys before it";
    return keys;
  }
};

TEST_F(ExhaustionTest, ExactlyEveryKeyOnceThenExhaustedForGood) {
  Process broker = StartBroker(SmallSpaceEnv());
  Process frontend = StartFrontend(SmallSpaceEnv());
  ASSERT_TRUE(WaitHealthy()) << frontend.Stderr() << broker.Stderr();

  // kTiny runs dry first, while default keeps serving between its
  // requests and after it is used up.
  std::vector<std::string> keys;
  std::size_t default_asks = 0;
  const std::vector<std::string> tiny = Drain(kTiny, [&] {
    const HttpResponse r = Ask(Target(default_asks++));
    EXPECT_EQ(r.status, 200) << "default while tiny runs dry: " << r.body;
    AddKeys(r.body, &keys);
  });
  EXPECT_EQ(Numbers(tiny, kTinyLength), Space(kTinySpace))
      << tiny.size() << " keys of " << kTiny;
  EXPECT_EQ(Get(port(), InNamespace("/healthz", kTiny)).status, 503);
  // (Default's ring may be refilling after a batch: healthy again soon.)
  EXPECT_TRUE(WaitUntil(
      [&] { return Get(port(), "/healthz?ns=default").status == 200; },
      kFaultDeadline));

  // Then default, until its first refusal.
  const std::vector<std::string> rest = Drain("");
  keys.insert(keys.end(), rest.begin(), rest.end());

  // Exactly the whole space, each number once: no gap, no repeat.
  EXPECT_EQ(Numbers(keys, kKeyLength), Space(kSpace))
      << keys.size() << " keys received";

  const json::Value stats = CtlStats();
  EXPECT_EQ(Text(stats, "broker.state"), "exhausted");
  EXPECT_EQ(Number(stats, "key_space.used"), kSpace);
  EXPECT_EQ(Number(stats, "key_space.used_fraction"), 1.0);
  EXPECT_EQ(Number(stats, "key_space.remaining"), 0);
  EXPECT_EQ(Text(stats, "key_space.exhaustion.state"), "used_up");
  EXPECT_EQ(Get(port(), "/healthz").status, 503);

  // Nothing wraps, in either namespace, while the broker rechecks the
  // store...
  ASSERT_NO_FATAL_FAILURE(ExpectExhaustedFor(kKeepAsking, {"", kTiny}));
  EXPECT_TRUE(broker.Running()) << "an exhausted broker keeps its heartbeat";
  // ...nor when a new broker starts on the used-up store.
  broker.Kill();
  broker = StartBroker(SmallSpaceEnv());
  ASSERT_TRUE(WaitUntil(
      [&] {
        const json::Value now = CtlStats();
        return Text(now, "broker.state") == "exhausted" &&
               Number(now, "broker.pid") == broker.pid();
      },
      kFaultDeadline))
      << broker.Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectExhaustedFor(kKeepAsking, {"", kTiny}));
  broker.Signal(SIGTERM);
  EXPECT_EQ(broker.Wait(kFaultDeadline), 0) << broker.Stderr();
  EXPECT_EQ(StoreCounter(), kSpace) << "the counter never wraps";
  EXPECT_EQ(StoreCounter(kTiny), kTinySpace) << "the counter never wraps";
}

// Many keep-alive clients drain at once, so the ring runs dry again and
// again while the broker still pushes its last numbers in hand.
// "Exhausted" means no more keys will come: no request sent after the
// first such answer (in the same namespace) may get a key. A few clients
// drain kTiny at the same time.
TEST_F(ExhaustionTest, ConcurrentDrainSaysExhaustedOnlyAfterTheLastKey) {
  // A 16-slot ring: the last range in hand needs many refills to get out.
  Env env = SmallSpaceEnv();
  env["POOL_CAPACITY"] = "16";
  Process broker = StartBroker(env);
  Process frontend = StartFrontend(env);
  ASSERT_TRUE(WaitHealthy()) << frontend.Stderr() << broker.Stderr();
  ChaosLoadOptions o;
  o.port = port();
  o.connections = 32;
  // Every eighth connection asks kTiny.
  const auto ns_of = [](std::size_t conn) {
    return conn % 8 == 7 ? std::string(kTiny) : std::string();
  };
  // Batches larger than the ring empty it at every request.
  o.target = [ns_of](std::size_t conn, std::size_t n) {
    return (conn + n) % 2 == 0 ? InNamespace("/get-keys?count=999", ns_of(conn))
                               : Target(conn + n, ns_of(conn));
  };
  // Each client stops at "exhausted"; a 503 because the tiny ring ran dry
  // (demand above supply) is only a reason to ask again.
  o.is_final = [](int status, std::string_view body) {
    return status == 503 && body.rfind(kExhausted, 0) == 0;
  };
  o.timeline = true;
  const ChaosLoadResult r = RunChaosLoad(o);
  ASSERT_EQ(r.Status(200) + r.Status(503), r.completed) << r.Summary();
  std::map<std::string, Clock::time_point> first_refusal;  // by namespace
  std::size_t refusals = 0;
  for (const AnsweredRequest& a : r.answers) {
    if (!a.final) continue;
    const auto [it, fresh] =
        first_refusal.emplace(ns_of(a.connection), a.answered);
    it->second = std::min(it->second, a.answered);
    ++refusals;
  }
  ASSERT_EQ(refusals, o.connections) << r.Summary();
  std::map<std::string, std::size_t> late_keys;
  for (const AnsweredRequest& a : r.answers) {
    const std::string ns = ns_of(a.connection);
    if (a.status == 200 && a.sent > first_refusal[ns]) late_keys[ns] += a.keys;
  }
  EXPECT_EQ(late_keys, (std::map<std::string, std::size_t>{}))
      << "keys came after a client was told the key space is exhausted";
  std::vector<std::string> tiny;
  std::vector<std::string> keys;
  for (const std::string& k : r.keys) {
    (k.size() == kTinyLength ? tiny : keys).push_back(k);
  }
  EXPECT_EQ(Numbers(keys, kKeyLength), Space(kSpace)) << r.Summary();
  EXPECT_EQ(Numbers(tiny, kTinyLength), Space(kTinySpace)) << r.Summary();
}

// The broker is paused (SIGSTOP: descheduled, swapped out, in a debugger)
// the moment the segment says "exhausted". Whatever it still held must
// already be in the ring: the first refusal comes after the last key.
TEST_F(ExhaustionTest, APausedBrokerNeverMakesExhaustedComeEarly) {
  Process broker = StartBroker(SmallSpaceEnv());
  Process frontend = StartFrontend(SmallSpaceEnv());
  ASSERT_TRUE(WaitHealthy()) << frontend.Stderr() << broker.Stderr();
  std::vector<std::string> keys;
  bool frozen = false;
  HttpResponse last;
  for (std::size_t i = 0; i < 2 * kSpace; ++i) {
    last = Ask("/get-keys?count=37");
    if (last.status != 200) break;
    AddKeys(last.body, &keys);
    if (!frozen && BrokerStateNow() == shm::BrokerState::kExhausted) {
      ASSERT_TRUE(FreezeProcess(broker.pid(), kFaultDeadline));
      frozen = true;
      std::cout << "paused the broker after " << keys.size() << " keys, "
                << ProducedTotal() << " pushed\n";
    }
  }
  ASSERT_TRUE(frozen);
  EXPECT_TRUE(IsExhausted(last));
  EXPECT_EQ(keys.size(), kSpace) << "said exhausted before the last key";
  broker.Signal(SIGCONT);
  // The resumed broker still has nothing more to give.
  ASSERT_NO_FATAL_FAILURE(ExpectExhaustedFor(milliseconds(300)));
  EXPECT_EQ(ProducedTotal(), kSpace);

  // Default used up does not touch kTiny: it is healthy and serves every
  // one of its keys, then runs dry too.
  EXPECT_EQ(Get(port(), "/healthz").status, 503);
  EXPECT_TRUE(WaitUntil(
      [&] { return Get(port(), InNamespace("/healthz", kTiny)).status == 200; },
      kFaultDeadline));
  const std::vector<std::string> tiny = Drain(kTiny);
  EXPECT_EQ(Numbers(tiny, kTinyLength), Space(kTinySpace));
  EXPECT_EQ(ProducedTotal(kTiny), kTinySpace);
}

}  // namespace
}  // namespace forge::testing
