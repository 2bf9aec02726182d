// frontend/cpu_steer.h — one listening socket per CPU, and the worker on
// that CPU serves it (WORKER_CPU_AFFINITY=auto, docs/design.md §8).
//
// Why: on loopback (and with RSS/RPS on a NIC) a request's packets are
// processed on the CPU of the sending thread or queue. When the worker that
// answers runs on that same CPU, a request costs no cross-CPU wake-up;
// measured with wrk on 2 cores (issue 18) that is the difference between
// nginx's throughput and p99 and 1.3× its throughput at a fifth of its p99.
//
// Contract
//   * SteerCpus(workers) lists the CPUs this process may run on
//     (base::AllowedCpus), when `workers` covers each of
//     them at least once; else it is empty and the frontend keeps one shared
//     socket (a CPU without a worker would leave its connections waiting).
//     Slot j of everything below belongs to CPU cpus[j]; worker i serves
//     slot i % cpus.size().
//   * SteerByCpu attaches to one socket of a SO_REUSEPORT group (which
//     holds one socket per slot, joined in slot order) a classic BPF program
//     that sends a new connection to slot j when its SYN is processed on
//     cpus[j], or to the next slot that `serving` marks when slot j's
//     workers are all gone; a SYN processed on another CPU goes to slot
//     (cpu mod slots). Replacing the program is atomic for the group: the
//     master calls it again whenever a slot loses its last worker or gets
//     one back. False (errno set) if the kernel refused it.
//   * PinToCpu binds the calling thread (and the threads it starts later,
//     unless they say otherwise: thread_pool.h) to one CPU. IncomingCpu is the
//     CPU that processed the latest packet a connection received
//     (SO_INCOMING_CPU), or -1.
//   * Plain functions over system calls; no state, safe anywhere.
#pragma once

#include <span>
#include <vector>

namespace forge::frontend {

[[nodiscard]] std::vector<int> SteerCpus(int workers);

[[nodiscard]] bool SteerByCpu(int fd, std::span<const int> cpus,
                              const std::vector<bool>& serving);

[[nodiscard]] bool PinToCpu(int cpu);

int IncomingCpu(int fd);

}  // namespace forge::frontend
