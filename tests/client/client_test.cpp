// tests/client/client_test.cpp — libforge-client (include/forge/client.h)
// against the real forge-broker: every result code, the layout version
// check at open, re-attach after a broker restart, crash safety of a
// client killed mid-pop, the seed test (100,000 keys from 1,000 threads in
// 4 processes, no repeat) and the client's stats slot.
#include "forge/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shm/layout.h"
#include "tests/ctl/mini_json.h"
#include "tests/shm/raw_file.h"
#include "tests/support/stack.h"

namespace forge::testing {
namespace {

// A client that closes itself.
struct Client {
  forge_client* c = nullptr;
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { forge_client_close(c); }
};

// Splits get_keys' buffer into its keys.
std::vector<std::string> Lines(const char* buf) {
  std::vector<std::string> keys;
  std::string text(buf);
  std::size_t from = 0;
  for (std::size_t nl; (nl = text.find('\n', from)) != std::string::npos;
       from = nl + 1) {
    keys.push_back(text.substr(from, nl - from));
  }
  EXPECT_EQ(from, text.size()) << "text after the last newline";
  return keys;
}

class ClientTest : public ::testing::Test {
 protected:
  // A running broker on stack_'s SHM_NAME.
  void StartBroker(const Env& extra = {}) {
    Process& broker = stack_.HoldBroker(extra);
    ASSERT_TRUE(stack_.WaitBrokerRunning(broker)) << stack_.Logs();
  }

  Stack stack_;
};

TEST_F(ClientTest, NoSegmentIsNoBroker) {
  Client client;
  EXPECT_EQ(forge_client_open(stack_.shm().c_str(), &client.c),
            FORGE_ENOBROKER);
  EXPECT_EQ(client.c, nullptr);
  EXPECT_NE(std::string(forge_last_error()).find(stack_.shm()),
            std::string::npos)
      << forge_last_error();
}

TEST_F(ClientTest, PopsKeysOneAndManyAtATime) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK)
      << forge_last_error();
  std::size_t length = 0;
  ASSERT_EQ(forge_client_key_length(client.c, nullptr, &length), FORGE_OK);
  EXPECT_EQ(length, 7U);
  char key[32];
  ASSERT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 1000),
            FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(std::string(key).size(), 7U);
  std::vector<char> buf(100 * 8 + 1);
  std::size_t got = 0;
  ASSERT_EQ(forge_client_get_keys(client.c, "", 100, buf.data(), buf.size(),
                                  &got, 1000),
            FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(got, 100U);
  const std::vector<std::string> keys = Lines(buf.data());
  ASSERT_EQ(keys.size(), 100U);
  for (const std::string& k : keys) {
    EXPECT_EQ(k.size(), 7U);
    EXPECT_NE(k, key);
  }
}

// Every key in `path` (one per line), appended to *all.
void ReadKeys(const std::string& path, std::vector<std::string>* all) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) all->push_back(line);
  }
}

// The keys that occur more than once.
std::vector<std::string> Repeats(const std::vector<std::string>& keys) {
  std::set<std::string> seen;
  std::vector<std::string> repeats;
  for (const std::string& k : keys) {
    if (!seen.insert(k).second) repeats.push_back(k);
  }
  return repeats;
}

// Appends `text` to the file `fd` in one write (a kill lands before or
// after it, never inside a line; what a killed child popped but had not
// written yet is a gap).
bool WriteAll(int fd, const char* text, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, text, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    text += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

TEST_F(ClientTest, BadArgumentsAreEinvalAndSmallBuffersErange) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  EXPECT_EQ(forge_client_open(nullptr, nullptr), FORGE_EINVAL);
  EXPECT_EQ(forge_client_open("bad name!", &client.c), FORGE_EINVAL);
  EXPECT_NE(std::string(forge_last_error()).find("SHM_NAME"), std::string::npos)
      << forge_last_error();
  EXPECT_EQ(forge_client_open((stack_.shm() + "@ns").c_str(), &client.c),
            FORGE_EINVAL);
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK)
      << forge_last_error();
  char key[32];
  std::size_t got = 99;
  EXPECT_EQ(forge_client_get_key(nullptr, nullptr, key, sizeof(key), 0),
            FORGE_EINVAL);
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, nullptr, 8, 0),
            FORGE_EINVAL);
  EXPECT_EQ(forge_client_get_key(client.c, "no spaces", key, sizeof(key), 0),
            FORGE_EINVAL);
  EXPECT_EQ(
      forge_client_get_keys(client.c, nullptr, 0, key, sizeof(key), &got, 0),
      FORGE_EINVAL);
  EXPECT_EQ(got, 0U);
  EXPECT_EQ(
      forge_client_get_keys(client.c, nullptr, 1, key, sizeof(key), nullptr, 0),
      FORGE_EINVAL);
  EXPECT_EQ(forge_client_key_length(client.c, nullptr, nullptr), FORGE_EINVAL);
  // Keys are 7 characters: 8 bytes for one key, 8 * n + 1 for n lines.
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, 7, 0), FORGE_ERANGE);
  EXPECT_NE(std::string(forge_last_error()).find("needs 8 bytes"),
            std::string::npos)
      << forge_last_error();
  EXPECT_EQ(forge_client_get_keys(client.c, nullptr, 4, key, 4 * 8, &got, 0),
            FORGE_ERANGE);
  EXPECT_EQ(forge_client_get_keys(client.c, nullptr, SIZE_MAX, key, sizeof(key),
                                  &got, 0),
            FORGE_ERANGE);
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, 8, 1000), FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(
      forge_client_get_keys(client.c, nullptr, 3, key, 3 * 8 + 1, &got, 1000),
      FORGE_OK);
  EXPECT_EQ(got, 3U);
  forge_client_close(nullptr);  // ignored
}

TEST_F(ClientTest, UnknownNamespaceIsEnons) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK);
  char key[32];
  EXPECT_EQ(forge_client_get_key(client.c, "nope", key, sizeof(key), 0),
            FORGE_ENONS);
  EXPECT_NE(std::string(forge_last_error()).find("\"nope\""), std::string::npos)
      << forge_last_error();
  std::size_t length = 0;
  EXPECT_EQ(forge_client_key_length(client.c, "nope", &length), FORGE_ENONS);
}

TEST_F(ClientTest, NamespacesHaveTheirOwnSegments) {
  stack_.Declare({{"orders", 5}});
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK);
  std::size_t length = 0;
  ASSERT_EQ(forge_client_key_length(client.c, "orders", &length), FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(length, 5U);
  char key[32];
  ASSERT_EQ(forge_client_get_key(client.c, "orders", key, sizeof(key), 1000),
            FORGE_OK)
      << forge_last_error();
  EXPECT_EQ(std::string(key).size(), 5U);
  ASSERT_EQ(forge_client_get_key(client.c, "default", key, sizeof(key), 1000),
            FORGE_OK);
  EXPECT_EQ(std::string(key).size(), 7U);
}

// An empty ring: EEMPTY while the broker lives (stopped, heartbeat still
// fresh), ENOBROKER once it is gone; keys come again from a restarted
// broker on the same segment.
TEST_F(ClientTest, EmptyRingIsEemptyThenEnobrokerAndARestartServesAgain) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({{"POOL_CAPACITY", "64"}}));
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK);
  char key[32];
  ASSERT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 1000),
            FORGE_OK);
  Process& broker = *stack_.broker();
  broker.Signal(SIGSTOP);
  std::vector<char> buf(64 * 8 + 1);
  std::size_t got = 0;
  // Drain what the ring holds (never more than its 64 keys).
  for (int i = 0; i < 10; ++i) {
    if (forge_client_get_keys(client.c, nullptr, 64, buf.data(), buf.size(),
                              &got, 0) != FORGE_OK) {
      break;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 50),
            FORGE_EEMPTY)
      << forge_last_error();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
  EXPECT_EQ(forge_client_get_keys(client.c, nullptr, 2, buf.data(), buf.size(),
                                  &got, 0),
            FORGE_EEMPTY);
  EXPECT_EQ(got, 0U);
  broker.Kill();
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), -1),
            FORGE_ENOBROKER)
      << forge_last_error();
  EXPECT_NE(std::string(forge_last_error()).find("no forge-broker is alive"),
            std::string::npos)
      << forge_last_error();
  ASSERT_NO_FATAL_FAILURE(StartBroker({{"POOL_CAPACITY", "64"}}));
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 5000),
            FORGE_OK)
      << forge_last_error();
}

// A segment removed and created anew (a new object under the name): the
// client follows it, as workers do.
TEST_F(ClientTest, FollowsASegmentReplacedAcrossABrokerRestart) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK);
  char key[32];
  ASSERT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 1000),
            FORGE_OK);
  stack_.broker()->Kill();
  const std::string path = shm::Segment::ObjectPath(stack_.shm());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  // Keys keep coming (the old ring's first, then the new one's) and the
  // client moves to the new segment, holding a slot there.
  std::set<std::string> keys{key};
  const auto in_new_segment = [&] {
    std::optional<shm::ReadOnlySegment> view = stack_.View();
    if (!view) return false;
    for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
      const shm::WorkerSlot& w = view->worker(i);
      if (w.pid.load() == ::getpid() &&
          w.kind.load() ==
              static_cast<std::uint32_t>(shm::ConsumerKind::kClient) &&
          w.served.load() > 0) {
        return true;
      }
    }
    return false;
  };
  const bool found = WaitUntil(
      [&] {
        EXPECT_EQ(
            forge_client_get_key(client.c, nullptr, key, sizeof(key), 5000),
            FORGE_OK)
            << forge_last_error();
        EXPECT_TRUE(keys.insert(key).second) << "repeated " << key;
        return in_new_segment();
      },
      kStackDeadline);
  EXPECT_TRUE(found);
}

TEST_F(ClientTest, ExhaustedKeySpaceIsEexhausted) {
  // KEY_LENGTH=1: 62 keys in all. They all fit the ring, so the broker may
  // be exhausted before anyone sees it running: wait for its segment, and
  // for the broker to have said it is there (state no longer "none"; a
  // brand-new segment's first instants say "no broker", see the note in
  // broker.cpp's constructor).
  stack_.HoldBroker(
      {{"KEY_LENGTH", "1"}, {"POOL_CAPACITY", "64"}, {"RANGE_SIZE", "10"}});
  Client client;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::optional<shm::ReadOnlySegment> view = stack_.View();
        return view && view->broker().state.load() !=
                           static_cast<std::uint32_t>(shm::BrokerState::kNone);
      },
      kStackDeadline))
      << stack_.Logs();
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK)
      << forge_last_error() << stack_.Logs();
  std::vector<char> buf(100 * 2 + 1);
  std::set<std::string> keys;
  std::size_t got = 0;
  int rc = FORGE_OK;
  for (int i = 0; i < 200 && rc == FORGE_OK; ++i) {
    rc = forge_client_get_keys(client.c, nullptr, 100, buf.data(), buf.size(),
                               &got, 5000);
    for (const std::string& k : Lines(buf.data())) {
      EXPECT_TRUE(keys.insert(k).second) << "repeated " << k;
    }
  }
  EXPECT_EQ(rc, FORGE_EEXHAUSTED) << forge_last_error();
  EXPECT_LE(keys.size(), 62U);
  EXPECT_GT(keys.size(), 40U);
  char key[8];
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), -1),
            FORGE_EEXHAUSTED);
}

// What the broker wrote, damaged on purpose between two opens.
TEST_F(ClientTest, ForeignOtherVersionOrExposedSegmentsAreRefusedAtOpen) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  stack_.broker()->Signal(SIGTERM);
  ASSERT_TRUE(stack_.broker()->Wait(kStackDeadline));
  const std::string path = shm::Segment::ObjectPath(stack_.shm());
  const auto open_error = [&](int want) {
    Client client;
    EXPECT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), want);
    return std::string(forge_last_error());
  };
  {
    shm::testing::RawFile raw(path);
    raw.prefix().header.layout_version = 3;
  }
  std::string why = open_error(FORGE_EBADSEGMENT);
  EXPECT_NE(why.find(path), std::string::npos) << why;
  EXPECT_NE(why.find("layout version 3"), std::string::npos) << why;
  EXPECT_NE(why.find("version " + std::to_string(shm::kLayoutVersion)),
            std::string::npos)
      << why;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  {
    shm::testing::RawFile raw(path);
    raw.prefix().header.layout_version = shm::kLayoutVersion;
    raw.prefix().header.magic.store(0x1234);
  }
  why = open_error(FORGE_EBADSEGMENT);
  EXPECT_NE(why.find("not a mini-forge segment"), std::string::npos) << why;
  {
    shm::testing::RawFile raw(path);
    raw.prefix().header.magic.store(shm::kMagic);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  why = open_error(FORGE_EBADSEGMENT);
  EXPECT_NE(why.find("0604"), std::string::npos) << why;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  why = open_error(FORGE_EBADSEGMENT);
  EXPECT_NE(why.find("4096"), std::string::npos) << why;
}

// SHM_MODE=0660: the broker's segment is group-accessible (for clients
// running as another member of its group) and still refused to "other".
TEST_F(ClientTest, ShmMode0660SegmentsAreGroupAccessible) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({{"SHM_MODE", "0660"}}));
  const std::string path = shm::Segment::ObjectPath(stack_.shm());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK)
      << forge_last_error();
  char key[32];
  EXPECT_EQ(forge_client_get_key(client.c, nullptr, key, sizeof(key), 1000),
            FORGE_OK);
  // A broker restarted with the default gives it back 0600.
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(ClientStrerrorTest, OneLineForEveryCode) {
  std::set<std::string> seen;
  for (int code = FORGE_OK; code <= FORGE_ENOMEM; ++code) {
    const std::string text = forge_strerror(code);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_TRUE(seen.insert(text).second) << text;
  }
  for (int code : {-1, 9, 1000}) {
    ASSERT_NE(forge_strerror(code), nullptr);
    EXPECT_NE(std::string(forge_strerror(code)).find("unknown"),
              std::string::npos);
  }
}

// A client killed (SIGKILL) anywhere in a tight pop loop, many times over:
// its claimed keys are gaps, never repeated to anyone.
TEST_F(ClientTest, ClientsKilledMidPopNeverCauseARepeat) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({{"POOL_CAPACITY", "4096"}}));
  const std::string shm = stack_.shm();
  std::vector<std::string> files;
  for (int round = 0; round < 12; ++round) {
    const std::string file = stack_.dir() / ("keys." + std::to_string(round));
    files.push_back(file);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    Process child = Process::Fork([&] {
      forge_client* c = nullptr;
      if (forge_client_open(shm.c_str(), &c) != FORGE_OK) return 1;
      char buf[16 * 8 + 1];
      std::size_t got = 0;
      for (;;) {  // until killed
        const int rc =
            forge_client_get_keys(c, nullptr, 16, buf, sizeof(buf), &got, 1000);
        if (rc != FORGE_OK) return 2;
        if (!WriteAll(fd, buf, got * 8)) return 3;
      }
    });
    ::close(fd);
    // Let it pop for a while (until its file grows), then kill it.
    ASSERT_TRUE(WaitUntil(
        [&] {
          struct stat st {};
          return ::stat(file.c_str(), &st) == 0 &&
                 st.st_size >= 8 * (1000 + 500 * round);
        },
        kStackDeadline));
    child.Kill();
  }
  // Everyone else's keys: this process pops some too.
  Client client;
  ASSERT_EQ(forge_client_open(shm.c_str(), &client.c), FORGE_OK);
  std::vector<char> buf(1000 * 8 + 1);
  std::size_t got = 0;
  std::vector<std::string> all;
  ASSERT_EQ(forge_client_get_keys(client.c, nullptr, 1000, buf.data(),
                                  buf.size(), &got, 5000),
            FORGE_OK);
  all = Lines(buf.data());
  for (const std::string& f : files) ReadKeys(f, &all);
  EXPECT_GT(all.size(), 12000U);
  const std::vector<std::string> repeats = Repeats(all);
  EXPECT_TRUE(repeats.empty())
      << repeats.size() << " repeats, first " << repeats.front();
}

// The seed's concurrency test through the C API: 100,000 keys from 1,000
// threads (4 processes x 250 threads x 100 keys), 0 repeats.
TEST_F(ClientTest, HundredThousandKeysFromAThousandThreadsInFourProcesses) {
  ASSERT_NO_FATAL_FAILURE(
      StartBroker({{"POOL_CAPACITY", "65536"}, {"RANGE_SIZE", "10000"}}));
  constexpr int kProcesses = 4;
  constexpr int kThreads = 250;
  constexpr int kKeysPerThread = 100;
  const std::string shm = stack_.shm();
  std::vector<Process> children;
  for (int p = 0; p < kProcesses; ++p) {
    const std::string file = stack_.dir() / ("seed." + std::to_string(p));
    children.push_back(Process::Fork([shm, file] {
      forge_client* c = nullptr;
      if (forge_client_open(shm.c_str(), &c) != FORGE_OK) return 1;
      std::vector<std::string> keys(kThreads * kKeysPerThread);
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          char key[16];
          for (int i = 0; i < kKeysPerThread; ++i) {
            if (forge_client_get_key(c, nullptr, key, sizeof(key), 10000) !=
                FORGE_OK) {
              failures.fetch_add(1);
              return;
            }
            keys[static_cast<std::size_t>(t * kKeysPerThread + i)] = key;
          }
        });
      }
      for (std::thread& th : threads) th.join();
      forge_client_close(c);
      std::ofstream out(file);
      for (const std::string& k : keys) out << k << '\n';
      return failures.load() == 0 && out.good() ? 0 : 2;
    }));
  }
  for (Process& child : children) {
    EXPECT_EQ(child.Wait(milliseconds(30000)), 0);
  }
  std::vector<std::string> all;
  for (int p = 0; p < kProcesses; ++p) {
    ReadKeys(stack_.dir() / ("seed." + std::to_string(p)), &all);
  }
  EXPECT_EQ(all.size(), std::size_t{kProcesses * kThreads * kKeysPerThread});
  const std::vector<std::string> repeats = Repeats(all);
  EXPECT_TRUE(repeats.empty())
      << repeats.size() << " repeats, first " << repeats.front();
}

// forge-ctl stats --json shows the client's slot: kind, pid, served; it is
// released at close.
TEST_F(ClientTest, StatsShowTheClientSlotUntilClose) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  Client client;
  ASSERT_EQ(forge_client_open(stack_.shm().c_str(), &client.c), FORGE_OK);
  std::vector<char> buf(25 * 8 + 1);
  std::size_t got = 0;
  ASSERT_EQ(forge_client_get_keys(client.c, nullptr, 25, buf.data(), buf.size(),
                                  &got, 1000),
            FORGE_OK);
  const auto client_slot = [&]() -> std::optional<json::Value> {
    const RunResult r =
        testing::Run({Bin("forge-ctl"), "stats", "--json", "--interval", "0"},
                     stack_.MakeEnv(), kStackDeadline, stack_.dir().path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::optional<json::Value> v = json::Parse(r.out);
    EXPECT_TRUE(v) << r.out;
    if (!v) return std::nullopt;
    const json::Value* workers = v->At("workers");
    if (workers == nullptr) return std::nullopt;
    for (const json::Value& w : workers->items) {
      const json::Value* kind = w.At("kind");
      const json::Value* pid = w.At("pid");
      if (kind != nullptr && kind->text == "client" && pid != nullptr &&
          pid->number == ::getpid()) {
        return w;
      }
    }
    return std::nullopt;
  };
  const std::optional<json::Value> slot = client_slot();
  ASSERT_TRUE(slot);
  EXPECT_EQ(slot->At("served")->number, 25);
  EXPECT_TRUE(slot->At("alive")->boolean);
  forge_client_close(client.c);
  client.c = nullptr;
  EXPECT_FALSE(client_slot());
}

}  // namespace
}  // namespace forge::testing
