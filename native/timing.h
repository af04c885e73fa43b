// Every interval and threshold of the native side, once, with why its value
// (the TypeScript side's are in src/timing.ts); and the clocks and the
// spin-wait hint shared by the code that waits (the notifier, the engine's
// wake word) and that times its stages.
#pragma once

#include <time.h>

#include <cstdint>

namespace ivfs {

// Liveness, shared by every holder of a side (a mount's daemon through
// src/timing.ts, which takes these from the addon, and the C library): a
// holder beats this often (side state, area mapping)...
constexpr long kHeartbeatMs = 250;
// ...a holder still recorded as attached is watched this long before its
// side, peer name or region is taken (and before status calls it alive):
// four beats, so a live holder has moved it...
constexpr long kLivenessWatchMs = 1000;
// ...and a peer whose heartbeat stands still this long is dead: its readers
// and writers end (EOF, EPIPE). Longer than the watch, since ending
// channels under a peer that was only slow (a busy TCG guest) loses its
// data in flight.
constexpr long kPeerDeadMs = 3000;
// A waiting request re-checks on its own this often. Only a safety net:
// every event a waiter needs (data, space, close, stop, peer death) wakes
// it, and each tick costs a waiting TCG guest's daemon a few ms of CPU.
constexpr long kEngineTickMs = 1000;
// A notifier thread re-checks its bell this often (and sees a stop).
constexpr long kNotifierTickMs = 200;
// The poll notifier spins this many rounds (about 20 us) before napping.
constexpr int kPollSpinRounds = 2000;
// The doorbell hub's thread wakes this often without an interrupt.
constexpr int kHubTickMs = 1000;
// A request whose peer descriptor is inside close() waits this long for
// its release (then EPIPE or EOF), in naps of kClosingNapMs.
constexpr long kClosingWaitMs = 100;
constexpr long kClosingNapMs = 5;
// Cross-peer locks (the channel table's, the area registry's): a holder
// keeps one for microseconds, so one that looks held for kLockStaleMs
// (owner dead, its heartbeat or token standing still) is taken over, and a
// waiter gives up after kLockGiveUpMs. Above the 1 s liveness watch.
constexpr uint32_t kLockStaleMs = 2000;
constexpr uint32_t kLockGiveUpMs = 5000;
// How long stopping a mount waits for libfuse threads still inside a hook,
// and a request that found corruption waits for the log line.
constexpr int kStopWaitMs = 1000;

// Wall clock in ms: times a user reads (formatted at, attached since).
inline uint64_t wall_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

inline uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline uint64_t monotonic_ms() { return monotonic_ns() / 1000000; }

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
