// ctl/segment_command.h — `forge-ctl segment list [--json]` and `forge-ctl
// segment remove NAME [--ns NS]`: the segments left in /dev/shm, and
// removing one nobody uses (a segment outlives its processes by design: a
// restarted broker re-attaches it).
//
// Contract
//   * list: every segment file in /dev/shm (shm::SegmentFiles, lock files
//     left out), by name. Each is read once through the readers of
//     stats/ (stats::TryReadSnapshot: read-only, it never disturbs a
//     broker, worker or client) plus the producer-lock probe (takes no
//     lock): name (SHM_NAME, or SHM_NAME@NS), size in bytes, broker pid and
//     state (stats::ServingState), the live pids in its worker slots
//     (HTTP workers and shared-memory clients), keys in the ring. A file
//     that cannot be read (damaged, another layout version, a foreign or
//     half-made file, a name no broker makes) is listed with its problem
//     in one line. --json prints one object on one line; its fields are
//     documented in docs/forge-ctl.md.
//   * remove: NAME is a segment name as list shows it (SHM_NAME@NS), or a
//     SHM_NAME with --ns NS. It refuses, exit 1 and one line naming them,
//     while a broker (the producer lock is held, or the segment's broker
//     is alive: shm::BrokerAlive) or any process in a worker slot is
//     alive; nothing is removed then. Otherwise it unlinks the segment,
//     then its lock file if no one holds the lock by then, and prints one
//     line (the keys left in the ring become gaps: never issued). A
//     segment that cannot be read is removed when no broker holds its lock
//     (its worker slots cannot be read). A broker or worker that starts
//     between the check and the unlink sees the segment deleted and
//     replaces (broker) or re-attaches (workers) it, as after any deletion.
//   * Exit codes: 0 ok (list: also when there is no segment); 1 remove
//     refused (in use), no such segment, or the unlink failed; 2 a bad
//     NAME or NS (one line naming the rule). Messages go to stderr.
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace forge::ctl {

int RunSegmentList(bool json, std::ostream& out);

int RunSegmentRemove(const std::string& name,
                     const std::optional<std::string>& ns, std::ostream& out);

}  // namespace forge::ctl
