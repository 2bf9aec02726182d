// broker/fleet.h — one broker process, many namespaces: a Broker (the
// refill loop of one namespace, broker.h) per served namespace, all driven
// from one thread over one store connection.
//
// Contract (docs/design.md §4, §5 "Namespaces")
//   * Which namespaces: NAMESPACES (cfg.serve_namespaces) when set, else
//     every namespace of the store. The store is asked again every
//     kDiscoverEvery (1 s), so a namespace created while the broker runs
//     (forge-ctl namespace create, another broker's config) is served
//     within about a second, without a restart of anything.
//   * Declared namespaces (config.yml `namespaces:`) are created in the
//     store at Start when missing; one whose stored format differs is a
//     non-transient StoreError naming the namespace and the field (main
//     exits 2). Declared or not, a namespace's format always comes from
//     the store.
//   * Each served namespace has its own segment
//     (base::NamespaceSegmentName), its own producer lock, ring (capacity
//     POOL_CAPACITY for default, the declared pool_capacity or
//     NS_POOL_CAPACITY for others), hand, back-off and exhaustion: one
//     namespace running dry or failing its store calls never holds up
//     another's pushes. Invariants of §2 hold per namespace because each
//     Broker keeps them for its own segment and RangeStore.
//   * At Start, a namespace that another broker already produces into is
//     an error (ProducerLocked, exit 2) when it was asked for by name
//     (NAMESPACES, or default when serving all); found by discovery it is
//     skipped with one INFO line and tried again at each discovery.
//   * A namespace other than default has its segment checked for damage
//     once a second (kOtherDamageCheckEvery; a SIGBUS fault at once).
//   * Idle, the fleet sleeps once for all namespaces (shm::WaitForLowWater
//     over every segment that has something to push), so 16 namespaces
//     cost the same wake-ups as one.
//   * Blocklists (issue 14): each discovery pass also reads the store's
//     policy generation (one cheap read); when it moved, every served
//     namespace's blocklist is read again and handed to its Broker
//     (Broker::ReplaceBlocklist), so `forge-ctl namespace blocklist`
//     takes effect within about a second. A declared blocklist that
//     differs from the stored one is not an error: the stored one is
//     used, and one INFO line says so and how to change it.
//   * A fatal error of one namespace (damaged segment, non-transient store
//     error) stops the fleet: every other namespace still returns its
//     unpublished numbers (zero waste), then Run returns 2.
//   * Encode: ENCODE_THREADS - 1 helper threads (job_thread.h) shared by
//     every namespace's Broker (encode_pipeline.h); the loop's thread is
//     the first encoder and the only producer of every ring.
//   * Not thread-safe: one thread calls everything (WhileStoreWaits is
//     called by the store on that thread). Each Broker reserves on a
//     reserver thread of its own (broker.h); every store call, theirs and the
//     fleet's (discovery, blocklists), holds the fleet's one store lock,
//     and discovery is put off to the next round while a reservation
//     holds it rather than waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/signals.h"
#include "broker/broker.h"
#include "config/config.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge::broker {

inline constexpr std::chrono::milliseconds kDiscoverEvery{1000};
// Damage checks of a namespace other than default (default: 100 ms).
inline constexpr std::chrono::milliseconds kOtherDamageCheckEvery{1000};

class Fleet {
 public:
  // `root` is OpenStore's object (namespace default); it must outlive the
  // fleet, and its StoreLimits::on_wait should call WhileStoreWaits.
  Fleet(const config::Config& cfg, const BrokerOptions& options,
        store::RangeStore& root);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Creates the declared namespaces (retrying transient store errors with
  // back-off until `stop`: then false) and opens the first segments.
  // Throws a non-transient StoreError, SegmentError, ProducerLocked (see
  // the contract).
  [[nodiscard]] bool Start(const std::atomic<bool>& stop, Signals* signals);

  // Runs every namespace until `stop` (0) or a fatal error (2); see the
  // contract and Broker::Run.
  int Run(const std::atomic<bool>& stop, Signals* signals);

  // Heartbeat and pushes from the hand of every namespace, while a store
  // call waits.
  void WhileStoreWaits();

  // The namespaces served now, in the order they were taken up.
  std::vector<std::string> Served() const;

 private:
  struct Member;

  void Discover(bool at_start);
  void RefreshBlocklists();
  void TakeUp(const std::string& name, bool strict);
  std::uint64_t CapacityOf(const std::string& name) const;
  const config::NamespaceDecl* DeclOf(const std::string& name) const;
  bool Wanted(const std::string& name) const;
  void Idle(Signals* signals);
  int StopAll(std::size_t fatal_index);

  const config::Config& cfg_;
  std::mutex store_mutex_;  // the store connection's (broker.h)
  // Encode helpers shared by every Broker (declared before members_: they
  // outlive the brokers, whose pipelines wait for them).
  std::vector<std::unique_ptr<JobThread>> encoders_;
  BrokerOptions options_;
  store::RangeStore& root_;
  std::vector<std::unique_ptr<Member>> members_;
  std::set<std::string> skipped_;  // held by another broker, said once
  std::set<std::string> missing_;  // asked for, not in the store, said once
  std::chrono::steady_clock::time_point next_discover_{};
  bool discovery_failing_ = false;
  std::uint64_t policy_generation_ = 0;  // as of the last refresh
  bool policy_failing_ = false;          // said once until it works
  bool running_ = false;  // Run has begun: new members Begin at once
  Signals* signals_ = nullptr;
};

}  // namespace forge::broker
