// tests/shm/segment_error_of.h — the message of a SegmentError, for the
// shm tests that check what an operator reads.
//
// Contract
//   * ErrorOf(fn) runs fn and returns what() of the SegmentError it throws,
//     or "" when it throws none; any other exception propagates.
#pragma once

#include <string>

#include "shm/segment.h"

namespace forge::shm::testing {

template <typename Fn>
std::string ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const SegmentError& e) {
    return e.what();
  }
  return "";
}

}  // namespace forge::shm::testing
