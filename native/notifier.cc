#include "notifier.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "ring.h"
#include "timing.h"

namespace ivfs {
namespace {


long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
  // Not FUTEX_PRIVATE: the word is in a MAP_SHARED mapping used by another
  // process, and the kernel keys shared futexes by the backing page.
  return syscall(SYS_futex, addr, op, val, timeout, nullptr, 0);
}

}  // namespace

void ring_bell(SideState &side, Doorbell *doorbell) {
  add_release(&side.bell, 1u);
  add_relaxed(&side.bells_rung, uint64_t(1));
  uint32_t mode = load_acquire(&side.notify_mode);
  if (mode == kNotifyFutex) futex(&side.bell, FUTEX_WAKE, INT_MAX, nullptr);
  // The bell is published (release) before the doorbell store, so the
  // interrupted peer finds it changed.
  if (mode == kNotifyDoorbell && doorbell) doorbell->ring(load_acquire(&side.doorbell_id));
}

namespace {

bool sleeps_on_futex(const SideState &side) { return load_acquire(&side.notify_mode) == kNotifyFutex; }

// Moved before any bell: a notifier thread that sees the bell finds the word
// moved, and wakes that ring's sleepers only.
void move_wake_word(uint32_t *ring_word, bool futex_sleeper) {
  add_release(ring_word, 1u);
  if (futex_sleeper) futex(ring_word, FUTEX_WAKE, INT_MAX, nullptr);
}

}  // namespace

void wake_ring_waiters(SideState &sleeper, uint32_t waiting, uint32_t *ring_word, Doorbell *doorbell) {
  if (waiting == 0) return;
  bool futex_sleeper = sleeps_on_futex(sleeper);
  if (waiting & kWaitingRequest) move_wake_word(ring_word, futex_sleeper);
  if (!futex_sleeper || (waiting & ~kWaitingRequest)) ring_bell(sleeper, doorbell);
}

void move_channel_wake_words(SideState &peer_side, ChannelEntry &e, uint32_t side) {
  bool futex_sleeper = sleeps_on_futex(peer_side);
  move_wake_word(&e.ring[side].consumer_wake, futex_sleeper);      // the peer's readers of our ring
  move_wake_word(&e.ring[1 - side].producer_wake, futex_sleeper);  // the peer's writers into our ring
}

Notifier::Notifier(SideState &mine, NotifyMode mode, Doorbell *doorbell, std::function<void()> on_ring, std::shared_ptr<DoorbellHub> hub,
                   std::shared_ptr<LocalInterest> interest)
    : mine_(mine),
      mode_(mode),
      doorbell_(doorbell),
      hub_(std::move(hub)),
      interest_(mode == kNotifyPoll ? std::move(interest) : nullptr),
      on_ring_(std::move(on_ring)) {
  // Read the bell here, not in the thread: a ring that lands between this
  // constructor returning and the thread starting must still count as news.
  uint32_t seen = load_acquire(&mine_.bell);
  if (hub_ && mode_ == kNotifyDoorbell) sub_ = hub_->subscribe(&mine_.bell);
  thread_ = std::thread([this, seen] { run(seen); });
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  if (stopping_.exchange(true)) return;
  // Wake our own sleep so the thread sees the stop at once.
  add_release(&mine_.bell, 1u);
  futex(&mine_.bell, FUTEX_WAKE, INT_MAX, nullptr);
  if (sub_) DoorbellHub::wake(sub_);
  else if (doorbell_) doorbell_->interrupt_wait();
  if (interest_) interest_->wake();
  if (thread_.joinable()) thread_.join();
  if (sub_) hub_->unsubscribe(sub_);
  sub_ = nullptr;
}

// Returns true when the bell moved away from `seen`, false on a tick.
bool Notifier::wait_for_change(uint32_t seen) {
  if (mode_ == kNotifyFutex) {
    struct timespec ts = {0, kNotifierTickMs * 1000000};
    futex(&mine_.bell, FUTEX_WAIT, seen, &ts);  // returns at once if the bell already moved
    return load_acquire(&mine_.bell) != seen;
  }
  if (mode_ == kNotifyDoorbell) {
    // The bell is the truth, the interrupt only a wake-up: check it first,
    // since a ring may have landed before this wait (the eventfd counts an
    // interrupt that fired while we were not waiting, so none is lost after it).
    if (sub_) {
      // The word before the bell: a move after this load ends the wait.
      uint32_t word = load_acquire(&sub_->word);
      if (load_acquire(&mine_.bell) != seen) return true;
      DoorbellHub::wait(sub_, word, kNotifierTickMs);
      return load_acquire(&mine_.bell) != seen;
    }
    if (load_acquire(&mine_.bell) != seen) return true;
    doorbell_->wait(int(kNotifierTickMs));
    return load_acquire(&mine_.bell) != seen;
  }
  // poll: spin ~20 us for latency, then sleep with exponential back-off so an
  // idle mount costs little CPU.
  for (int i = 0; i < kPollSpinRounds; i++) {
    if (load_acquire(&mine_.bell) != seen) return true;
    cpu_relax();
  }
  long slept_us = 0, nap_us = 20;
  while (slept_us < kNotifierTickMs * 1000) {
    struct timespec ts = {0, nap_us * 1000};
    nanosleep(&ts, nullptr);
    slept_us += nap_us;
    if (load_acquire(&mine_.bell) != seen) return true;
    if (nap_us < 1000) nap_us *= 2;
  }
  return false;
}

void Notifier::run(uint32_t seen) {
  // Poll mode: a whole tick passed with no ring and nobody waiting, so
  // park instead of napping. A raise ends the park; the bell is compared
  // after it as after any wait (a ring heard late is only a spurious call).
  bool idle = false;
  while (!stopping_.load()) {
    uint32_t raises = interest_ ? interest_->raises() : 0;
    bool rang;
    if (idle) {
      interest_->park(kNotifierTickMs, raises);
      rang = load_acquire(&mine_.bell) != seen;
    } else {
      rang = wait_for_change(seen);
    }
    if (rang) {
      // Read the bell before calling out: a ring that lands after this load
      // changes the word again and is caught by the next wait.
      seen = load_acquire(&mine_.bell);
      if (!stopping_.load()) on_ring_();
    }
    idle = interest_ && !rang && interest_->idle_since(raises);
  }
}

}  // namespace ivfs
