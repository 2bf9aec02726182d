#include "frontend/cpu_steer.h"

#include <linux/filter.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "base/process.h"

namespace forge::frontend {

std::vector<int> SteerCpus(int workers) {
  std::vector<int> cpus = base::AllowedCpus();
  if (cpus.size() < 2 || static_cast<std::size_t>(workers) < cpus.size()) {
    cpus.clear();  // one CPU: nothing to steer; fewer workers: see header
  }
  return cpus;
}

bool SteerByCpu(int fd, std::span<const int> cpus,
                const std::vector<bool>& serving) {
  const std::size_t n = cpus.size();
  if (n == 0 || serving.size() != n) {
    errno = EINVAL;
    return false;
  }
  // SKF_AD_CPU: the CPU running the filter, i.e. processing the SYN.
  std::vector<sock_filter> code;
  code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                          static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_CPU)));
  for (std::size_t j = 0; j < n; ++j) {
    std::size_t to = j;  // the next slot that has a worker, j itself first
    for (std::size_t k = 0; k < n && !serving[to]; ++k) to = (j + k + 1) % n;
    // Equal: fall through to "return to"; else skip that return.
    code.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                            static_cast<std::uint32_t>(cpus[j]), 0, 1));
    code.push_back(BPF_STMT(BPF_RET | BPF_K, static_cast<std::uint32_t>(to)));
  }
  code.push_back(
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<std::uint32_t>(n)));
  code.push_back(BPF_STMT(BPF_RET | BPF_A, 0));
  const sock_fprog program{static_cast<unsigned short>(code.size()),
                           code.data()};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program,
                      sizeof(program)) == 0;
}

bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

int IncomingCpu(int fd) {
  int cpu = -1;
  socklen_t len = sizeof(cpu);
  if (::getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) != 0) {
    return -1;
  }
  return cpu;
}

}  // namespace forge::frontend
