// ctl/namespace_command.h — `forge-ctl namespace create|list|show|
// blocklist`: the namespaces (independent key spaces, issue 13) of the
// store DB_URL names and their key policy (issue 14).
//
// Contract
//   * The store is opened with its own format (OpenExistingStore,
//     store_access.h): never created. `create` may create a namespace,
//     never a store; `blocklist` changes one namespace's blocklist; `list`
//     and `show` write nothing.
//   * create NAME: the format is the config's KEY_LENGTH and KEY_ORDER
//     (--key-length after `create` may also be longer than KEY_LENGTH's
//     1..10, up to what the alphabet allows) and the policy --alphabet,
//     --check, --prefix (default: base62, none, none), checked before the
//     store is opened (policy_args.h: one line naming the rule, exit 2).
//     A new namespace gets its own secret from the store and the blocklist
//     --blocklist names (default: the built-in list). A namespace that
//     exists with the same format is left alone ("exists already", exit 0;
//     a different --blocklist is not applied: the line says how); with
//     another one it is a conflict (exit 2, one line naming the first field
//     that differs: length, order, alphabet, check, prefix): a namespace's
//     format is fixed at creation.
//   * blocklist NAME LIST: RangeStore::WriteBlocklist (which bumps the
//     store's policy generation, so the brokers re-filter); prints
//     `namespace "x" blocklist: OLD -> NEW`. Nothing is written when the
//     list is the same. A prefix containing a word of LIST is refused.
//   * list: one row per namespace ("default" first): name, key length,
//     order, alphabet, check, prefix, blocklist, the key of number 0 (an
//     example), key space, numbers used (the store's counter) and state.
//     show NAME: the same for one namespace, with the blocklist's word
//     count, its creation date and, when served, its segment and ring
//     fill.
//   * State is read from the namespace's segment under SHM_NAME with
//     shm::ReadStats ("running", "stopped", …; ServingState in stats.h), or
//     "not served" when it has none.
//   * Exit codes: 0 ok; 1 the store is missing or unusable; 2 a name that
//     breaks base::kNamespaceRule, an unknown namespace (show, blocklist),
//     a bad option or list, or a format conflict (create). Every error is
//     one line on stderr.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "config/config.h"
#include "ctl/policy_args.h"

namespace forge::ctl {

struct CreateRequest {
  std::string name;
  std::optional<int> key_length;  // --key-length after create; else config's
  PolicyOptions policy;
};

int RunNamespaceCreate(const config::Config& cfg, const CreateRequest& request,
                       std::ostream& out);
int RunNamespaceBlocklist(const config::Config& cfg, const std::string& name,
                          const std::string& list, std::ostream& out);
int RunNamespaceList(const config::Config& cfg, std::ostream& out);
int RunNamespaceShow(const config::Config& cfg, const std::string& name,
                     std::ostream& out);

}  // namespace forge::ctl
