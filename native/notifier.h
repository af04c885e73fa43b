// Notifiers: the "interrupts" between the two sides.
//
// Each side has a bell word in its SideState. A side that made progress its
// peer may be waiting for increments the peer's bell (ring_bell); the peer's
// notifier thread sees the bell change and calls `on_ring`, which hands the
// wake-up to JavaScript. How the notifier thread sleeps is the mode:
//   futex  FUTEX_WAIT on the bell word; the ringer calls FUTEX_WAKE. One kernel only.
//   poll   spin briefly, then back off up to 1 ms; the ringer only writes memory.
//          Works between anything that shares memory.
// The thread also wakes every `tick_ms` so it notices a stop request; it never
// runs JavaScript itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "layout.h"

namespace ivfs {

// Wakes `side` (the peer of the caller). Cheap when the peer polls.
void ring_bell(SideState &side);

class Notifier {
 public:
  Notifier(SideState &mine, NotifyMode mode, std::function<void()> on_ring);
  ~Notifier();
  void stop();

 private:
  void run(uint32_t seen);
  bool wait_for_change(uint32_t seen);

  SideState &mine_;
  NotifyMode mode_;
  std::function<void()> on_ring_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ivfs
