#include "consumer/namespaces.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "base/names.h"
#include "shm/namespaces.h"
#include "shm/segment.h"

namespace forge::consumer {

using std::chrono::steady_clock;

NamespaceLookup DefaultOnly::Find(std::string_view ns) {
  if (ns == base::kDefaultNamespace) return {&backend_, false};
  return {};
}

std::vector<std::string> DefaultOnly::Served() {
  return {std::string(base::kDefaultNamespace)};
}

SegmentNamespaces::SegmentNamespaces(SegmentBackendOptions options,
                                     std::size_t max_attached)
    : options_(options),
      max_attached_(std::min(max_attached, kMaxAttachedNamespaces)),
      default_(std::move(options)) {}

SegmentNamespaces::~SegmentNamespaces() = default;

SegmentNamespaces::Entry* SegmentNamespaces::Scan(std::string_view ns) {
  // acquire: pairs with the release in Open(), so entries_[0..n) and the
  // backends they own are fully built before we read them.
  const std::size_t n = count_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (entries_[i]->name == ns) return entries_[i].get();
  }
  return nullptr;
}

NamespaceLookup SegmentNamespaces::Find(std::string_view ns) {
  if (ns == base::kDefaultNamespace) return {&default_, false};
  if (Entry* e = Scan(ns)) return {&e->backend, false};
  std::lock_guard lock(mu_);
  if (Entry* e = Scan(ns)) return {&e->backend, false};  // raced with Open
  // relaxed: count_ is only stored under mu_, which we hold.
  if (count_.load(std::memory_order_relaxed) >= max_attached_) {
    // Full: only a namespace that has a segment is "not attached"; a name
    // with none is unknown, as below the limit.
    struct stat st {};
    const std::string path = shm::Segment::ObjectPath(
        base::NamespaceSegmentName(options_.shm_name, ns));
    return {nullptr, ::stat(path.c_str(), &st) == 0};
  }
  const auto now = steady_clock::now();
  if (RecentlyMissed(ns, now)) return {};
  if (Entry* e = Open(ns)) return {&e->backend, false};
  if (misses_.size() >= kMaxMisses) misses_.clear();
  misses_.insert_or_assign(std::string(ns), now);
  return {};
}

SegmentBackend* SegmentNamespaces::FindSegment(std::string_view ns,
                                               bool* full) {
  const NamespaceLookup found = Find(ns);
  *full = found.full;
  // Only SegmentBackends are handed out: default_ and Entry::backend.
  return static_cast<SegmentBackend*>(found.backend);
}

bool SegmentNamespaces::RecentlyMissed(std::string_view ns,
                                       steady_clock::time_point now) {
  const auto it = misses_.find(ns);
  if (it == misses_.end()) return false;
  if (now - it->second < kMissMemory) return true;
  misses_.erase(it);
  return false;
}

SegmentNamespaces::Entry* SegmentNamespaces::Open(std::string_view ns) {
  SegmentBackendOptions o = options_;
  o.shm_name = base::NamespaceSegmentName(options_.shm_name, ns);
  auto entry = std::unique_ptr<Entry>(
      new Entry{std::string(ns), SegmentBackend(std::move(o))});
  // Missing: no reason, nothing attached. A segment that exists but is not
  // usable yet is kept: its requests get 503 with the reason, and the
  // control thread keeps trying to attach it.
  if (!entry->backend.Maintain() && entry->backend.DetachedReason().empty()) {
    return nullptr;
  }
  // relaxed: count_ is only stored under mu_ (held by Find).
  const std::size_t n = count_.load(std::memory_order_relaxed);
  entries_[n] = std::move(entry);
  if (n + 1 == max_attached_) {
    log::Warn("this worker now serves " + std::to_string(n + 1) +
              " namespaces, the most it attaches; requests for others get "
              "503");
  }
  // release: publishes entries_[n] to Scan() on request threads.
  count_.store(n + 1, std::memory_order_release);
  return entries_[n].get();
}

std::vector<std::string> SegmentNamespaces::Served() {
  std::vector<std::string> served = shm::ServedNamespaces(options_.shm_name);
  if (served.empty() || served.front() != base::kDefaultNamespace) {
    served.insert(served.begin(), std::string(base::kDefaultNamespace));
  }
  return served;
}

bool SegmentNamespaces::Maintain() {
  const bool attached = default_.Maintain();
  // acquire: see Scan().
  const std::size_t n = count_.load(std::memory_order_acquire);
  ++tick_;
  for (std::size_t i = 0; i < n; ++i) {
    if ((tick_ + i) % kNamespaceMaintainTicks == 0) {
      entries_[i]->backend.Maintain();
    }
  }
  return attached;
}

}  // namespace forge::consumer
