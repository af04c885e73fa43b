// One ivshmem doorbell for every set a daemon serves (an area mount's pairs).
// The device has one interrupt for us, and only one thread can sleep on it:
// the hub's. A ring from any peer wakes that thread, which wakes, among the
// notifiers subscribed, only those whose bell moved (each sleeps on a
// private futex word of its subscription), so an interrupt from vm2 wakes
// the (us, vm2) pair's notifier and not the others'. Ringing a peer needs
// no hub thread: doorbell() rings it directly.
//
// Thread use: subscribe/unsubscribe on any thread; the notifier of a
// subscription sleeps in wait().
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "doorbell.h"

namespace ivfs {

class DoorbellHub {
 public:
  struct Subscription {
    const uint32_t *bell;  // the subscribed set's bell (our side state)
    uint32_t seen;         // the bell as the hub last saw it
    uint32_t word = 0;     // moved (and futex-woken) when the bell moved
  };

  explicit DoorbellHub(std::shared_ptr<Doorbell> doorbell) : doorbell_(std::move(doorbell)) {}
  ~DoorbellHub();
  DoorbellHub(const DoorbellHub &) = delete;
  DoorbellHub &operator=(const DoorbellHub &) = delete;

  const std::shared_ptr<Doorbell> &doorbell() const { return doorbell_; }
  bool can_wait() const { return doorbell_->can_wait(); }
  // Starts the hub's thread at the first subscription (a device that can wait).
  Subscription *subscribe(const uint32_t *bell);
  void unsubscribe(Subscription *s);
  // Sleeps until the subscription's word moves away from `word_seen`, or
  // `timeout_ms`, or wake(s).
  static void wait(Subscription *s, uint32_t word_seen, long timeout_ms);
  static void wake(Subscription *s);

 private:
  void run();

  std::shared_ptr<Doorbell> doorbell_;
  std::mutex mu_;
  std::list<Subscription> subs_;  // stable addresses
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ivfs
