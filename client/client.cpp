// client/client.cpp — libforge-client: the C API of include/forge/client.h
// over the one consumer of a segment (consumer/).
//
// Contract
//   * A forge_client is a consumer::SegmentNamespaces of kind kClient (no
//     frontend pid, no log lines): the same attach, re-attach, damage,
//     claim and stats-slot logic as an HTTP worker. It runs no thread of its
//     own: what a worker's control thread does every ~150 ms (Maintain:
//     follow a replaced segment) a client does when a pop comes back short,
//     which is when a replaced or dead segment shows.
//   * No C++ exception crosses the C boundary: every entry point catches
//     everything and answers a FORGE_E* code, with forge_last_error()'s
//     line (thread-local) saying what happened.
//   * Lock-free pops: a key already in the ring costs one namespace lookup
//     (Find), the ring CAS and a copy into the caller's buffer, through a
//     thread-local KeyBuffer.
#include "forge/client.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/names.h"
#include "consumer/namespaces.h"
#include "consumer/segment_backend.h"
#include "shm/segment.h"

static_assert(FORGE_CLIENT_ABI_VERSION == FORGE_CLIENT_SOVERSION,
              "client.h and client/CMakeLists.txt disagree on the soname");

namespace {

using forge::consumer::KeyBuffer;
using forge::consumer::SegmentBackend;
using forge::consumer::SegmentBackendOptions;
using forge::consumer::SegmentNamespaces;
using forge::consumer::TakenKeys;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The longest one claim-and-wait runs before the client looks at the
// broker again (dead, exhausted, segment replaced): a wait of -1 (for
// ever) still notices a gone broker within this.
constexpr milliseconds kSlice{100};
// Most keys one claim copies into the thread's buffer (bounds its memory
// whatever n a caller asks for; the ring claims in smaller chunks anyway).
constexpr std::size_t kMaxChunk = 4096;
// How often a client checks its segments for damage or replacement, as a
// worker's control thread does (consumer/namespaces.h).
constexpr std::chrono::nanoseconds kMaintainEvery{150'000'000};

std::int64_t CoarseNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

thread_local std::string last_error;
thread_local KeyBuffer key_buffer;

int Fail(int code, std::string detail) {
  last_error = std::move(detail);
  return code;
}

std::string ShmNameOf(const char* shm_name) {
  if (shm_name != nullptr) return shm_name;
  const char* env = std::getenv("SHM_NAME");
  return env != nullptr && *env != '\0' ? env : "mini-forge";
}

SegmentBackendOptions OptionsFor(const std::string& shm_name) {
  SegmentBackendOptions o;
  o.shm_name = shm_name;
  o.empty_wait = milliseconds{0};  // every call says its own wait
  o.frontend_pid = 0;
  o.kind = forge::shm::ConsumerKind::kClient;
  o.quiet = true;
  return o;
}

// Runs `body`, turning any exception into a code (nothing crosses the C
// boundary).
template <typename Body>
int Guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(FORGE_ENOMEM, "out of memory");
  } catch (const forge::shm::SegmentError& e) {
    return Fail(FORGE_EBADSEGMENT, e.what());
  } catch (const std::exception& e) {
    return Fail(FORGE_EINVAL, e.what());
  } catch (...) {
    return Fail(FORGE_EINVAL, "unexpected error");
  }
}

}  // namespace

struct forge_client {
  explicit forge_client(const std::string& name)
      : shm_name(name), namespaces(OptionsFor(name)) {}

  // What a worker's control thread does every kMaintainEvery, done by the
  // first call after that time: damage checks, following a replaced
  // segment (SegmentNamespaces::Maintain). One coarse clock read (vDSO, no
  // syscall) and one relaxed load per call otherwise.
  void MaybeMaintain() {
    const std::int64_t now = CoarseNowNs();
    // relaxed: only a schedule; the mutex below orders the work itself.
    std::int64_t due = next_maintain_ns.load(std::memory_order_relaxed);
    if (now < due) return;
    // relaxed: the CAS only picks the one caller that maintains.
    if (!next_maintain_ns.compare_exchange_strong(
            due, now + kMaintainEvery.count(), std::memory_order_relaxed)) {
      return;
    }
    std::unique_lock lock(maintain_mu, std::try_to_lock);
    if (lock.owns_lock()) namespaces.Maintain();
  }

  std::string shm_name;
  SegmentNamespaces namespaces;
  std::atomic<std::int64_t> next_maintain_ns{0};
  std::mutex maintain_mu;  // SegmentNamespaces::Maintain is one thread's
};

namespace {

// Why a detached backend is unusable, as a code.
int Detached(forge_client* c, SegmentBackend& backend, std::string_view ns) {
  std::string reason = backend.DetachedReason();
  if (!reason.empty()) return Fail(FORGE_EBADSEGMENT, std::move(reason));
  return Fail(
      FORGE_ENOBROKER,
      "no shared memory " +
          forge::shm::Segment::ObjectPath(
              ns == forge::base::kDefaultNamespace
                  ? c->shm_name
                  : forge::base::NamespaceSegmentName(c->shm_name, ns)) +
          ": is forge-broker running with SHM_NAME=" + c->shm_name + "?");
}

// The backend of namespace `ns` (NULL or "": default), or a code.
int Lookup(forge_client* c, const char* ns, SegmentBackend** out,
           std::string_view* name) {
  *name = ns == nullptr || *ns == '\0' ? forge::base::kDefaultNamespace
                                       : std::string_view(ns);
  if (!forge::base::IsNamespaceName(*name)) {
    return Fail(FORGE_EINVAL, "namespace \"" +
                                  std::string(name->substr(0, 80)) +
                                  "\" is not allowed: use " +
                                  std::string(forge::base::kNamespaceRule));
  }
  c->MaybeMaintain();
  bool full = false;
  *out = c->namespaces.FindSegment(*name, &full);
  if (*out != nullptr) return FORGE_OK;
  if (full) {
    return Fail(FORGE_ENOMEM,
                "namespace \"" + std::string(*name) +
                    "\": this client already attaches " +
                    std::to_string(forge::consumer::kMaxAttachedNamespaces) +
                    " namespaces, the most it can");
  }
  return Fail(FORGE_ENONS,
              "no namespace \"" + std::string(*name) + "\" on SHM_NAME " +
                  c->shm_name + ": no segment " +
                  forge::shm::Segment::ObjectPath(
                      forge::base::NamespaceSegmentName(c->shm_name, *name)));
}

// The key length of an attached backend, or a code.
int KeyLength(forge_client* c, SegmentBackend& backend, std::string_view ns,
              std::uint32_t* length) {
  const std::optional<std::uint32_t> n = backend.KeyLength();
  if (!n) return Detached(c, backend, ns);
  *length = *n;
  return FORGE_OK;
}

// After a pop that came back short: follow a replaced segment, then say
// whether waiting can help (FORGE_OK) or why not (a code).
int WhyShort(forge_client* c, SegmentBackend& backend, std::string_view ns) {
  backend.Maintain();
  const forge::consumer::Snapshot s = backend.Observe();
  if (!s.attached) return Detached(c, backend, ns);
  if (s.ring_fill > 0) return FORGE_OK;
  if (s.broker_state == forge::shm::BrokerState::kExhausted) {
    return Fail(FORGE_EEXHAUSTED, "the key space of namespace \"" +
                                      std::string(ns) + "\" on SHM_NAME " +
                                      c->shm_name +
                                      " is used up: no key will come");
  }
  if (!s.broker_alive) {
    return Fail(FORGE_ENOBROKER,
                "the ring of namespace \"" + std::string(ns) +
                    "\" on SHM_NAME " + c->shm_name +
                    " is empty and no forge-broker is alive to refill it");
  }
  return FORGE_OK;
}

// Where keys go: one per call (NUL-terminated) or many ('\n' after each).
struct Sink {
  char* buf;
  std::size_t cap;  // checked against the key length before the first pop
  bool lines;
  std::size_t got = 0;
  std::size_t used = 0;

  // False when a key did not fit: the segment was replaced by one with
  // longer keys between the check and the pop. The keys left out are gaps.
  [[nodiscard]] bool Add(const KeyBuffer& keys, const TakenKeys& taken) {
    bool fits = true;
    for (std::size_t i = 0; i < taken.count && fits; ++i) {
      const std::string_view key = keys.Text(i, taken.key_length);
      fits = used + key.size() + (lines ? 1 : 0) < cap;
      if (!fits) break;
      std::memcpy(buf + used, key.data(), key.size());
      used += key.size();
      if (lines) buf[used++] = '\n';
      ++got;
    }
    buf[used] = '\0';
    return fits;
  }
};

// Pops up to `want` keys into `sink`, waiting up to timeout_ms (< 0: until
// a key comes or waiting cannot help) for the ring to refill. A call the
// ring serves at once reads no clock.
int Pop(forge_client* c, SegmentBackend& backend, std::string_view ns,
        std::size_t want, int timeout_ms, Sink& sink) {
  // A segment replaced by one with longer keys between the length check
  // and the pop: what did not fit is a gap.
  const auto swapped = [&]() -> int {
    if (sink.got > 0) return FORGE_OK;
    return Fail(FORGE_ERANGE, "the segment of namespace \"" + std::string(ns) +
                                  "\" was replaced by one with longer keys "
                                  "during the call; ask again");
  };
  TakenKeys taken =
      backend.TakeKeys(key_buffer, std::min(want, kMaxChunk), milliseconds{0});
  if (!sink.Add(key_buffer, taken)) return swapped();
  if (sink.got == want) return FORGE_OK;
  const auto start = steady_clock::now();
  const std::optional<steady_clock::time_point> deadline =
      timeout_ms < 0 ? std::nullopt
                     : std::optional(start + milliseconds(timeout_ms));
  for (;;) {
    const bool timed_out = deadline && steady_clock::now() >= *deadline;
    if (taken.count == 0 || timed_out) {
      if (const int why = WhyShort(c, backend, ns); why != FORGE_OK) {
        return sink.got > 0 ? FORGE_OK : why;
      }
    }
    if (timed_out) {
      if (sink.got > 0) return FORGE_OK;
      return Fail(FORGE_EEMPTY, "no key came from namespace \"" +
                                    std::string(ns) + "\" on SHM_NAME " +
                                    c->shm_name + " within " +
                                    std::to_string(timeout_ms) + " ms");
    }
    milliseconds wait = kSlice;
    if (deadline) {
      wait = std::clamp(std::chrono::duration_cast<milliseconds>(
                            *deadline - steady_clock::now()),
                        milliseconds{0}, kSlice);
    }
    taken = backend.TakeKeys(key_buffer, std::min(want - sink.got, kMaxChunk),
                             wait);
    if (!sink.Add(key_buffer, taken)) return swapped();
    if (sink.got == want) return FORGE_OK;
  }
}

}  // namespace

extern "C" {

int forge_client_open(const char* shm_name, forge_client** out) {
  if (out == nullptr) return Fail(FORGE_EINVAL, "out is NULL");
  *out = nullptr;
  return Guarded([&]() -> int {
    const std::string name = ShmNameOf(shm_name);
    if (forge::base::CheckShmName(name) != forge::base::ShmNameFault::kNone) {
      return Fail(FORGE_EINVAL,
                  "SHM_NAME \"" + name.substr(0, 80) +
                      "\" is not allowed: use 1 to 200 characters from "
                      "A-Z a-z 0-9 . _ - , not ending in \".lock\" (the "
                      "namespace goes to each call, not into the name)");
    }
    auto c = std::make_unique<forge_client>(name);
    SegmentBackend& def = c->namespaces.default_backend();
    if (!def.Maintain()) return Detached(c.get(), def, "default");
    *out = c.release();
    return FORGE_OK;
  });
}

int forge_client_get_key(forge_client* c, const char* ns, char* buf, size_t cap,
                         int timeout_ms) {
  return Guarded([&]() -> int {
    if (c == nullptr || buf == nullptr) {
      return Fail(FORGE_EINVAL, "client or buffer is NULL");
    }
    SegmentBackend* backend = nullptr;
    std::string_view name;
    if (const int rc = Lookup(c, ns, &backend, &name); rc != FORGE_OK) {
      return rc;
    }
    std::uint32_t length = 0;
    if (const int rc = KeyLength(c, *backend, name, &length); rc != FORGE_OK) {
      return rc;
    }
    if (cap < std::size_t{length} + 1) {
      return Fail(FORGE_ERANGE, "a key of namespace \"" + std::string(name) +
                                    "\" needs " + std::to_string(length + 1) +
                                    " bytes with its NUL; the buffer has " +
                                    std::to_string(cap));
    }
    Sink sink{buf, cap, false};
    return Pop(c, *backend, name, 1, timeout_ms, sink);
  });
}

int forge_client_get_keys(forge_client* c, const char* ns, size_t n, char* buf,
                          size_t cap, size_t* got, int timeout_ms) {
  if (got != nullptr) *got = 0;
  return Guarded([&]() -> int {
    if (c == nullptr || buf == nullptr || got == nullptr) {
      return Fail(FORGE_EINVAL, "client, buffer or got is NULL");
    }
    if (n == 0) return Fail(FORGE_EINVAL, "n is 0: ask for at least one key");
    SegmentBackend* backend = nullptr;
    std::string_view name;
    if (const int rc = Lookup(c, ns, &backend, &name); rc != FORGE_OK) {
      return rc;
    }
    std::uint32_t length = 0;
    if (const int rc = KeyLength(c, *backend, name, &length); rc != FORGE_OK) {
      return rc;
    }
    const std::size_t per_key = std::size_t{length} + 1;
    if (cap == 0 || n > (cap - 1) / per_key) {
      return Fail(
          FORGE_ERANGE,
          std::to_string(n) + " keys of namespace \"" + std::string(name) +
              "\" need " +
              (n > (SIZE_MAX - 1) / per_key ? std::string("more than SIZE_MAX")
                                            : std::to_string(n * per_key + 1)) +
              " bytes (" + std::to_string(per_key) +
              " per key with its newline, plus the NUL); the buffer "
              "has " +
              std::to_string(cap));
    }
    Sink sink{buf, cap, true};
    const int rc = Pop(c, *backend, name, n, timeout_ms, sink);
    *got = sink.got;
    return rc;
  });
}

void forge_client_close(forge_client* c) {
  Guarded([&]() -> int {
    delete c;
    return FORGE_OK;
  });
}

const char* forge_strerror(int code) {
  switch (code) {
    case FORGE_OK:
      return "success";
    case FORGE_EEMPTY:
      return "no key came within the timeout (the ring is empty)";
    case FORGE_EEXHAUSTED:
      return "the namespace's key space is used up: no key will come";
    case FORGE_ENOBROKER:
      return "no broker: no segment under that name, or its ring is empty "
             "and no forge-broker is alive";
    case FORGE_EBADSEGMENT:
      return "the segment is not usable: not a mini-forge segment, another "
             "layout version, damaged, or not ours to read";
    case FORGE_ENONS:
      return "no such namespace: no segment for it";
    case FORGE_ERANGE:
      return "the buffer is too small for what was asked: nothing was taken";
    case FORGE_EINVAL:
      return "a bad argument (NULL pointer, bad name, or n of 0)";
    case FORGE_ENOMEM:
      return "out of memory";
    default:
      return "unknown forge-client error code";
  }
}

const char* forge_last_error(void) { return last_error.c_str(); }

int forge_client_key_length(forge_client* c, const char* ns, size_t* length) {
  return Guarded([&]() -> int {
    if (c == nullptr || length == nullptr) {
      return Fail(FORGE_EINVAL, "client or length is NULL");
    }
    SegmentBackend* backend = nullptr;
    std::string_view name;
    if (const int rc = Lookup(c, ns, &backend, &name); rc != FORGE_OK) {
      return rc;
    }
    std::uint32_t n = 0;
    if (const int rc = KeyLength(c, *backend, name, &n); rc != FORGE_OK) {
      return rc;
    }
    *length = n;
    return FORGE_OK;
  });
}

}  // extern "C"
