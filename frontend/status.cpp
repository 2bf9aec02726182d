// frontend/status.cpp — see status.h.
#include "frontend/status.h"

#include <exception>
#include <utility>

#include "base/clock.h"

namespace forge::frontend {
namespace {

constexpr auto kRateWindowNs =
    static_cast<std::uint64_t>(std::chrono::nanoseconds(kRateWindow).count());

}  // namespace

StatusSource::StatusSource(std::string shm_name)
    : StatusSource(
          [name = std::move(shm_name)](std::uint64_t now) {
            return stats::ReadOverview(name, now);
          },
          base::UnixNowNs) {}

StatusSource::StatusSource(Reader read, Clock clock)
    : read_(std::move(read)), clock_(std::move(clock)) {}

Result<std::string> StatusSource::Json() {
  std::lock_guard lock(mu_);
  const std::uint64_t now = clock_();
  Kept current{{}, now};
  try {
    current.overview = read_(now);
  } catch (const std::exception& e) {
    last_.reset();
    before_last_.reset();
    return Status(Code::kUnavailable, e.what());
  }
  const bool last_old = last_ && now >= last_->at_ns + kRateWindowNs;
  // The newest kept Overview at least kRateWindow old: the last one, or
  // the one before it while the last is still too young.
  const Kept* base = last_old       ? &*last_
                     : before_last_ ? &*before_last_
                                    : nullptr;
  if (base != nullptr) stats::AddRates(base->overview, &current.overview);
  std::string json = stats::FormatJson(current.overview);
  if (!last_ || last_old) {
    before_last_ = std::move(last_);
    last_ = std::move(current);
  }
  return json;
}

}  // namespace forge::frontend
