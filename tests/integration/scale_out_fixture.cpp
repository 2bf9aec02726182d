#include "tests/integration/scale_out_fixture.h"

#include <sstream>
#include <utility>

#include "shm/layout.h"
#include "store/range_store.h"

namespace forge::scale_out {

using testing::Bin;
using testing::Env;
using testing::Get;
using testing::Process;
using testing::WaitUntil;

const char* StoreName(StoreKind kind) {
  return kind == StoreKind::kSqlite ? "SQLite" : "PostgreSQL";
}

void PrintTo(StoreKind kind, std::ostream* os) { *os << StoreName(kind); }

SharedStore::SharedStore(StoreKind kind) {
  if (kind == StoreKind::kPostgres) pg_.emplace();
}

std::string SharedStore::url() const {
  return pg_ ? pg_->url() : "sqlite:" + (dir_ / "forge.db");
}

std::uint64_t SharedStore::Counter() const {
  store::StoreFormat format;
  format.key_length = kKeyLength;
  format.order = config::KeyOrder::kSequential;
  return store::OpenStore(url(), format)->Next();
}

std::string SharedStore::Log() const { return pg_ ? pg_->Log() : ""; }

Instance::Instance(InstanceOptions options, int port)
    : options_(std::move(options)), port_(port) {}

Env Instance::BrokerEnv(const Env& extra) const {
  Env env = {{"SHM_NAME", shm_.str()},
             {"DB_URL", options_.db_url},
             {"RANGE_SIZE", std::to_string(options_.range_size)},
             {"POOL_CAPACITY", std::to_string(options_.pool_capacity)},
             {"KEY_LENGTH", std::to_string(kKeyLength)},
             {"KEY_ORDER", "sequential"}};
  for (const auto& [key, value] : extra) env[key] = value;
  return env;
}

void Instance::StartBroker() {
  broker_.emplace(
      Process::Start({Bin("forge-broker")}, BrokerEnv(), options_.cwd));
}

void Instance::StartFrontend() {
  // One worker (2-core CI); enough threads for every keep-alive connection
  // of the load; requests wait for the broker rather than answer 503 when
  // a tiny ring runs dry for a moment.
  const Env env = {{"SHM_NAME", shm_.str()},        {"HOST", "127.0.0.1"},
                   {"PORT", std::to_string(port_)}, {"WORKERS", "1"},
                   {"HTTP_THREADS", "16"},          {"EMPTY_WAIT_MS", "5000"}};
  frontend_.emplace(Process::Start({Bin("forge-frontend")}, env, options_.cwd));
}

bool Instance::WaitHealthy() {
  return WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                   kDeadline);
}

std::string Instance::Logs() const {
  std::string logs = "--- instance " + shm_.str() + " port " +
                     std::to_string(port_) + " ---\n";
  if (broker_) logs += "broker:\n" + broker_->Stderr();
  if (frontend_) logs += "frontend:\n" + frontend_->Stderr();
  return logs;
}

const shm::BrokerStats* Instance::Stats() {
  if (!segment_) {
    try {
      segment_.emplace(shm::ReadOnlySegment::Attach(shm_.str()));
    } catch (const shm::SegmentError&) {
      return nullptr;  // not created yet, or caught mid-creation
    }
  }
  return &std::as_const(*segment_).broker();
}

bool Instance::BrokerIdle() {
  const shm::BrokerStats* stats = Stats();
  return stats != nullptr && broker_ && stats->pid.load() == broker_->pid() &&
         stats->producer_sleeping.load() == 1 &&
         std::as_const(*segment_).ring().Size() == options_.pool_capacity;
}

std::vector<int> DistinctFreePorts(std::size_t n) {
  std::set<int> ports;
  while (ports.size() < n) ports.insert(testing::FreePort());
  return {ports.begin(), ports.end()};
}

std::vector<std::uint64_t> ServedNumbers(const testing::LoadResult& r,
                                         const keys::KeyCodec& codec,
                                         std::vector<std::string>* malformed) {
  std::vector<std::uint64_t> numbers;
  for (const std::string& body : r.bodies_200) {
    std::istringstream lines(body);
    for (std::string key; std::getline(lines, key);) {
      if (const auto n = codec.Decode(key)) {
        numbers.push_back(*n);
      } else {
        malformed->push_back(key);
      }
    }
  }
  return numbers;
}

std::vector<std::string> ErrorLines(const std::string& log) {
  std::vector<std::string> errors;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" ERROR ") != std::string::npos) errors.push_back(line);
  }
  return errors;
}

}  // namespace forge::scale_out
