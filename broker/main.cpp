// forge-broker: reserves ranges in the store and keeps the shared-memory
// ring full. On SIGTERM/SIGINT it gives its unpublished numbers back to the
// store (see Broker::Run) and exits 0, within about 1 s even when the store
// is down, locked or silent (3 s at most): libpq cannot be interrupted by a
// signal, so the store never blocks in it — it polls its socket and looks
// at the stop flag while it waits (StoreLimits, store/store_limits.h).
// Signals (base/signals.h, delivered at once so a blocking call returns
// EINTR): SIGTERM/SIGINT stop, SIGHUP is logged and ignored. Exit codes:
// 0 stopped by SIGTERM/SIGINT, 2 bad config, store refused, another broker
// holds the segment, or the segment is unusable (not a regular file,
// foreign) or was damaged while running (truncated, deleted, replaced: see
// Broker::Run).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <exception>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/process.h"
#include "base/signals.h"
#include "broker/broker.h"
#include "broker/fleet.h"
#include "config/config.h"
#include "config/db_url.h"
#include "shm/segment.h"

namespace {

using forge::broker::BrokerOptions;
using forge::broker::Fleet;
using forge::config::Config;
namespace log = forge::log;
namespace shm = forge::shm;

// "a,b,c", or `none` when `names` is empty.
std::string Joined(const std::vector<std::string>& names, const char* none) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? none : out;
}

std::vector<std::string> DeclaredNames(const Config& cfg) {
  std::vector<std::string> names;
  for (const auto& decl : cfg.namespaces) names.push_back(decl.name);
  return names;
}

// "1000" (fixed) or "auto(1000..1000000)".
std::string RangeSizeText(const Config& cfg) {
  if (cfg.range_size != Config::kAutoRangeSize) {
    return std::to_string(cfg.range_size);
  }
  return "auto(" + std::to_string(cfg.range_size_min) + ".." +
         std::to_string(cfg.range_size_max) + ")";
}

void LogConfig(const Config& cfg) {
  log::Info(
      "starting: shm_name=" + cfg.shm_name + " pool_capacity=" +
      std::to_string(cfg.pool_capacity) + " range_size=" + RangeSizeText(cfg) +
      " db_url=" + forge::config::RedactDbUrl(cfg.db_url) +
      " key_length=" + std::to_string(cfg.key_length) +
      " key_order=" + std::string(forge::keys::KeyOrderName(cfg.key_order)) +
      " store_timeout_ms=" + std::to_string(cfg.store_timeout_ms) +
      " store_require_sync=" + (cfg.store_require_sync ? "true" : "false") +
      " ns_pool_capacity=" + std::to_string(cfg.ns_pool_capacity) +
      " nice=" + std::to_string(cfg.broker_nice) +
      " namespaces=" + Joined(cfg.serve_namespaces, "all") +
      " declared=" + Joined(DeclaredNames(cfg), "none") +
      " config=" + (cfg.config_path.empty() ? "(none)" : cfg.config_path));
}

// Before any thread starts: they inherit it (base/process.h). Refused
// (no root, CAP_SYS_NICE or RLIMIT_NICE, as in most containers), the
// broker runs at the niceness it inherited, and says so once.
void ApplyNiceness(const Config& cfg) {
  const std::string why = forge::base::SetNiceness(cfg.broker_nice);
  if (why.empty()) return;
  log::Info("BROKER_NICE=" + std::to_string(cfg.broker_nice) +
            " not applied: " + why +
            " (a lower niceness needs root, CAP_SYS_NICE or RLIMIT_NICE)");
}

std::string LockedMessage(const shm::ProducerLocked& e) {
  const std::string pid = std::to_string(e.holder_pid());
  std::string msg = e.what();
  if (msg.find(pid) == std::string::npos) msg += " (held by pid " + pid + ")";
  return msg;
}

int RunBroker(const Config& cfg, forge::Signals& signals) {
  const std::atomic<bool>& stop = forge::Signals::stop_flag();
  const BrokerOptions options = BrokerOptions::FromConfig(cfg);
  // While a store call waits, every namespace beats and pushes from its
  // hand (same thread; see Broker::WhileStoreWaits).
  Fleet* running = nullptr;
  auto store = forge::broker::OpenStoreRetrying(
      cfg, options, stop,
      [&] {
        if (running != nullptr) running->WhileStoreWaits();
      },
      &signals);
  if (!store) return 0;  // stopped while waiting for the store
  log::Info("store opened: " + store->Describe());
  Fleet fleet(cfg, options, *store);
  running = &fleet;
  if (!fleet.Start(stop, &signals)) return 0;  // stopped while retrying
  const int code = fleet.Run(stop, &signals);
  running = nullptr;
  return code;
}  // ~Fleet releases the producer locks

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"forge-broker: reserves key ranges and keeps the ring full",
               "forge-broker"};
  forge::config::Loader loader(app);
  int exit_code = 0;
  const auto cfg =
      forge::config::ParseArgs(app, loader, argc, argv, &exit_code);
  if (!cfg) return exit_code;
  log::Init("forge-broker", cfg->log_format, cfg->debug);
  forge::Signals signals({SIGTERM, SIGINT, SIGHUP},
                         forge::Signals::Between::kDelivered);
  signal(SIGPIPE, SIG_IGN);
  LogConfig(*cfg);
  ApplyNiceness(*cfg);
  try {
    return RunBroker(*cfg, signals);
  } catch (const shm::ProducerLocked& e) {
    log::Error(LockedMessage(e));
  } catch (const std::exception& e) {
    // StoreError (not retryable), SegmentError, a store/segment mismatch:
    // each what() is one line saying what is wrong and where.
    log::Error(e.what());
  }
  return 2;
}
