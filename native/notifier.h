// Notifiers: the "interrupts" between the two sides.
//
// Each side has a bell word in its SideState. A side that made progress its
// peer may be waiting for increments the peer's bell (ring_bell); the peer's
// notifier thread sees the bell change and calls `on_ring`, which hands the
// wake-up to JavaScript. How the notifier thread sleeps is the mode:
//   futex  FUTEX_WAIT on the bell word; the ringer calls FUTEX_WAKE. One kernel only.
//   poll   spin briefly, then back off up to 1 ms; the ringer only writes memory.
//          Works between anything that shares memory. After a tick with no
//          ring and nobody here waiting (LocalInterest), it parks until a
//          request or poll starts to wait.
//   doorbell  sleep on the ivshmem interrupt (MSI-X through VFIO, see
//          doorbell.h); the ringer writes the Doorbell register with our
//          doorbell_id. Between QEMU guests.
// The thread also wakes every `tick_ms` so it notices a stop request; it never
// runs JavaScript itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "doorbell.h"
#include "doorbell_hub.h"
#include "engine/local_interest.h"
#include "layout.h"

namespace ivfs {

// Wakes `side` (the peer of the caller). Cheap when the peer polls.
// `doorbell` is the caller's ivshmem device, if it has one: without it a peer
// that sleeps on doorbell interrupts only notices the bell on its next tick.
void ring_bell(SideState &side, Doorbell *doorbell);

// Wakes whoever waits on one ring end of `sleeper` (the peer of the caller),
// after the caller made progress there: `waiting` is the ring's
// consumer_waiting or producer_waiting as just read, `ring_word` the ring's
// consumer_wake or producer_wake. A waiting request's word is moved; a
// futex sleeper's requests are woken on it alone, so sleepers on other
// channels stay asleep; polls, and a side that waits through its notifier
// thread (which then wakes the words that moved), hear the side's bell.
void wake_ring_waiters(SideState &sleeper, uint32_t waiting, uint32_t *ring_word, Doorbell *doorbell);

// The open counts or closing marks of channel `e` on the caller's side
// `side` changed (an open, a flush, a release, a mount's end), which decides
// the peer's end of file and EPIPE there: moves the peer's two wake words of
// the channel, waking its requests that sleep on them with futex. The caller
// then rings the peer's bell, once for any number of channels: that wakes
// its pollers and, without futex, its notifier thread, which wakes the
// requests whose words moved.
void move_channel_wake_words(SideState &peer_side, ChannelEntry &e, uint32_t side);

class Notifier {
 public:
  // `doorbell` must outlive the notifier and be able to wait when `mode` is
  // kNotifyDoorbell. With a `hub` (several sets behind one device), the
  // notifier sleeps on its subscription instead of on the device.
  // With `interest` (the engine's), a poll notifier parks while nobody
  // waits; without it, it watches the bell all the time.
  Notifier(SideState &mine, NotifyMode mode, Doorbell *doorbell, std::function<void()> on_ring, std::shared_ptr<DoorbellHub> hub = nullptr,
           std::shared_ptr<LocalInterest> interest = nullptr);
  ~Notifier();
  void stop();

 private:
  void run(uint32_t seen);
  bool wait_for_change(uint32_t seen);

  SideState &mine_;
  NotifyMode mode_;
  Doorbell *doorbell_;
  std::shared_ptr<DoorbellHub> hub_;
  std::shared_ptr<LocalInterest> interest_;  // only in poll mode
  DoorbellHub::Subscription *sub_ = nullptr;
  std::function<void()> on_ring_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ivfs
