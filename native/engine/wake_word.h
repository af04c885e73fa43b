// The word a waiting request sleeps on, and how to wake it.
//
// With the futex notifier it is the side's bell in the control memsection:
// the peer's FUTEX_WAKE reaches the sleeping libfuse worker directly, with no
// thread in between. With poll and doorbell it is a word of this process that
// the notifier thread bumps when it sees the bell move. Local events (a
// writer leaving the head of its queue, stop, peer death) bump the same word.
//
// A waiter reads the word, re-checks its condition, and sleeps only if the
// word still holds what it read: any bump after the read ends the sleep at
// once, so no wake-up between the check and the sleep is lost.
#pragma once

#include <cstdint>

namespace ivfs {

class WakeWord {
 public:
  // `shared_bell`: the side's bell (futex notifier), or nullptr for a word of
  // this process.
  explicit WakeWord(uint32_t *shared_bell) : word_(shared_bell ? shared_bell : &local_), shared_(shared_bell != nullptr) {}
  WakeWord(const WakeWord &) = delete;
  WakeWord &operator=(const WakeWord &) = delete;

  enum class Woken { kChanged, kSignal, kTimeout };

  uint32_t load() const;
  // Sleeps while the word equals `seen`, at most `timeout_ms`; spins up to
  // `spin_us` first (cheaper than a sleep for short waits). kSignal: a signal
  // interrupted the sleep (libfuse's interrupt signal, or any other).
  Woken wait(uint32_t seen, long timeout_ms, uint32_t spin_us) const;
  // Wakes every sleeper.
  void bump();
  bool shared() const { return shared_; }

 private:
  uint32_t *word_;
  bool shared_;
  uint32_t local_ = 0;
};

}  // namespace ivfs
