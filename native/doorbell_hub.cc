#include "doorbell_hub.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "ring.h"
#include "timing.h"

namespace ivfs {
namespace {


long futex_private(uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
  return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, timeout, nullptr, 0);
}

}  // namespace

DoorbellHub::~DoorbellHub() {
  stopping_.store(true);
  doorbell_->interrupt_wait();
  if (thread_.joinable()) thread_.join();
}

DoorbellHub::Subscription *DoorbellHub::subscribe(const uint32_t *bell) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_.push_back(Subscription{bell, load_acquire(bell)});
  if (!thread_.joinable() && doorbell_->can_wait()) thread_ = std::thread([this] { run(); });
  return &subs_.back();
}

void DoorbellHub::unsubscribe(Subscription *s) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_.remove_if([s](const Subscription &x) { return &x == s; });
}

void DoorbellHub::wait(Subscription *s, uint32_t word_seen, long timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
  futex_private(&s->word, FUTEX_WAIT, word_seen, &ts);  // returns at once if the word moved
}

void DoorbellHub::wake(Subscription *s) {
  add_release(&s->word, 1u);
  futex_private(&s->word, FUTEX_WAKE, INT_MAX, nullptr);
}

void DoorbellHub::run() {
  while (!stopping_.load()) {
    doorbell_->wait(kHubTickMs);
    std::lock_guard<std::mutex> lk(mu_);
    for (Subscription &s : subs_) {
      // The ringer published the bell (release) before writing the Doorbell
      // register, so a bell that moved is seen here.
      uint32_t bell = load_acquire(s.bell);
      if (bell == s.seen) continue;
      s.seen = bell;
      wake(&s);
    }
  }
}

}  // namespace ivfs
