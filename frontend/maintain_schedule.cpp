#include "frontend/maintain_schedule.h"

namespace forge::frontend {

MaintainSchedule::Step MaintainSchedule::After(bool attached,
                                               Clock::time_point now) {
  if (last_full_) next_full_ = now + kMaintainEvery;
  if (attached) {
    detached_since_.reset();
  } else if (!detached_since_) {
    detached_since_ = now;
  }
  const Clock::time_point quick = now + kQuickAttachEvery;
  last_full_ = attached || now - *detached_since_ >= kQuickAttachFor ||
               quick >= next_full_;
  return {last_full_ ? next_full_ : quick, last_full_};
}

}  // namespace forge::frontend
