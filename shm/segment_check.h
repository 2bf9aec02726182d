// shm/segment_check.h — validation of an existing segment before use.
// Internal to forge_shm.
//
// Contract
//   * Every Check* function returns an ok Status when the check passes,
//     else one whose message is one line for a person: the object's path,
//     what is wrong, what is allowed (base/status.h).
//   * CheckHeader reads the header's other fields only after the magic was
//     loaded with acquire order and matched, so it never interprets memory
//     of a foreign or half-created segment.
//   * Pure functions; safe from any thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "base/status.h"
#include "shm/layout.h"
#include "shm/segment.h"

namespace forge::shm {

// Mode 0600 or 0660 (SHM_MODE), never a bit for "other"; owner the
// effective uid, or (0660 only) a group this process is in: the segment
// holds the key secret, so nobody else may read it.
Status CheckOwnership(const struct stat& st, const std::string& path);

// Magic, version, header size, slot size, worker count: the parts that say
// "this build can read the rest". Needs file_size >= sizeof(Header).
Status CheckLayout(const Header& h, const std::string& path);

// Everything: CheckLayout, then capacity, key length and total size against
// the real file size.
Status CheckHeader(const Header& h, std::uint64_t file_size,
                   const std::string& path);

// The KeyFormat block read as a policy: digits in 1..MaxKeyLength of its
// alphabet, a known check the alphabet can carry, a prefix of
// keys::kPrefixRule, an alphabet that parses, and prefix + digits + check
// == Header::key_length. Else kCorruption naming the path and the field.
Result<keys::KeyPolicy> ReadKeyPolicy(const Header& h, const KeyFormat& f,
                                      const std::string& path);

// Ring indices obey head <= tail <= head + capacity (in keys).
Status CheckIndices(const SegmentPrefix& p, const std::string& path);

// The spec a producer asks for is itself valid (capacity, key length,
// policy).
Status CheckSpec(const SegmentSpec& spec);

// Same capacity, key length, key order and key format (policy, secret).
bool Compatible(const SegmentPrefix& p, const SegmentSpec& spec);

// "capacity 65536, key_length 7, key_order scrambled" (for messages),
// plus ", alphabet base58, check luhn, prefix inv_" when not the default.
std::string DescribeLayout(const SegmentPrefix& p);
// A number in a message (the segment's checks and segment.cpp share it).
std::string Num(std::uint64_t v);
std::string DescribeSpec(const SegmentSpec& spec);

}  // namespace forge::shm
