// shm/bus_guard.cpp — see bus_guard.h.
#include "shm/bus_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <utility>

namespace forge::shm {
namespace {

// One registered mapping. begin == 0 means the entry holds no range (the
// handler skips it); `used` reserves the entry while it is being filled.
struct Region {
  std::atomic<bool> used{false};
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};
  std::atomic<int> prot{0};
  std::atomic<bool> faulted{false};
};

Region g_regions[kMaxGuardedMappings];
struct sigaction g_previous {};  // written once, before our handler exists
std::once_flag g_install_once;

// The action that was there before ours, for faults that are not ours.
void Forward(int sig, siginfo_t* info, void* context) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 &&
      g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
      g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: restore it; the faulting access re-runs and kills us
  // with SIGBUS (and a core) as if we had never been here.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
}

// Replaces [begin, end) with private zero pages; raw syscall so that no
// sanitizer interceptor (which may lock) runs inside the handler.
bool ZeroFill(std::uintptr_t begin, std::uintptr_t end, int prot) {
  const long rc = ::syscall(SYS_mmap, begin, end - begin, prot,
                            MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return rc != -1;
}

extern "C" void OnBusError(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (Region& r : g_regions) {
    // acquire: pairs with Register's release store of begin, so end and
    // prot are the ones written for this range.
    const std::uintptr_t begin = r.begin.load(std::memory_order_acquire);
    if (begin == 0 || addr < begin) continue;
    // relaxed: ordered by the acquire load of begin above.
    const std::uintptr_t end = r.end.load(std::memory_order_relaxed);
    if (addr >= end) continue;
    // seq_cst: other threads of this process that touch the range after
    // the mmap below (which flushes their TLBs) must see the flag too.
    r.faulted.store(true, std::memory_order_seq_cst);
    if (ZeroFill(begin, end, r.prot.load(std::memory_order_relaxed))) return;
    break;  // cannot replace the pages: give up like an unguarded fault
  }
  const int saved = errno;
  Forward(sig, info, context);
  errno = saved;
}

void Install() {
  struct sigaction sa {};
  sa.sa_sigaction = OnBusError;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_previous);
}

int Register(void* data, std::size_t size, int prot) {
  std::call_once(g_install_once, Install);
  for (int i = 0; i < static_cast<int>(kMaxGuardedMappings); ++i) {
    Region& r = g_regions[i];
    bool expected = false;
    // acquire: the previous user's clearing of the entry is complete.
    if (!r.used.compare_exchange_strong(expected, true,
                                        std::memory_order_acquire)) {
      continue;
    }
    // relaxed (three stores): published by the release store of begin.
    r.faulted.store(false, std::memory_order_relaxed);
    r.prot.store(prot, std::memory_order_relaxed);
    r.end.store(reinterpret_cast<std::uintptr_t>(data) + size,
                std::memory_order_relaxed);
    // release: the handler that sees begin also sees end and prot.
    r.begin.store(reinterpret_cast<std::uintptr_t>(data),
                  std::memory_order_release);
    return i;
  }
  return -1;
}

void Unregister(int slot) {
  Region& r = g_regions[slot];
  // relaxed: the handler skips an entry whose begin is 0; the range is
  // unmapped only after this, so no fault in it can still arrive.
  r.begin.store(0, std::memory_order_relaxed);
  r.end.store(0, std::memory_order_relaxed);
  // release: the next Register (acquire CAS) sees the entry cleared.
  r.used.store(false, std::memory_order_release);
}

}  // namespace

Result<GuardedMapping> GuardedMapping::Map(int fd, std::size_t size,
                                           bool writable) {
  const int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* data = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return Status::IoError(std::strerror(errno));
  GuardedMapping m;
  m.data_ = data;
  m.size_ = size;
  m.slot_ = Register(data, size, prot);
  return m;
}

GuardedMapping::GuardedMapping(GuardedMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      slot_(std::exchange(other.slot_, -1)) {}

GuardedMapping& GuardedMapping::operator=(GuardedMapping&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

GuardedMapping::~GuardedMapping() { Reset(); }

void GuardedMapping::Reset() {
  if (slot_ >= 0) Unregister(slot_);
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  slot_ = -1;
}

bool GuardedMapping::faulted() const {
  // acquire: pairs with the handler's seq_cst store (free on x86); the TLB
  // flush of its mmap is what orders it against reads of the zero pages.
  return slot_ >= 0 && g_regions[slot_].faulted.load(std::memory_order_acquire);
}

}  // namespace forge::shm
