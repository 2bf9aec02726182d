// tests/shm/child.h — a forked child process running a lambda: a
// forge::testing::Process made by Process::Fork (see its contract: the
// child leaves with _exit, and the destructor SIGKILLs and reaps it).
#pragma once

#include <functional>

#include "tests/support/process.h"

namespace forge::shm::testing {

class Child : public forge::testing::Process {
 public:
  explicit Child(const std::function<int()>& body)
      : Process(Process::Fork(body)) {}
};

}  // namespace forge::shm::testing
