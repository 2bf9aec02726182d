// ctl/codec_command.h — `forge-ctl decode KEY` and `forge-ctl encode
// NUMBER`: trace a key back to its number and forth, with the format
// (key length, order, secret, alphabet, check, prefix) of namespace `ns`
// ("default": the store's original key space) of the store DB_URL names.
//
// Contract
//   * The store is opened with OpenNamespaceStore (never created, nor the
//     namespace; see store_access.h). Nothing is reserved or written.
//   * Output: decode prints the number, encode prints the key as issued
//     (prefix + digits + check character), each on one line on `out`.
//     decode accepts the key with or without the prefix, with the
//     alphabet's other spellings (crockford32's lower case, I, L, O), and
//     verifies the check character. When the namespace's current
//     blocklist (RangeStore::ReadBlocklist) would block the key, both add
//     a second line `blocked: contains "word" (blocklist …): …`.
//   * Exit codes: 0 ok; 1 the store is missing or unusable; 2 the namespace
//     name breaks the rule or the store has no such namespace, the KEY is
//     not a key of the namespace's format (length, prefix, alphabet, check
//     character: the line says which) or the NUMBER
//     is not a decimal number inside its key space. Every error is one line on
//     stderr saying what was wrong and what is allowed.
#pragma once

#include <ostream>
#include <string>

#include "config/config.h"

namespace forge::ctl {

int RunDecode(const config::Config& cfg, const std::string& ns,
              const std::string& key, std::ostream& out);
int RunEncode(const config::Config& cfg, const std::string& ns,
              const std::string& number, std::ostream& out);

}  // namespace forge::ctl
