// broker/fleet.cpp — see fleet.h.
#include "broker/fleet.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "base/names.h"
#include "shm/notify.h"

namespace forge::broker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// "" for default, else "namespace NAME: " (as Broker's log lines).
std::string Prefix(const std::string& name) {
  return name == base::kDefaultNamespace ? std::string()
                                         : "namespace " + name + ": ";
}

void LogSegment(const std::string& name, const shm::Segment& seg,
                std::int32_t previous_pid) {
  std::string line = Prefix(name) + "segment: " + seg.open_note() +
                     "; capacity " + std::to_string(seg.ring().Capacity()) +
                     ", fill " + std::to_string(seg.ring().Size());
  if (previous_pid != 0) {
    line += "; previous broker pid " + std::to_string(previous_pid);
  }
  log::Info(line);
}

// One INFO line when a declared namespace's stored blocklist is not the
// declared one: only creation takes the config's; later it is forge-ctl's.
void NoteDeclaredBlocklist(const config::NamespaceDecl& decl,
                           const keys::BlocklistSpec& stored) {
  if (stored == decl.blocklist) return;
  log::Info("namespace " + decl.name + ": config.yml declares blocklist " +
            keys::DescribeBlocklist(decl.blocklist) + ", the store holds " +
            keys::DescribeBlocklist(stored) +
            " and that one is used (a blocklist is changed with forge-ctl "
            "namespace blocklist " +
            decl.name + " default|none|FILE)");
}

store::StoreFormat FormatOf(const config::NamespaceDecl& decl) {
  store::StoreFormat f;
  f.key_length = decl.key_length;
  f.order = decl.key_order;
  f.policy = decl.policy;
  f.blocklist = decl.blocklist;
  return f;
}

}  // namespace

struct Fleet::Member {
  Member(std::string n, std::unique_ptr<store::RangeStore> s, shm::Segment g)
      : name(std::move(n)), own_store(std::move(s)), seg(std::move(g)) {}
  store::RangeStore& store(store::RangeStore& root) {
    return own_store ? *own_store : root;
  }
  std::string name;
  std::unique_ptr<store::RangeStore> own_store;  // null: the root (default)
  shm::Segment seg;
  std::unique_ptr<Broker> broker;  // refers to seg and the store
};

Fleet::Fleet(const config::Config& cfg, const BrokerOptions& options,
             store::RangeStore& root)
    : cfg_(cfg), options_(options), root_(root) {
  options_.store_mutex = &store_mutex_;
  // One set of encode helpers for every namespace (threads do not grow
  // with their number); the loop's thread is the first encoder.
  for (std::uint32_t i = 1; i < options_.encode_threads; ++i) {
    encoders_.push_back(std::make_unique<JobThread>());
    options_.encode_helpers.push_back(encoders_.back().get());
  }
}

Fleet::~Fleet() = default;

std::vector<std::string> Fleet::Served() const {
  std::vector<std::string> names;
  for (const auto& m : members_) names.push_back(m->name);
  return names;
}

const config::NamespaceDecl* Fleet::DeclOf(const std::string& name) const {
  for (const config::NamespaceDecl& decl : cfg_.namespaces) {
    if (decl.name == name) return &decl;
  }
  return nullptr;
}

std::uint64_t Fleet::CapacityOf(const std::string& name) const {
  if (name == base::kDefaultNamespace) return cfg_.pool_capacity;
  const config::NamespaceDecl* decl = DeclOf(name);
  return decl != nullptr && decl->pool_capacity > 0 ? decl->pool_capacity
                                                    : cfg_.ns_pool_capacity;
}

bool Fleet::Wanted(const std::string& name) const {
  const auto& list = cfg_.serve_namespaces;
  return list.empty() ||
         std::find(list.begin(), list.end(), name) != list.end();
}

bool Fleet::Start(const std::atomic<bool>& stop, Signals* signals) {
  // A declared namespace exists (or the format mismatch is fatal) before
  // any segment is made: the store is the source of truth. Transient
  // errors (a busy or unreachable store) are retried with back-off.
  for (const config::NamespaceDecl& decl : cfg_.namespaces) {
    const store::StoreFormat wanted = FormatOf(decl);
    const bool created = RetryTransient(
        "cannot create the declared namespaces yet", "the store answers again",
        options_, stop, signals, [&] {
          const auto space = root_.OpenNamespace(decl.name, &wanted);
          if (space == nullptr) {
            throw store::StoreError(
                "namespace " + decl.name + ": the store did not create it",
                false);
          }
          NoteDeclaredBlocklist(decl, space->format().blocklist);
        });
    if (!created) return false;
  }
  // Read before any namespace is opened: a change after this read is seen
  // by the first refresh.
  const bool read =
      RetryTransient("cannot read the store's policy generation yet",
                     "the store answers again", options_, stop, signals,
                     [&] { policy_generation_ = root_.PolicyGeneration(); });
  if (!read) return false;
  Discover(/*at_start=*/true);
  next_discover_ = Clock::now() + kDiscoverEvery;
  return true;
}

void Fleet::Discover(bool at_start) {
  std::vector<std::string> names = cfg_.serve_namespaces;
  try {
    if (names.empty()) names = root_.Namespaces();
    if (std::exchange(discovery_failing_, false)) {
      log::Info("namespaces: the store answers again");
    }
  } catch (const store::StoreError& e) {
    if (at_start && !e.transient()) throw;
    if (!std::exchange(discovery_failing_, true)) {
      log::Warn(std::string("namespaces: cannot list the store's (") +
                e.what() + "); serving the ones taken up, asking again " +
                "every second");
    }
    return;
  }
  for (const std::string& name : names) {
    if (!Wanted(name)) continue;
    const auto served =
        std::find_if(members_.begin(), members_.end(),
                     [&](const auto& m) { return m->name == name; });
    if (served != members_.end()) continue;
    const bool by_name =
        !cfg_.serve_namespaces.empty() || name == base::kDefaultNamespace;
    TakeUp(name, at_start && by_name);
  }
}

// Opens the namespace's store object and segment and starts its Broker.
// `strict`: errors are thrown (start, asked for by name); otherwise they
// are said once and the namespace is tried again at the next discovery.
void Fleet::TakeUp(const std::string& name, bool strict) {
  try {
    std::unique_ptr<store::RangeStore> own;
    store::RangeStore* store = &root_;
    if (name != base::kDefaultNamespace) {
      own = root_.OpenNamespace(name, nullptr);
      if (own == nullptr) {
        if (missing_.insert(name).second) {
          log::Warn("namespace " + name +
                    " (NAMESPACES) is not in the store yet; it is served "
                    "once it is created (forge-ctl namespace create)");
        }
        return;
      }
      store = own.get();
    }
    shm::SegmentSpec spec = SegmentSpecFor(CapacityOf(name), *store);
    spec.mode = cfg_.shm_mode;  // SHM_MODE
    shm::Segment seg = shm::Segment::OpenProducer(
        base::NamespaceSegmentName(cfg_.shm_name, name), spec);
    // relaxed: read once before this process publishes its own pid.
    LogSegment(name, seg, seg.broker().pid.load(std::memory_order_relaxed));
    auto member =
        std::make_unique<Member>(name, std::move(own), std::move(seg));
    // Other namespaces' segments are checked for damage once a second (a
    // fault is still seen at once), so idle cost does not grow with their
    // number: 16 namespaces wake and stat no more often than a few.
    BrokerOptions options = options_;
    if (name != base::kDefaultNamespace) {
      options.damage_check_every = kOtherDamageCheckEvery;
    }
    member->broker = std::make_unique<Broker>(options, *store, member->seg);
    if (running_) member->broker->Begin(signals_);
    members_.push_back(std::move(member));
    skipped_.erase(name);
    missing_.erase(name);
    if (name != base::kDefaultNamespace) {
      log::Info("namespace " + name + ": served (" +
                std::to_string(members_.size()) + " namespaces)");
    }
  } catch (const shm::ProducerLocked& e) {
    if (strict) throw;
    if (skipped_.insert(name).second) {
      log::Info(Prefix(name) + "another broker produces into it (pid " +
                std::to_string(e.holder_pid()) +
                "); skipped, tried again every second");
    }
  } catch (const Error& e) {
    // StoreError, SegmentError: one line, then quiet until it works. A
    // transient store error is never fatal: the next discovery retries.
    const auto* store_error = dynamic_cast<const store::StoreError*>(&e);
    if (strict && (store_error == nullptr || !store_error->transient())) {
      throw;
    }
    if (skipped_.insert(name).second) {
      log::Warn(Prefix(name) + "not served: " + e.what() +
                "; tried again every second");
    }
  }
}

// When the store's policy generation moved, every served namespace reads
// its blocklist again. A store error leaves the generation as it was, so
// the next pass tries again.
void Fleet::RefreshBlocklists() {
  try {
    const std::uint64_t generation = root_.PolicyGeneration();
    if (generation == policy_generation_) return;
    for (const auto& m : members_) {
      m->broker->ReplaceBlocklist(m->store(root_).ReadBlocklist());
    }
    policy_generation_ = generation;
    policy_failing_ = false;
  } catch (const store::StoreError& e) {
    if (!std::exchange(policy_failing_, true)) {
      log::Warn(std::string("namespaces: cannot read the blocklists (") +
                e.what() + "); asking again every second");
    }
  }
}

void Fleet::WhileStoreWaits() {
  for (const auto& m : members_) m->broker->WhileStoreWaits();
}

int Fleet::Run(const std::atomic<bool>& stop, Signals* signals) {
  signals_ = signals;
  running_ = true;
  for (const auto& m : members_) m->broker->Begin(signals);
  // relaxed: the flag is set by a signal handler and carries no data.
  while (!stop.load(std::memory_order_relaxed)) {
    if (Clock::now() >= next_discover_) {
      // Not while a reservation uses the connection: tried again next round.
      const std::unique_lock<std::mutex> lock(store_mutex_, std::try_to_lock);
      if (lock.owns_lock()) {
        Discover(/*at_start=*/false);
        RefreshBlocklists();
        next_discover_ = Clock::now() + kDiscoverEvery;
      }
    }
    bool busy = false;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      const StepResult r = members_[i]->broker->Tick();
      if (r == StepResult::kFatal) return StopAll(i);
      busy = busy || r == StepResult::kBusy;
    }
    // Each SIGHUP logs one line; SIGTERM/SIGINT already raised `stop`.
    while (signals != nullptr && Broker::NoteSignal(signals->Poll()) != 0) {
    }
    if (!busy && !stop.load(std::memory_order_relaxed)) Idle(signals);
  }
  // The stop signal is handled: only a second one shortens a Return's
  // back-off.
  if (signals != nullptr) signals->Acknowledge();
  for (const auto& m : members_) m->broker->Finish();
  return 0;
}

// The namespace at `fatal` failed for good (it logged why): every other
// one still gives back what it never published.
int Fleet::StopAll(std::size_t fatal) {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i != fatal) members_[i]->broker->Finish();
  }
  return 2;
}

// One sleep for every namespace: until the earliest time one of them has
// work (a back-off ends, an exhausted recheck, the next discovery), or a
// consumer wakes one with numbers in hand (Broker::PlanIdle).
void Fleet::Idle(Signals* signals) {
  nanoseconds wait =
      std::min<nanoseconds>(options_.idle_wait, next_discover_ - Clock::now());
  std::vector<shm::Segment*> watch;
  for (const auto& m : members_) {
    const Broker::IdlePlan plan = m->broker->PlanIdle();
    wait = std::min(wait, plan.wait);
    if (plan.until_low_water) watch.push_back(&m->broker->segment());
  }
  if (wait <= nanoseconds::zero()) return;
  if (watch.empty()) {
    Broker::NoteSignal(SleepInterruptibly(signals, wait));
    return;
  }
  // A signal that came since the loop's check skips the sleep; one that
  // comes during it ends it (EINTR).
  if (signals != nullptr && Broker::NoteSignal(signals->Poll()) != 0) return;
  shm::WaitForLowWater(
      watch, std::max(milliseconds(1), duration_cast<milliseconds>(wait)));
}

}  // namespace forge::broker
