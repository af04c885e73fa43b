#include "wake_word.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "../ring.h"
#include "../timing.h"

namespace ivfs {

WakeWord::Seen WakeWord::load() const { return {load_acquire(word_), watch_ ? load_acquire(watch_) : 0u}; }

void WakeWord::wait(Seen seen, long timeout_ms, uint32_t spin_us) const {
  if (spin_us > 0) {
    uint64_t until = monotonic_ns() + uint64_t(spin_us) * 1000;
    do {
      for (int i = 0; i < 64; i++) {
        if (load_acquire(word_) != seen.word || (watch_ && load_acquire(watch_) != seen.watch)) return;
        cpu_relax();
      }
    } while (monotonic_ns() < until);
  }
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
  // A shared futex for a ring's word (the peer process wakes it, keyed by the
  // backing page); a private one for our own word.
  int op = shared_ ? FUTEX_WAIT : (FUTEX_WAIT | FUTEX_PRIVATE_FLAG);
  syscall(SYS_futex, word_, op, seen.word, &ts, nullptr, 0);  // woken, moved already (EAGAIN), EINTR or ETIMEDOUT: all re-check
}

void WakeWord::bump() const {
  add_release(word_, 1u);
  int op = shared_ ? FUTEX_WAKE : (FUTEX_WAKE | FUTEX_PRIVATE_FLAG);
  syscall(SYS_futex, word_, op, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace ivfs
