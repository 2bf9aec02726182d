#include "tests/integration/fault_fixture.h"

#include <algorithm>

#include "base/process.h"
#include "keys/key_codec.h"
#include "shm/segment.h"
#include "shm/workers.h"
#include "store/range_store.h"
#include "tests/support/http_client.h"

namespace forge::testing {
namespace {

// A read-only view of the segment, or nullopt while there is none.
std::optional<shm::ReadOnlySegment> View(const std::string& name) {
  try {
    return shm::ReadOnlySegment::Attach(name);
  } catch (const shm::SegmentError&) {
    return std::nullopt;  // missing, or caught mid-creation
  }
}

}  // namespace

Env FaultFixture::MakeEnv(const Env& extra) const {
  Env env = {{"SHM_NAME", shm_.str()},
             {"DB_URL", DbUrl()},
             {"HOST", "127.0.0.1"},
             {"PORT", std::to_string(port_)},
             {"KEY_ORDER", "sequential"}};
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

Process FaultFixture::StartBroker(const Env& extra) {
  return Process::Start({Bin("forge-broker")}, MakeEnv(extra), dir_.path());
}

Process FaultFixture::StartFrontend(const Env& extra) {
  return Process::Start({Bin("forge-frontend")}, MakeEnv(extra), dir_.path());
}

bool FaultFixture::WaitBrokerRunning(const Process& broker,
                                     milliseconds timeout) {
  return WaitUntil(
      [&] {
        const auto seg = View(shm_.str());
        // relaxed: a snapshot polled until it holds.
        return seg &&
               seg->broker().pid.load(std::memory_order_relaxed) ==
                   broker.pid() &&
               seg->broker().state.load(std::memory_order_relaxed) ==
                   static_cast<std::uint32_t>(shm::BrokerState::kRunning);
      },
      timeout);
}

bool FaultFixture::WaitHealthy(milliseconds timeout) {
  return WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                   timeout);
}

std::vector<pid_t> FaultFixture::WorkerPids(pid_t master) const {
  std::vector<pid_t> pids;
  const auto seg = View(shm_.str());
  if (!seg) return pids;
  for (std::uint32_t i = 0; i < shm::kMaxWorkers; ++i) {
    const shm::WorkerSlot& w = seg->worker(i);
    // relaxed: a snapshot; liveness is checked separately.
    const pid_t pid = w.pid.load(std::memory_order_relaxed);
    if (pid > 0 && base::ProcessAlive(pid) &&
        w.frontend_pid.load(std::memory_order_relaxed) ==
            static_cast<std::uint32_t>(master)) {
      pids.push_back(pid);
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

bool FaultFixture::WaitWorkers(pid_t master, std::size_t n,
                               milliseconds timeout) {
  return WaitUntil([&] { return WorkerPids(master).size() == n; }, timeout);
}

std::optional<shm::BrokerState> FaultFixture::BrokerStateNow() const {
  const auto seg = View(shm_.str());
  if (!seg) return std::nullopt;
  // relaxed: an informational snapshot.
  return static_cast<shm::BrokerState>(
      seg->broker().state.load(std::memory_order_relaxed));
}

std::optional<std::uint64_t> FaultFixture::RingFill() const {
  const auto seg = View(shm_.str());
  if (!seg) return std::nullopt;
  return seg->ring().Size();
}

std::uint64_t FaultFixture::ServedTotal() const {
  const auto seg = View(shm_.str());
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; seg && i < shm::kMaxWorkers; ++i) {
    // relaxed: counters read after the writers went quiet.
    total += seg->worker(i).served.load(std::memory_order_relaxed);
  }
  return total;
}

std::uint64_t FaultFixture::ProducedTotal() const {
  const auto seg = View(shm_.str());
  // relaxed: read after the broker went quiet.
  return seg ? seg->broker().keys_produced.load(std::memory_order_relaxed) : 0;
}

std::uint64_t FaultFixture::StoreCounter(int key_length) const {
  store::StoreFormat wanted;
  wanted.key_length = key_length;
  wanted.order = config::KeyOrder::kSequential;
  return store::OpenStore(DbUrl(), wanted)->Next();
}

std::vector<std::uint64_t> FaultFixture::Numbers(
    const std::vector<std::string>& keys, int key_length) {
  const keys::KeyCodec codec(key_length, config::KeyOrder::kSequential, 0);
  std::vector<std::uint64_t> numbers;
  numbers.reserve(keys.size());
  std::size_t bad = 0;
  for (const std::string& k : keys) {
    if (const auto n = codec.Decode(k)) {
      numbers.push_back(*n);
    } else if (++bad <= 3) {
      ADD_FAILURE() << "not a key of length " << key_length << ": '" << k
                    << "'";
    }
  }
  EXPECT_EQ(bad, 0u) << "malformed keys";
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::vector<std::uint64_t> FaultFixture::Repeats(
    const std::vector<std::uint64_t>& sorted) {
  std::vector<std::uint64_t> repeats;
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i] == sorted[i - 1] &&
        (repeats.empty() || repeats.back() != sorted[i])) {
      repeats.push_back(sorted[i]);
    }
  }
  return repeats;
}

}  // namespace forge::testing
