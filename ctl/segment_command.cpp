// ctl/segment_command.cpp — see segment_command.h.
#include "ctl/segment_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

#include "base/clock.h"
#include "base/names.h"
#include "ctl/store_access.h"
#include "shm/namespaces.h"
#include "shm/producer_lock.h"
#include "shm/segment.h"
#include "stats/stats.h"
#include "stats/text.h"

namespace forge::ctl {
namespace {

// One segment file as `segment list` shows it.
struct Row {
  shm::SegmentFile file;
  bool named = false;  // base::IsSegmentName: a name a broker may make
  std::optional<std::uint64_t> size_bytes;  // nullopt: gone while listed
  std::optional<stats::Snapshot> snap;
  std::string problem;  // one line, set when snap is nullopt
  shm::LockProbe lock;  // probed only when `named`
};

std::optional<std::uint64_t> FileSize(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

std::string NotASegmentName(const std::string& path) {
  return path +
         " is not named as forge-broker names segments (SHM_NAME or "
         "SHM_NAME@NAMESPACE): a broker's unfinished segment or another "
         "program's file; rm " +
         path + " if nothing uses it";
}

Row ReadRow(const shm::SegmentFile& file, std::uint64_t now) {
  Row row;
  row.file = file;
  row.size_bytes = FileSize(file.path);
  row.named = base::IsSegmentName(file.name);
  if (!row.named) {
    row.problem = NotASegmentName(file.path);
    return row;
  }
  row.snap = stats::TryReadSnapshot(file.name, now, &row.problem);
  row.lock = shm::ProbeProducerLock(shm::Segment::LockPath(file.name));
  return row;
}

// The processes alive in the segment's worker slots, in slot order.
std::vector<shm::WorkerStats> LiveConsumers(const stats::Snapshot& s) {
  std::vector<shm::WorkerStats> live;
  std::copy_if(s.workers.begin(), s.workers.end(), std::back_inserter(live),
               [](const shm::WorkerStats& w) { return w.alive; });
  return live;
}

std::string Join(const std::vector<std::string>& parts,
                 const std::string& separator) {
  std::string text;
  for (const std::string& part : parts) {
    text += (text.empty() ? "" : separator) + part;
  }
  return text;
}

// ---- list: table ----

std::string SizeText(const Row& r) {
  return r.size_bytes ? std::to_string(*r.size_bytes) : "-";
}

std::string TableLine(int name_width, const Row& r) {
  char line[256];
  if (!r.snap) {
    std::snprintf(line, sizeof line, "%-*s  %-10s  ", name_width,
                  r.file.name.c_str(), SizeText(r).c_str());
    return line + ("unreadable: " + r.problem) + "\n";
  }
  const stats::Snapshot& s = *r.snap;
  const std::string broker =
      s.broker_pid == 0 ? "-" : std::to_string(s.broker_pid);
  std::snprintf(line, sizeof line, "%-*s  %-10s  %-8s  %-7zu  %-9llu  ",
                name_width, r.file.name.c_str(), SizeText(r).c_str(),
                broker.c_str(), LiveConsumers(s).size(),
                static_cast<unsigned long long>(s.ring_fill));
  return line + stats::ServingState(s) + "\n";
}

std::string FormatTable(const std::vector<Row>& rows) {
  if (rows.empty()) return "no segments in /dev/shm (mini-forge.*)\n";
  int width = 4;  // "name"
  for (const Row& r : rows) {
    width = std::max(width, static_cast<int>(r.file.name.size()));
  }
  char head[256];
  std::snprintf(head, sizeof head, "%-*s  %-10s  %-8s  %-7s  %-9s  %s\n", width,
                "name", "bytes", "broker", "workers", "keys", "state");
  std::string text = head;
  for (const Row& r : rows) text += TableLine(width, r);
  return text;
}

// ---- list: JSON ----

std::string Quote(const std::string& text) { return stats::JsonQuote(text); }

std::string JsonLock(const Row& r) {
  if (!r.named) return "null";
  switch (r.lock.state) {
    case shm::LockProbe::State::kNoFile:
      return "{\"state\":\"none\"}";
    case shm::LockProbe::State::kFree:
      return "{\"state\":\"free\"}";
    case shm::LockProbe::State::kHeld:
      return "{\"state\":\"held\",\"pid\":" +
             std::to_string(r.lock.holder_pid) + "}";
    case shm::LockProbe::State::kError:
      break;
  }
  return "{\"state\":\"error\",\"error\":" + Quote(r.lock.error) + "}";
}

std::string JsonPids(const std::vector<shm::WorkerStats>& workers) {
  std::vector<std::string> pids;
  for (const shm::WorkerStats& w : workers) {
    pids.push_back(std::to_string(w.pid));
  }
  // Appended, not "[" + ...: GCC 12 -O3 warns (-Wrestrict, a known false
  // positive) on a literal + temporary string.
  std::string out = "[";
  out += Join(pids, ",");
  out += ']';
  return out;
}

// The fields read from the segment; all null when it could not be read.
std::string JsonReading(const Row& r) {
  if (!r.snap) {
    return "\"broker\":null,\"worker_pids\":null,\"ring\":null";
  }
  const stats::Snapshot& s = *r.snap;
  return "\"broker\":{\"pid\":" + std::to_string(s.broker_pid) +
         ",\"alive\":" + (s.broker_alive ? "true" : "false") +
         ",\"state\":" + Quote(shm::BrokerStateName(s.broker_state)) +
         ",\"serving\":" + Quote(stats::ServingState(s)) +
         "},\"worker_pids\":" + JsonPids(LiveConsumers(s)) +
         ",\"ring\":{\"fill\":" + std::to_string(s.ring_fill) +
         ",\"capacity\":" + std::to_string(s.ring_capacity) + "}";
}

std::string JsonRow(const Row& r) {
  const base::SegmentNameParts parts = base::SplitSegmentName(r.file.name);
  const std::string shm_name =
      r.named ? Quote(std::string(parts.shm_name)) : "null";
  const std::string ns = r.named ? Quote(std::string(parts.ns)) : "null";
  return "{\"name\":" + Quote(r.file.name) + ",\"shm_name\":" + shm_name +
         ",\"namespace\":" + ns + ",\"path\":" + Quote(r.file.path) +
         ",\"size_bytes\":" +
         (r.size_bytes ? std::to_string(*r.size_bytes) : "null") +
         ",\"problem\":" + (r.snap ? "null" : Quote(r.problem)) +
         ",\"lock\":" + JsonLock(r) + "," + JsonReading(r) + "}";
}

std::string FormatJson(const std::vector<Row>& rows) {
  std::vector<std::string> items;
  for (const Row& r : rows) items.push_back(JsonRow(r));
  return "{\"segments\":[" + Join(items, ",") + "]}\n";
}

// ---- remove ----

// The segment NAME [--ns NS] names; throws BadArgument when it breaks a
// rule.
std::string SegmentNameOf(const std::string& name,
                          const std::optional<std::string>& ns) {
  const base::SegmentNameParts parts = base::SplitSegmentName(name);
  const bool has_ns = name.find(base::kNamespaceSeparator) != std::string::npos;
  if (base::CheckShmName(parts.shm_name) != base::ShmNameFault::kNone) {
    throw BadArgument("segment NAME " + Quote(name) +
                      " is not a segment name: use SHM_NAME (" +
                      std::string(base::kShmNameRule) +
                      ") or SHM_NAME@NAMESPACE as segment list shows it");
  }
  if (has_ns && ns) {
    throw BadArgument("segment NAME " + Quote(name) +
                      " names its namespace already: give NAME@NS or NAME "
                      "--ns NS, not both");
  }
  const std::string namespace_name(ns ? *ns : std::string(parts.ns));
  CheckNamespaceName(namespace_name);
  return base::NamespaceSegmentName(parts.shm_name, namespace_name);
}

// "worker pids 12, 13": the live pids of one kind of consumer, or "".
std::string PidsOfKind(const std::vector<shm::WorkerStats>& live,
                       shm::ConsumerKind kind) {
  std::vector<std::string> pids;
  for (const shm::WorkerStats& w : live) {
    if (w.kind == kind) pids.push_back(std::to_string(w.pid));
  }
  if (pids.empty()) return "";
  return std::string(shm::ConsumerKindName(kind)) +
         (pids.size() == 1 ? " pid " : " pids ") + Join(pids, ", ");
}

// Who keeps the segment in use: the broker and the live consumers.
std::vector<std::string> Users(const std::optional<stats::Snapshot>& snap,
                               const shm::LockProbe& lock) {
  std::vector<std::string> users;
  if (lock.state == shm::LockProbe::State::kHeld) {
    users.push_back("broker pid " + std::to_string(lock.holder_pid) +
                    " (holds its producer lock)");
  } else if (snap && snap->broker_alive) {
    users.push_back("broker pid " + std::to_string(snap->broker_pid) +
                    " (alive, " + shm::BrokerStateName(snap->broker_state) +
                    ")");
  }
  if (!snap) return users;
  const std::vector<shm::WorkerStats> live = LiveConsumers(*snap);
  for (const shm::ConsumerKind kind :
       {shm::ConsumerKind::kWorker, shm::ConsumerKind::kClient}) {
    if (std::string pids = PidsOfKind(live, kind); !pids.empty()) {
      users.push_back(std::move(pids));
    }
  }
  return users;
}

// What became of the lock file after the segment went.
std::string RemoveLockFile(const std::string& lock_path) {
  const shm::LockProbe now = shm::ProbeProducerLock(lock_path);
  switch (now.state) {
    case shm::LockProbe::State::kNoFile:
      return "";
    case shm::LockProbe::State::kFree:
      if (::unlink(lock_path.c_str()) == 0 || errno == ENOENT) {
        return " and its lock file " + lock_path;
      }
      return "; its lock file " + lock_path + " stays: " + std::strerror(errno);
    case shm::LockProbe::State::kHeld:
      return "; its lock file " + lock_path + " stays: broker pid " +
             std::to_string(now.holder_pid) + " took it meanwhile";
    case shm::LockProbe::State::kError:
      break;
  }
  return "; its lock file stays: " + now.error;
}

std::string Gaps(const std::optional<stats::Snapshot>& snap) {
  if (!snap) return " (unreadable, so its worker slots were not checked)";
  if (snap->ring_fill == 0) return "";
  return " (" + std::to_string(snap->ring_fill) +
         " keys in its ring become gaps, never issued)";
}

int Remove(const std::string& name, const std::optional<std::string>& ns,
           std::ostream& out) {
  const std::string segment = SegmentNameOf(name, ns);
  const std::string path = shm::Segment::ObjectPath(segment);
  if (!FileSize(path)) {
    std::cerr << "forge-ctl: no segment " << Quote(segment) << " (" << path
              << "): " << std::strerror(errno)
              << "; forge-ctl segment list shows the segments\n";
    return 1;
  }
  std::string problem;  // an unreadable segment is removed all the same
  const std::optional<stats::Snapshot> snap =
      stats::TryReadSnapshot(segment, base::UnixNowNs(), &problem);
  const std::string lock_path = shm::Segment::LockPath(segment);
  const shm::LockProbe lock = shm::ProbeProducerLock(lock_path);
  if (lock.state == shm::LockProbe::State::kError) {
    std::cerr << "forge-ctl: cannot tell whether a broker uses " << path << ": "
              << lock.error << "; nothing was removed\n";
    return 1;
  }
  if (const std::vector<std::string> users = Users(snap, lock);
      !users.empty()) {
    std::cerr << "forge-ctl: segment " << Quote(segment) << " (" << path
              << ") is in use by " << Join(users, " and ")
              << ": stop them first; nothing was removed\n";
    return 1;
  }
  if (::unlink(path.c_str()) != 0) {
    std::cerr << "forge-ctl: cannot remove " << path << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  out << "removed " << path << RemoveLockFile(lock_path) << Gaps(snap) << "\n";
  return 0;
}

}  // namespace

int RunSegmentList(bool json, std::ostream& out) {
  const std::uint64_t now = base::UnixNowNs();
  std::vector<Row> rows;
  for (const shm::SegmentFile& file : shm::SegmentFiles()) {
    rows.push_back(ReadRow(file, now));
  }
  out << (json ? FormatJson(rows) : FormatTable(rows)) << std::flush;
  return 0;
}

int RunSegmentRemove(const std::string& name,
                     const std::optional<std::string>& ns, std::ostream& out) {
  return WithStoreErrors([&] { return Remove(name, ns, out); });
}

}  // namespace forge::ctl
