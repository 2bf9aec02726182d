// config/namespaces.h — the namespace settings that are not one flat
// value: config.yml's `namespaces:` map and the AUTH_TOKENS_FILE file
// (internal to config/; the loader calls these after the flat keys).
//
// Contract
//   * DeclaredNamespaces turns YamlFile::namespaces into NamespaceDecls,
//     checking each name (base::IsNamespaceName, not "default": that one
//     is KEY_LENGTH/KEY_ORDER/POOL_CAPACITY) and each field by the rule of
//     the flat key it mirrors (key_order: KEY_ORDER's, pool_capacity:
//     POOL_CAPACITY's) or keys/'s (alphabet: keys::kAlphabetRule, check:
//     kCheckRule and CheckProblem, prefix: kPrefixRule, key_length:
//     1..MaxKeyLength of the alphabet, KeyLengthProblem naming the
//     largest), so the rules exist once. blocklist is default, none or a
//     word FILE relative to config.yml's folder, read now
//     (keys::ParseBlocklistWords); a prefix containing a word of its
//     blocklist is refused. Errors are ConfigError lines naming
//     config.yml file:line and the rule.
//   * ReadScopedTokens reads AUTH_TOKENS_FILE (a regular file of at most
//     1 MiB, opened without blocking): one "TOKEN ns1,ns2" per line; blank
//     lines and lines starting with # are skipped. Each token follows
//     AUTH_TOKEN's rule, appears once and differs from AUTH_TOKEN; each
//     namespace follows the name rule. Errors name the file and line and
//     never show a token.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_file.h"

namespace forge::config::internal {

std::vector<NamespaceDecl> DeclaredNamespaces(const YamlFile& yml);

// `path` as given (relative to `cwd`), `origin` where it was set.
std::vector<ScopedToken> ReadScopedTokens(const std::string& path,
                                          const std::string& origin,
                                          const std::string& cwd,
                                          const std::string& auth_token);

}  // namespace forge::config::internal
