// Clocks and the spin-wait hint, shared by the code that waits (the
// notifier, the engine's wake word) and that times its stages.
#pragma once

#include <time.h>

#include <cstdint>

namespace ivfs {

inline uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Tells the CPU this is a spin loop: cheaper for the sibling hyperthread,
// and no memory-order mis-speculation penalty when the word changes.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace ivfs
