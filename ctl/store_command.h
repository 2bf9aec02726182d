// ctl/store_command.h — `forge-ctl store advance --ns NAME --to N`: the
// operator's recovery step after a store was restored from a backup or
// lost writes in a failover (docs/scaling-out.md, "Restore from backup").
//
// Contract
//   * The store is opened with OpenNamespaceStore (never created, nor the
//     namespace; see store_access.h).
//   * advance moves namespace NAME's counter forward to N and empties its
//     returned list, in one transaction (RangeStore::Advance; a restored
//     list may hold numbers handed out after the backup was taken). It
//     prints one line: `namespace "x" counter: OLD -> N (D returned
//     numbers dropped)`. N equal to the counter only drops the list.
//   * It never moves a counter backwards: N below the counter, or past the
//     key space, or not a decimal number, is refused with one line on
//     stderr naming the counter and what is allowed, exit 2, nothing
//     written.
//   * Exit codes: 0 ok; 1 the store is missing or unusable; 2 a bad N or
//     namespace (as the other commands).
#pragma once

#include <ostream>
#include <string>

#include "config/config.h"

namespace forge::ctl {

int RunStoreAdvance(const config::Config& cfg, const std::string& ns,
                    const std::string& to, std::ostream& out);

}  // namespace forge::ctl
