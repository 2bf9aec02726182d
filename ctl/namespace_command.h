// ctl/namespace_command.h — `forge-ctl namespace create|list|show`: the
// namespaces (independent key spaces, issue 13) of the store DB_URL names.
//
// Contract
//   * The store is opened with its own format (OpenExistingStore,
//     store_access.h): never created. `create` may create a namespace,
//     never a store; `list` and `show` write nothing.
//   * create NAME: the format is the config's KEY_LENGTH and KEY_ORDER
//     (--key-length, --key-order, as every forge-ctl command reads them).
//     A new namespace gets its own secret from the store. A namespace that
//     exists with the same length and order is left alone ("exists
//     already", exit 0); with another one it is a conflict (exit 2, one
//     line naming the field): a namespace's format is fixed at creation.
//   * list: one row per namespace ("default" first): name, key length,
//     order, key space, numbers used (the store's counter) and state.
//     show NAME: the same for one namespace, with its creation date and,
//     when served, its segment and ring fill.
//   * State is read from the namespace's segment under SHM_NAME with
//     shm::ReadStats ("running", "stopped", …; ServingState in stats.h), or
//     "not served" when it has none.
//   * Exit codes: 0 ok; 1 the store is missing or unusable; 2 a name that
//     breaks base::kNamespaceRule, an unknown namespace (show) or a format
//     conflict (create). Every error is one line on stderr.
#pragma once

#include <ostream>
#include <string>

#include "config/config.h"

namespace forge::ctl {

int RunNamespaceCreate(const config::Config& cfg, const std::string& name,
                       std::ostream& out);
int RunNamespaceList(const config::Config& cfg, std::ostream& out);
int RunNamespaceShow(const config::Config& cfg, const std::string& name,
                     std::ostream& out);

}  // namespace forge::ctl
