// ctl/check_key.h — `forge-ctl check-key [--ns NAME] KEY`: is a typed key
// one of the namespace's keys (right length and characters, check
// character right)? The offline twin of GET /check-key.
//
// Contract
//   * Reads the namespace's segment under SHM_NAME only (read-only, with
//     shm::SegmentCodec: format, policy and secret): never the store, so
//     it works wherever the segment is, and never disturbs the ring.
//   * Prints one JSON line as GET /check-key does:
//     {"namespace":"x","well_formed":b,"check_ok":b,"number":N}, always
//     with the number when check_ok (the operator can read the segment,
//     secret included).
//   * Exit codes: 0 check_ok; 1 not (the JSON says which part failed), or
//     no usable segment (one line on stderr); 2 a name breaking the rule.
#pragma once

#include <ostream>
#include <string>

namespace forge::ctl {

int RunCheckKey(const std::string& shm_name, const std::string& ns,
                const std::string& key, std::ostream& out);

}  // namespace forge::ctl
