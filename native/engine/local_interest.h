// Whether anything in this process waits for the peer: a request asleep on
// a ring, or an armed poll. The engine counts its channels whose waiting
// flags are raised; a poll-mode notifier, which costs CPU for every nap
// (about 200 wake-ups a second, even on a mount nobody uses), parks while
// the count stays zero, since a ring that no one here waits for needs no
// answer: the next request reads the state itself. The first channel to
// raise a flag wakes the parked notifier before its request sleeps.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace ivfs {

class LocalInterest {
 public:
  // A channel raised its first waiting flag / lowered its last one.
  void raise() {
    if (channels_.fetch_add(1) != 0) return;
    raises_.fetch_add(1);
    if (parked_.load()) wake_parked();
  }
  void lower() { channels_.fetch_sub(1); }

  // For the notifier: read raises() before a stretch of watching, then
  // idle_since() says whether no one waited and no one started to since.
  uint32_t raises() const { return raises_.load(); }
  bool idle_since(uint32_t raises) const { return channels_.load() == 0 && raises_.load() == raises; }
  // Sleeps until a raise or wake(), at most `timeout_ms`, unless one
  // came after `raises` was read. (parked_ before the check, raise's count
  // before its look at parked_: sequentially consistent, so one of the two
  // sees the other and no raise is slept through.)
  void park(long timeout_ms, uint32_t raises) {
    parked_.store(true);
    if (idle_since(raises)) {
      struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
      syscall(SYS_futex, reinterpret_cast<uint32_t *>(&raises_), FUTEX_WAIT_PRIVATE, raises, &ts, nullptr, 0);
    }
    parked_.store(false);
  }
  bool parked() const { return parked_.load(); }
  // Ends a park at once (the notifier is stopping).
  void wake() {
    raises_.fetch_add(1);
    wake_parked();
  }

 private:
  void wake_parked() { syscall(SYS_futex, reinterpret_cast<uint32_t *>(&raises_), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0); }

  std::atomic<uint32_t> channels_{0};  // channels with a waiting flag raised
  std::atomic<uint32_t> raises_{0};    // moves when channels_ leaves zero (the futex word)
  std::atomic<bool> parked_{false};
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex on the atomic's storage");
};

}  // namespace ivfs
