#include "tests/support/stack.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <sstream>

#include "base/process.h"
#include "shm/layout.h"
#include "shm/namespaces.h"
#include "tests/support/http_client.h"

namespace forge::testing {

const char* StoreName(StoreKind kind) {
  return kind == StoreKind::kSqlite ? "SQLite" : "PostgreSQL";
}

void PrintTo(StoreKind kind, std::ostream* os) { *os << StoreName(kind); }

StackOptions StackOptions::OwnStore(StoreKind kind) {
  StackOptions o;
  o.store = kind;
  return o;
}

StackOptions StackOptions::SqliteFile(std::string file) {
  StackOptions o;
  o.sqlite_file = std::move(file);
  return o;
}

StackOptions StackOptions::SharedStore(std::string db_url, int port) {
  StackOptions o;
  o.db_url = std::move(db_url);
  o.port = port;
  return o;
}

Stack::Stack(Env env, StackOptions options)
    : env_(std::move(env)),
      options_(std::move(options)),
      port_(options_.port > 0 ? options_.port : FreePort()) {
  if (options_.db_url.empty() && options_.store == StoreKind::kPostgres) {
    pg_.emplace();
  }
}

std::string Stack::DbUrl() const {
  if (!options_.db_url.empty()) return options_.db_url;
  return pg_ ? pg_->url() : "sqlite:" + (dir_ / options_.sqlite_file);
}

void Stack::Declare(const std::vector<TestNamespace>& namespaces) const {
  std::ostringstream yml;
  yml << "namespaces:\n";
  for (const TestNamespace& ns : namespaces) {
    yml << "  " << ns.name << ": { key_length: " << ns.key_length
        << ", key_order: " << ns.key_order;
    if (ns.pool_capacity != 0) yml << ", pool_capacity: " << ns.pool_capacity;
    for (const auto& [field, value] : {std::pair{"alphabet", &ns.alphabet},
                                       {"check", &ns.check},
                                       {"prefix", &ns.prefix},
                                       {"blocklist", &ns.blocklist}}) {
      if (!value->empty()) yml << ", " << field << ": \"" << *value << "\"";
    }
    yml << " }\n";
  }
  std::filesystem::create_directories(dir_ / "config");
  WriteFile(dir_ / "config/config.yml", yml.str());
}

Env Stack::MakeEnv(const Env& extra) const {
  Env env = {{"SHM_NAME", shm_.str()},
             {"DB_URL", DbUrl()},
             {"HOST", "127.0.0.1"},
             {"PORT", std::to_string(port_)}};
  for (const auto& [k, v] : env_) env[k] = v;
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

Process Stack::Start(const std::string& program, const Env& extra) const {
  return Process::Start({Bin(program)}, MakeEnv(extra), dir_.path());
}

Process& Stack::HoldBroker(const Env& extra) {
  broker_.reset();
  return broker_.emplace(StartBroker(extra));
}

Process& Stack::HoldFrontend(const Env& extra) {
  frontend_.reset();
  return frontend_.emplace(StartFrontend(extra));
}

bool Stack::Up(const Env& extra, milliseconds timeout) {
  HoldBroker(extra);
  HoldFrontend(extra);
  return WaitHealthy(timeout);
}

std::string Stack::Logs() const {
  std::string logs =
      "--- stack " + shm_.str() + " port " + std::to_string(port_) + " ---\n";
  if (frontend_) logs += "frontend:\n" + frontend_->Stderr();
  if (broker_) logs += "broker:\n" + broker_->Stderr();
  return logs;
}

bool Stack::WaitHealthy(milliseconds timeout) const {
  return WaitUntil([&] { return Get(port_, "/healthz").status == 200; },
                   timeout);
}

std::optional<shm::ReadOnlySegment> Stack::View(std::string_view ns) const {
  try {
    return shm::ReadOnlySegment::Attach(
        base::NamespaceSegmentName(shm_.str(), ns));
  } catch (const shm::SegmentError&) {
    return std::nullopt;  // missing, or caught mid-creation
  }
}

bool Stack::WaitBrokerRunning(const Process& broker,
                              milliseconds timeout) const {
  const auto running = [&](std::string_view ns) {
    const auto seg = View(ns);
    // relaxed: a snapshot polled until it holds.
    return seg &&
           seg->broker().pid.load(std::memory_order_relaxed) == broker.pid() &&
           seg->broker().state.load(std::memory_order_relaxed) ==
               static_cast<std::uint32_t>(shm::BrokerState::kRunning);
  };
  return WaitUntil(
      [&] {
        // Default first: it exists before any other once the broker runs.
        if (!running(base::kDefaultNamespace)) return false;
        const std::vector<std::string> served = shm::ServedNamespaces(shm());
        return std::all_of(served.begin(), served.end(), running);
      },
      timeout);
}

std::vector<pid_t> Stack::WorkerPids(pid_t master) const {
  std::vector<pid_t> pids;
  const auto seg = View();
  for (std::uint32_t i = 0; seg && i < shm::kMaxWorkers; ++i) {
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

bool Stack::WaitWorkers(pid_t master, std::size_t n,
                        milliseconds timeout) const {
  return WaitUntil([&] { return WorkerPids(master).size() == n; }, timeout);
}

}  // namespace forge::testing
