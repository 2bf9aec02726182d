// Process-level tests of forge-frontend: the real frontend (4 workers) and
// the real forge-broker with a SQLite store in a temporary directory, on a
// free loopback port and a unique segment. The test is the HTTP client.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "frontend/cpu_steer.h"
#include "frontend/event_loop.h"
#include "tests/frontend/tcp_probe.h"
#include "tests/integration/background_load.h"
#include "tests/integration/proc_util.h"
#include "tests/integration/stall_meter.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

using frontend::testing::ListenQueueLength;

constexpr auto kDeadline = milliseconds(20000);
constexpr int kWorkers = 4;

bool IsKey(const std::string& s) {
  return s.size() == 7 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                  (c >= 'a' && c <= 'z');
         });
}

// Every key in the 200 bodies (one key, or newline-terminated lines).
std::vector<std::string> KeysOf(const LoadResult& r) {
  std::vector<std::string> keys;
  for (const std::string& body : r.bodies_200) {
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) keys.push_back(line);
  }
  return keys;
}

// Asserts every key is well formed and none repeats; returns the count.
std::size_t ExpectUniqueKeys(const std::vector<std::string>& keys) {
  std::set<std::string> seen;
  std::size_t bad = 0;
  for (const std::string& k : keys) {
    if (!IsKey(k) && ++bad <= 3) ADD_FAILURE() << "malformed key '" << k << "'";
    if (!seen.insert(k).second) ADD_FAILURE() << "duplicate key " << k;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(seen.size(), keys.size());
  return seen.size();
}

// Sum of the values of the exposition lines that start with `prefix` (per
// slot samples: `forge_keys_served_total{slot="0"} 12`).
std::uint64_t SumOf(const std::string& metrics, const std::string& prefix) {
  std::uint64_t sum = 0;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) {
      sum += std::stoull(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

using base::AllowedCpus;

// /proc/PID/status's Cpus_allowed_list: "1" for a process pinned to CPU 1
// (for its main thread; `tid`: for that thread of it).
std::string CpusAllowed(pid_t pid, pid_t tid = 0) {
  std::ifstream in("/proc/" + std::to_string(pid) +
                   (tid == 0 ? "" : "/task/" + std::to_string(tid)) +
                   "/status");
  const std::string key = "Cpus_allowed_list:";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) {
      const std::size_t at = line.find_first_not_of(" \t", key.size());
      return at == std::string::npos ? "" : line.substr(at);
    }
  }
  return "";
}

int LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// The worker serving the connection whose client side is `client_port`,
// or 0 while none holds it.
pid_t HolderOf(const std::vector<pid_t>& workers, int server_port,
               int client_port) {
  for (const pid_t w : workers) {
    if (PeerPortsOf(w, server_port)
            .count(static_cast<std::uint16_t>(client_port)) != 0) {
      return w;
    }
  }
  return 0;
}

// Waits for a worker to hold connection `fd` (client side); 0 if none did.
pid_t AwaitHolder(const std::vector<pid_t>& workers, int server_port, int fd) {
  pid_t holder = 0;
  WaitUntil(
      [&] {
        holder = HolderOf(workers, server_port, LocalPort(fd));
        return holder != 0;
      },
      kDeadline);
  return holder;
}

// One keep-alive `GET /get-key` on connection `fd`: the response head and
// body (both empty if the connection failed).
struct Answered {
  std::string head, body;
};
Answered KeyOver(int fd) {
  const std::string request = "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return {};
  }
  std::string in;
  for (;;) {
    const std::size_t end = in.find("\r\n\r\n");
    const std::size_t length = in.find("Content-Length: ");
    if (end != std::string::npos && length < end) {
      const std::size_t size = std::stoul(in.substr(length + 16));
      if (in.size() >= end + 4 + size) {
        return {in.substr(0, end + 4), in.substr(end + 4, size)};
      }
    }
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return {};
    in.append(buf, static_cast<std::size_t>(n));
  }
}

class FrontendProcessTest : public ::testing::Test, public Stack {
 protected:
  FrontendProcessTest()
      : Stack({{"WORKERS", std::to_string(kWorkers)},
               {"HTTP_THREADS", "8"},
               {"RANGE_SIZE", "10000"},
               {"EMPTY_WAIT_MS", "200"}}) {}

  // Broker and frontend up, /healthz answering 200.
  void StartBoth(const Env& extra = {}) { ASSERT_TRUE(Up(extra)) << Logs(); }
  LoadOptions Load(std::size_t connections, std::size_t requests) const {
    return LoadOptions::On(port(), connections, requests, milliseconds(120000));
  }
};

// The seed's test: 100,000 GET /get-key from 1,000 keep-alive connections.
TEST_F(FrontendProcessTest, HundredThousandKeysFromAThousandConnections) {
  StartBoth();
  const LoadResult r = RunLoad(Load(1000, 100000));
  EXPECT_FALSE(r.timed_out) << r.Summary();
  EXPECT_EQ(r.Status(200), 100000u) << r.Summary();
  EXPECT_EQ(r.statuses.size(), 1u) << r.Summary();
  EXPECT_EQ(r.lost_in_flight, 0u) << r.Summary();
  EXPECT_EQ(r.connect_failures, 0u) << r.Summary();
  EXPECT_EQ(r.Starved(), 0u) << "every connection is served: " << r.Summary();
  EXPECT_EQ(ExpectUniqueKeys(KeysOf(r)), 100000u);
  EXPECT_EQ(frontend()->Stderr().find("WARN"), std::string::npos)
      << frontend()->Stderr();
}

TEST_F(FrontendProcessTest, BatchesMixedWithSinglesNeverRepeatAKey) {
  // Full batches are promised only while the ring can supply them within
  // EMPTY_WAIT_MS; a ring that holds the whole test's demand, and a long
  // wait, keep that true on a slow, loaded CI disk.
  StartBoth({{"POOL_CAPACITY", "524288"},
             {"RANGE_SIZE", "100000"},
             {"EMPTY_WAIT_MS", "5000"}});
  LoadOptions o = Load(40, 1200);
  o.target = [](std::size_t i) {
    return i % 4 == 0 ? std::string("/get-keys?count=1000")
                      : std::string("/get-key");
  };
  const LoadResult r = RunLoad(o);
  EXPECT_FALSE(r.timed_out) << r.Summary();
  EXPECT_EQ(r.Status(200), 1200u) << r.Summary();
  const std::vector<std::string> keys = KeysOf(r);
  EXPECT_EQ(keys.size(), 300u * 1000 + 900) << "full batches";
  ExpectUniqueKeys(keys);
}

// A 7-character key as one number, for sorting millions of them cheaply.
std::uint64_t Packed(const std::string& key) {
  std::uint64_t v = 0;
  for (const char c : key) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// Issue 10.1: a batch claim used to copy all N slots, then CAS once, and
// start over whenever a single pop claimed first; with N = 10^6 (a copy of
// about a millisecond) and steady /get-key traffic it never completed. Now
// it claims in chunks with a deadline between them: every batch answers
// within EMPTY_WAIT_MS + 1 s (up to N keys, X-Key-Count says how many),
// and no key is handed out twice across batches and singles.
TEST_F(FrontendProcessTest, MillionKeyBatchesAnswerInTimeUnderSingleKeyLoad) {
  constexpr auto kEmptyWait = milliseconds(200);
  constexpr auto kRun = milliseconds(8000);
  constexpr std::size_t kBatch = 1'000'000;
  StartBoth({{"MAX_BATCH", std::to_string(kBatch)},
             {"POOL_CAPACITY", "2097152"},  // 2^21
             {"RANGE_SIZE", "1000000"},
             {"EMPTY_WAIT_MS", std::to_string(kEmptyWait.count())}});
  // 64 keep-alive connections hammer /get-key until the batches are done.
  testing::StallMeter stalls;
  testing::ChaosLoadOptions o;
  o.port = port();
  o.connections = 64;
  testing::BackgroundLoad load(o);
  ASSERT_TRUE(
      WaitUntil([&] { return load.progress().ok.load() >= 1000; }, kDeadline));

  std::vector<std::uint64_t> keys;
  std::vector<milliseconds> took;
  std::size_t short_batches = 0;
  const auto end = Clock::now() + kRun;
  while (Clock::now() < end && took.size() < 20) {
    const auto start = Clock::now();
    const auto r = Get(port(), "/get-keys?count=" + std::to_string(kBatch),
                       milliseconds(30000));
    took.push_back(
        std::chrono::duration_cast<milliseconds>(Clock::now() - start));
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    if (r.status != 200) break;  // timings still get reported below
    std::size_t lines = 0;
    for (std::size_t at = 0; at < r.body.size(); at += 8, ++lines) {
      const std::string key = r.body.substr(at, 7);
      ASSERT_TRUE(IsKey(key) && r.body[at + 7] == '\n') << "at byte " << at;
      keys.push_back(Packed(key));
    }
    EXPECT_EQ(r.Header("X-Key-Count"), std::to_string(lines));
    short_batches += lines < kBatch ? 1 : 0;
  }
  const testing::ChaosLoadResult& singles = load.Finish();
  stalls.Stop();

  const milliseconds longest = *std::max_element(took.begin(), took.end());
  std::cout << "[ batches  ] " << took.size() << " batches of up to " << kBatch
            << " keys (" << short_batches << " short), longest answer "
            << longest.count() << " ms, worst machine stall "
            << stalls.worst().count() << " us; singles: " << singles.Summary()
            << "\n";
  EXPECT_GE(took.size(), 3u);
  // The bound allows for what the machine itself stalled every thread by,
  // and for time-slicing: on 2 cores the answering thread shares the CPU
  // with ~130 runnable threads (64 hammering clients, their 64 server
  // threads), which a sleeping stall meter does not see. Measured here:
  // 0.85-1.6 s after the fix, 10-12 s before it (a batch copied again
  // after every competing pop).
  constexpr milliseconds kTimeSlicing{1000};
  EXPECT_LT(longest,
            kEmptyWait + milliseconds(1000) + kTimeSlicing +
                std::chrono::duration_cast<milliseconds>(stalls.worst()));
  EXPECT_GT(singles.Status(200), 1000u) << singles.Summary();
  EXPECT_EQ(singles.lost.size(), 0u) << singles.Summary();
  for (const std::string& key : singles.keys) {
    ASSERT_TRUE(IsKey(key)) << key;
    keys.push_back(Packed(key));
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end())
      << "a key was handed out twice";
}

TEST_F(FrontendProcessTest, EmptyRingAnswers503InTimeAndRecoversWithTheBroker) {
  StartBoth({{"POOL_CAPACITY", "1024"}});
  broker()->Signal(SIGTERM);
  ASSERT_EQ(broker()->Wait(kDeadline), 0) << broker()->Stderr();
  // Drain what the ring still holds.
  ASSERT_TRUE(WaitUntil(
      [&] { return Get(port(), "/get-keys?count=10000").status == 503; },
      kDeadline));
  const auto start = Clock::now();
  const auto r = Get(port(), "/get-key");
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.status, 503) << r.error;
  EXPECT_EQ(r.Header("Retry-After"), "1");
  EXPECT_EQ(r.body, "no broker is running on segment '" + shm() +
                        "' (start forge-broker with SHM_NAME=" + shm() + ")\n");
  EXPECT_GE(took, milliseconds(190)) << "waited EMPTY_WAIT_MS for keys";
  EXPECT_LT(took, milliseconds(200 + 500)) << "then answered promptly";
  EXPECT_EQ(Get(port(), "/healthz").status, 503);
  // Many clients wait at once, not one after another: the event loop hands
  // a request that would wait to a thread (12 per worker in a row would
  // take 2.4 s).
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  const auto many = Clock::now();
  for (int i = 0; i < 48; ++i) {
    clients.emplace_back([&] {
      const auto got = RawRequest(
          port(), "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n", kDeadline);
      if (got.status == 503) ++answered;
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(answered.load(), 48);
  EXPECT_LT(Clock::now() - many, milliseconds(1500)) << "the waits overlapped";

  broker().emplace(StartBroker({{"POOL_CAPACITY", "1024"}}));
  EXPECT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status == 200; },
                        kDeadline))
      << broker()->Stderr();
  EXPECT_TRUE(frontend()->Running()) << "served again without a restart";
}

TEST_F(FrontendProcessTest, StartsBeforeItsBrokerAndServesOnceItComes) {
  frontend().emplace(StartFrontend());
  ASSERT_TRUE(WaitUntil([&] { return Get(port(), "/get-key").status != 0; },
                        kDeadline));
  const auto r = Get(port(), "/get-key");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("broker not started", 0), 0u) << r.body;
  EXPECT_EQ(Get(port(), "/healthz").status, 503);
  broker().emplace(StartBroker());
  EXPECT_TRUE(WaitHealthy()) << frontend()->Stderr();
  EXPECT_TRUE(IsKey(Get(port(), "/get-key").body));
}

// Started together, the broker may create its segment a few ms after the
// workers look for it: they wait up to EMPTY_WAIT_MS for it before they
// accept, so a request that came first is answered with a key, not 503
// "broker not started" (which sent the bench's first client round again).
TEST_F(FrontendProcessTest, ARequestThatCameBeforeTheBrokerGetsAKey) {
  frontend().emplace(StartFrontend({{"EMPTY_WAIT_MS", "60000"}}));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return frontend()->Stderr().find("serving http") != std::string::npos;
      },
      kDeadline));
  HttpResponse first;
  std::thread client([&] {
    first = RawRequest(port(), "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n",
                       kDeadline);
  });
  // Queued, not answered: no worker accepts before the segment exists.
  const bool queued =
      WaitUntil([&] { return ListenQueueLength(port()) == 1; }, kDeadline);
  broker().emplace(StartBroker());
  client.join();
  ASSERT_TRUE(queued) << frontend()->Stderr();
  EXPECT_EQ(first.status, 200) << first.body << first.error;
  EXPECT_TRUE(IsKey(first.body)) << first.body;
}

// The frontend never touches the store: neither the master nor a worker
// maps libpq (pq/libpq.h), so their exec and fork cost less.
TEST_F(FrontendProcessTest, NoProcessOfItMapsLibpq) {
  StartBoth();
  const pid_t master = frontend()->pid();
  ASSERT_TRUE(WaitUntil([&] { return WorkerPids(master).size() == kWorkers; },
                        kDeadline));
  std::vector<pid_t> pids = WorkerPids(master);
  pids.push_back(master);
  for (const pid_t pid : pids) {
    EXPECT_TRUE(MapsLibrary(pid, "libc.so")) << pid;
    EXPECT_FALSE(MapsLibrary(pid, "libpq.so")) << pid;
  }
}

TEST_F(FrontendProcessTest, AKilledWorkerIsReplacedAndTheLoadGoesOn) {
  StartBoth();
  const pid_t master = frontend()->pid();
  ASSERT_TRUE(WaitUntil([&] { return WorkerPids(master).size() == kWorkers; },
                        kDeadline));
  const std::vector<pid_t> before = WorkerPids(master);
  std::atomic<std::size_t> progress{0};
  LoadOptions o = Load(200, 60000);
  o.progress = &progress;
  LoadResult r;
  std::thread load([&] { r = RunLoad(o); });
  ASSERT_TRUE(WaitUntil([&] { return progress.load() >= 5000; }, kDeadline));
  const pid_t victim = before[1];
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  std::vector<pid_t> after;
  EXPECT_TRUE(WaitUntil(
      [&] {
        after = WorkerPids(master);
        return after.size() == kWorkers &&
               std::find(after.begin(), after.end(), victim) == after.end();
      },
      kDeadline));
  const std::size_t at_replacement = progress.load();
  load.join();
  EXPECT_FALSE(r.timed_out) << r.Summary();
  EXPECT_GT(r.completed, at_replacement) << "load continued";
  // Only requests in flight on the killed worker may be lost.
  EXPECT_EQ(r.completed + r.lost_in_flight, r.sent) << r.Summary();
  EXPECT_LE(r.lost_in_flight, 200u) << r.Summary();
  EXPECT_EQ(r.Status(200), r.completed) << r.Summary();
  ExpectUniqueKeys(KeysOf(r));
  // forge-ctl shows the replacement.
  std::vector<pid_t> fresh;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(fresh));
  ASSERT_EQ(fresh.size(), 1u);
  const auto ctl = testing::Run({Bin("forge-ctl"), "stats", "--json"},
                                {{"SHM_NAME", shm()}}, kDeadline);
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_NE(ctl.out.find("\"pid\":" + std::to_string(fresh[0])),
            std::string::npos)
      << ctl.out;
  EXPECT_NE(frontend()->Stderr().find("was killed by signal 9"),
            std::string::npos)
      << frontend()->Stderr();
}

// Issue 18: a burst of keep-alive connections is shared by the workers
// (accept_share.h), not taken by whichever worker the kernel wakes first.
// With one shared socket: WORKER_CPU_AFFINITY=auto gives each CPU its own
// (the next two tests).
TEST_F(FrontendProcessTest, ABurstOfConnectionsIsSharedByTheWorkers) {
  StartBoth({{"WORKER_CPU_AFFINITY", "off"}});
  const pid_t master = frontend()->pid();
  ASSERT_TRUE(WaitWorkers(master, kWorkers));
  const std::vector<pid_t> workers = WorkerPids(master);
  constexpr std::size_t kConns = 16;
  const std::string request = "GET /get-key HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<int> fds;
  for (std::size_t i = 0; i < kConns; ++i) {
    fds.push_back(ConnectLoopback(port(), kDeadline));
    ASSERT_GE(fds.back(), 0);
    ASSERT_EQ(::send(fds.back(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  }
  std::vector<std::size_t> held;
  EXPECT_TRUE(WaitUntil(
      [&] {
        held.clear();
        for (const pid_t w : workers)
          held.push_back(PeerPortsOf(w, port()).size());
        return std::accumulate(held.begin(), held.end(), std::size_t{0}) ==
               kConns;
      },
      kDeadline));
  for (const int fd : fds) ::close(fd);
  // A fair share is 4; one more than the least loaded is allowed, and a
  // loaded machine may let a worker take one after kAcceptDeferFor.
  for (std::size_t i = 0; i < held.size(); ++i) {
    EXPECT_GE(held[i], 2u) << "worker " << i << " of "
                           << ::testing::PrintToString(held);
    EXPECT_LE(held[i], 7u) << "worker " << i << " of "
                           << ::testing::PrintToString(held);
  }
}

// WORKER_CPU_AFFINITY=auto (the default), one worker per CPU: each worker
// is pinned to its own CPU, and a connection made from a thread on CPU k is
// accepted by the worker pinned to k (frontend/cpu_steer.h) — checked
// before its first request, so a later move (next test) cannot hide a
// wrong accept; 8 connections per CPU, so a hash cannot pass by chance.
TEST_F(FrontendProcessTest, AConnectionIsServedByTheWorkerOnItsClientsCpu) {
  const std::vector<int> cpus = AllowedCpus();
  ASSERT_GE(cpus.size(), 2u) << "this test needs 2 CPUs";
  StartBoth({{"WORKERS", std::to_string(cpus.size())}});
  const pid_t master = frontend()->pid();
  ASSERT_TRUE(WaitWorkers(master, cpus.size()));
  const std::vector<pid_t> workers = WorkerPids(master);
  std::set<std::string> pinned;
  for (const pid_t w : workers) pinned.insert(CpusAllowed(w));
  std::set<std::string> expected;
  for (const int cpu : cpus) expected.insert(std::to_string(cpu));
  EXPECT_EQ(pinned, expected);
  std::set<pid_t> workers_used;
  for (const int cpu : cpus) {
    std::thread client([&] {
      ASSERT_TRUE(frontend::PinToCpu(cpu));
      for (int i = 0; i < 8; ++i) {
        const int fd = ConnectLoopback(port(), kDeadline);
        ASSERT_GE(fd, 0);
        const pid_t holder = AwaitHolder(workers, port(), fd);
        ASSERT_NE(holder, 0) << "no worker took connection " << i;
        EXPECT_EQ(CpusAllowed(holder), std::to_string(cpu)) << i;
        EXPECT_TRUE(IsKey(KeyOver(fd).body));
        ::close(fd);
        workers_used.insert(holder);
      }
      // Not a hot route: a pool thread answers it, and runs on any CPU.
      EXPECT_EQ(Get(port(), "/status").status, 200);
    });
    client.join();
  }
  const std::string any_cpu = CpusAllowed(::getpid());
  for (const pid_t w : workers_used) {
    std::size_t floating = 0;
    for (const auto& task : std::filesystem::directory_iterator(
             "/proc/" + std::to_string(w) + "/task")) {
      const pid_t tid = std::stoi(task.path().filename().string());
      floating += CpusAllowed(w, tid) == any_cpu ? 1 : 0;
    }
    EXPECT_GE(floating, 1u)
        << "worker " << w << ": no pool thread on " << any_cpu;
    EXPECT_EQ(pinned.count(CpusAllowed(w)), 1u) << "the loop stays pinned";
  }
  EXPECT_NE(frontend()->Stderr().find("pinned to CPUs"), std::string::npos)
      << frontend()->Stderr();
}

// A client thread that moves to another CPU after connecting: its
// connection moves to that CPU's worker (conn_relay.h) within
// kCpuCheckEvery requests, answering every request once and in order on
// the same connection, and the requests it had left move with it: the
// KEEP_ALIVE_MAX-th answer still says `Connection: close`.
TEST_F(FrontendProcessTest, AConnectionFollowsItsClientToAnotherCpu) {
  const std::vector<int> cpus = AllowedCpus();
  ASSERT_GE(cpus.size(), 2u) << "this test needs 2 CPUs";
  constexpr std::size_t kRequests = 2 * frontend::kCpuCheckEvery;
  StartBoth({{"WORKERS", std::to_string(cpus.size())},
             {"KEEP_ALIVE_MAX", std::to_string(kRequests)}});
  const pid_t master = frontend()->pid();
  ASSERT_TRUE(WaitWorkers(master, cpus.size()));
  const std::vector<pid_t> workers = WorkerPids(master);
  std::vector<Answered> answers;
  std::string before, after;  // the CPUs of the serving worker
  std::thread client([&] {
    ASSERT_TRUE(frontend::PinToCpu(cpus[0]));
    const int fd = ConnectLoopback(port(), kDeadline);
    ASSERT_GE(fd, 0);
    answers.push_back(KeyOver(fd));
    pid_t holder = AwaitHolder(workers, port(), fd);
    ASSERT_NE(holder, 0) << "no worker took the connection";
    before = CpusAllowed(holder);
    ASSERT_TRUE(frontend::PinToCpu(cpus[1]));
    // The last one closes the connection: look at the holder before it.
    while (answers.size() + 1 < kRequests) answers.push_back(KeyOver(fd));
    const int client_port = LocalPort(fd);
    EXPECT_TRUE(WaitUntil(
        [&] {
          holder = HolderOf(workers, port(), client_port);
          return holder != 0 && CpusAllowed(holder) == std::to_string(cpus[1]);
        },
        kDeadline));
    after = CpusAllowed(holder);
    answers.push_back(KeyOver(fd));
    char byte;
    EXPECT_EQ(::recv(fd, &byte, 1, 0), 0) << "closed after the last answer";
    ::close(fd);
  });
  client.join();
  EXPECT_EQ(before, std::to_string(cpus[0]));
  EXPECT_EQ(after, std::to_string(cpus[1]));
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    keys.push_back(answers[i].body);
    const bool closes =
        answers[i].head.find("Connection: close") != std::string::npos;
    EXPECT_EQ(closes, i + 1 == kRequests) << "answer " << i + 1;
  }
  EXPECT_EQ(ExpectUniqueKeys(keys), kRequests);
}

TEST_F(FrontendProcessTest, SigtermDuringLoadExitsZeroWithoutLosingARequest) {
  StartBoth({{"KEEP_ALIVE_MAX", "1000000"}});
  std::atomic<std::size_t> progress{0};
  LoadOptions o = Load(64, 100'000'000);
  o.reconnect = false;  // a closed connection is not reopened (see below)
  o.progress = &progress;
  LoadResult r;
  std::thread load([&] { r = RunLoad(o); });
  ASSERT_TRUE(WaitUntil([&] { return progress.load() >= 3000; }, kDeadline));
  frontend()->Signal(SIGTERM);
  EXPECT_EQ(frontend()->Wait(kDeadline), 0) << frontend()->Stderr();
  load.join();
  // Every request sent got its full answer; each connection was told to
  // close (or closed while idle). Reconnecting is off here, so that the
  // load ends; a reconnecting load is ShutdownTest's
  // (tests/integration/shutdown_test.cpp).
  EXPECT_FALSE(r.timed_out) << r.Summary();
  EXPECT_EQ(r.lost_in_flight, 0u) << r.Summary();
  EXPECT_EQ(r.resets, 0u) << r.Summary();
  EXPECT_EQ(r.Status(200), r.completed) << r.Summary();
  EXPECT_GE(r.completed, 3000u);
  ExpectUniqueKeys(KeysOf(r));
  EXPECT_NE(Get(port(), "/healthz").error, "") << "the port is closed";
}

TEST_F(FrontendProcessTest, ErrorsOverRealHttp) {
  StartBoth({{"MAX_BATCH", "50"}});
  EXPECT_EQ(Get(port(), "/nope").status, 404);
  auto r = RawRequest(port(),
                      "POST /get-key HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 405) << r.error;
  EXPECT_EQ(r.Header("Allow"), "GET");
  r = RawRequest(port(), "HEAD /get-key HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 405) << r.error;
  for (const char* q : {"", "?count=0", "?count=-1", "?count=abc", "?count=51",
                        "?count=1&count=2"}) {
    r = Get(port(), std::string("/get-keys") + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_NE(r.body.find("1..50"), std::string::npos) << r.body;
  }
  r = Get(port(), "/get-keys?count=50");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 50);
  r = Get(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(SumOf(r.body, "forge_keys_served_total{"), 50u) << r.body;
  // Every worker attaches within a control round, even one that has not
  // answered a request yet.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Get(port(), "/metrics")
                   .body.find(
                       "forge_workers_alive{namespace=\"default\"} 4\n") !=
               std::string::npos;
      },
      kDeadline));
}

TEST_F(FrontendProcessTest, SighupIsIgnored) {
  StartBoth();
  frontend()->Signal(SIGHUP);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return frontend()->Stderr().find("SIGHUP ignored") != std::string::npos;
      },
      kDeadline));
  EXPECT_EQ(Get(port(), "/get-key").status, 200);
  EXPECT_TRUE(frontend()->Running());
}

TEST_F(FrontendProcessTest, ATakenPortIsAOneLineErrorAndExitCode1) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  Process frontend = StartFrontend();
  EXPECT_EQ(frontend.Wait(kDeadline), 1);
  const std::string err = frontend.Stderr();
  EXPECT_NE(err.find("cannot listen on 127.0.0.1:" + std::to_string(port()) +
                     ": Address already in use"),
            std::string::npos)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  ::close(fd);
}

}  // namespace
}  // namespace forge::testing
