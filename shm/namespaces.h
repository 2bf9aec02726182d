// shm/namespaces.h — which segments exist in /dev/shm, and which namespaces
// have a segment under one SHM_NAME.
//
// Contract
//   * A namespace is served under SHM_NAME x when its segment exists:
//     /dev/shm/mini-forge.x for "default", /dev/shm/mini-forge.x@NS for
//     the others (base::NamespaceSegmentName). Brokers create them; nothing
//     but an operator (forge-ctl segment remove) ever deletes one, because
//     namespaces are never deleted from a store.
//   * SegmentFiles lists every file named mini-forge.* in /dev/shm from one
//     scan (readdir, no file is opened), by name, lock files left out. It
//     lists what is there, also files no broker would name so (a crashed
//     creator's staging file, another program's): base::IsSegmentName
//     tells them apart.
//   * ServedNamespaces lists the namespaces of one SHM_NAME from the same
//     scan: "default" first when present, then the others by name. Names
//     that break the namespace rule are skipped.
//   * A missing or unreadable /dev/shm gives an empty list.
//   * Neither says a broker is alive or the ring has keys: read the
//     segment for that (shm/stats.h). Thread-safe; call them on a timer or
//     on a slow path (an unknown namespace, forge-ctl), never per key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace forge::shm {

// One file in /dev/shm that looks like a segment.
struct SegmentFile {
  std::string name;  // after "mini-forge.": "x" or "x@ns" for a broker's
  std::string path;  // /dev/shm/mini-forge.<name>
};

std::vector<SegmentFile> SegmentFiles();

std::vector<std::string> ServedNamespaces(std::string_view shm_name);

}  // namespace forge::shm
