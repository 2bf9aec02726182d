// shm/namespaces.h — which namespaces have a segment under one SHM_NAME.
//
// Contract
//   * A namespace is served under SHM_NAME x when its segment exists:
//     /dev/shm/mini-forge.x for "default", /dev/shm/mini-forge.x@NS for
//     the others (base::NamespaceSegmentName). Brokers create them; nothing
//     ever deletes one, because namespaces are never deleted from a store.
//   * ServedNamespaces lists them from one scan of /dev/shm (readdir, no
//     file is opened): "default" first when present, then the others by
//     name. Lock files and names that break the namespace rule are
//     skipped. A missing or unreadable /dev/shm gives an empty list.
//   * It does not say a broker is alive or the ring has keys: read the
//     segment for that (shm/stats.h). Thread-safe; call it on a timer or
//     on a slow path (an unknown namespace, forge-ctl), never per key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace forge::shm {

std::vector<std::string> ServedNamespaces(std::string_view shm_name);

}  // namespace forge::shm
