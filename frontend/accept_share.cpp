#include "frontend/accept_share.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace forge::frontend {

AcceptShare::AcceptShare(std::size_t workers) : workers_(workers) {
  const std::size_t bytes = sizeof(Slot) * (workers == 0 ? 1 : workers);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(),
                            "mmap of the workers' connection counts");
  }
  slots_ = static_cast<Slot*>(p);
  for (std::size_t i = 0; i < workers_; ++i) {
    new (&slots_[i]) Slot{};
    MarkGone(i);
  }
}

AcceptShare::~AcceptShare() {
  ::munmap(slots_, sizeof(Slot) * (workers_ == 0 ? 1 : workers_));
}

void AcceptShare::Set(std::size_t worker, std::uint32_t open) {
  // relaxed: a hint for the other workers' next accept; nothing else is
  // published through it.
  if (worker < workers_)
    slots_[worker].open.store(open, std::memory_order_relaxed);
}

void AcceptShare::MarkGone(std::size_t worker) { Set(worker, kGone); }

bool AcceptShare::Fair(std::size_t self, std::uint32_t open) const {
  std::uint32_t least = kGone;
  for (std::size_t i = 0; i < workers_; ++i) {
    if (i == self) continue;
    // relaxed: see Set.
    const std::uint32_t other = slots_[i].open.load(std::memory_order_relaxed);
    if (other < least) least = other;
  }
  return least == kGone || open <= least + 1 + least / 16;
}

}  // namespace forge::frontend
