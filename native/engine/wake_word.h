// A word a waiting request sleeps on, and how to wake it.
//
// With the futex notifier it is a word of the ring the request waits on, in
// the control memsection (consumer_wake for a reader, producer_wake for a
// writer): the peer moves it after progress on that ring, and its
// FUTEX_WAKE reaches the sleeping libfuse worker directly, with no thread in
// between. With poll and doorbell (another kernel, and memory that may be an
// ivshmem BAR, where a futex cannot wait) it is a word of the channel in
// this process: the peer still moves the ring's word and rings the side's
// bell, and the notifier thread bumps the words of the channels whose ring
// words moved. Either way sleepers on other channels stay asleep. Local
// events (a writer leaving the head of its queue, stop, peer death) bump the
// word the sleeper uses.
//
// A waiter reads the word, re-checks its condition, and sleeps only if the
// word still holds what it read: any bump after the read ends the sleep at
// once, so no wake-up between the check and the sleep is lost.
//
// Without futex the word also *watches* the ring's word: a waiter that
// spins (spin_us) looks at the ring's word itself, which the peer moves on
// progress, so an answer within the spin needs no notifier thread (which,
// in a one-vCPU guest, would have to be scheduled in place of the spinner).
#pragma once

#include <cstdint>

namespace ivfs {

class WakeWord {
 public:
  // `shared`: the word is in shared memory (another process may wake it,
  // and the kernel keys the futex by the backing page), else private to us.
  // `watch`: the ring's word in shared memory, spun on (never slept on)
  // beside a private `word`; nullptr when `word` is the ring's word itself.
  WakeWord(uint32_t *word, bool shared, const uint32_t *watch = nullptr) : word_(word), watch_(watch), shared_(shared) {}

  struct Seen {
    uint32_t word = 0, watch = 0;
  };
  Seen load() const;
  // Sleeps while the word equals `seen`, at most `timeout_ms`; spins up to
  // `spin_us` first (cheaper than a sleep for short waits), until the word
  // or the watched word moves. Returns early on a signal (libfuse's
  // interrupt signal, or any other): the caller re-checks what it waits for
  // either way.
  void wait(Seen seen, long timeout_ms, uint32_t spin_us) const;
  // Moves the word and wakes every sleeper.
  void bump() const;

 private:
  uint32_t *word_;
  const uint32_t *watch_;
  bool shared_;
};

}  // namespace ivfs
