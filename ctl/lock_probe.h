// ctl/lock_probe.h — is a live broker holding a segment's producer lock?
//
// Contract
//   * The probe lives next to the lock (shm/producer_lock.h), so one piece
//     of code knows how the lock file is written and read; forge-ctl uses
//     it through these names.
//   * It never creates the lock file and takes no lock (F_OFD_GETLK), so a
//     broker starting at the same instant never finds the lock busy
//     because of a probe.
//   * The holder's pid is the text the broker wrote into the file; it is
//     only meaningful while the lock is held (a file naming a live process
//     whose lock is gone is kFree).
#pragma once

#include "shm/producer_lock.h"

namespace forge::ctl {

using shm::LockProbe;
using shm::ProbeProducerLock;

}  // namespace forge::ctl
