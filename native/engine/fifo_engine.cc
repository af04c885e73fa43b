#include "fifo_engine.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

#include "../notifier.h"
#include "../open_counts.h"
#include "../timing.h"

namespace ivfs {

FifoEngine::FifoEngine(std::shared_ptr<MemsectionSet> set, std::shared_ptr<ChannelTable> table, std::shared_ptr<NameIndex> names,
                       std::shared_ptr<Doorbell> doorbell, EngineOptions opts, bool futex)
    : set_(std::move(set)),
      doorbell_(std::move(doorbell)),
      table_(std::move(table)),
      names_(std::move(names)),
      opts_(opts),
      side_(opts.side),
      ring_size_(set_->geometry().ring_size),
      capacity_(set_->geometry().capacity),
      futex_(futex),
      locals_(new LocalChannel[set_->geometry().capacity]) {}

FifoEngine::~FifoEngine() { stop(); }

// --- shared state --------------------------------------------------------------

ChannelEntry *FifoEngine::entry_for(uint32_t slot, uint32_t generation) const {
  if (slot >= capacity_) return nullptr;
  ChannelEntry *e = set_->entry(slot);
  uint32_t state = load_acquire(&e->state);
  if (load_acquire(&e->generation) != generation || (state != kLive && state != kUnlinked)) return nullptr;
  return e;
}

RingView FifoEngine::ring(uint32_t direction, uint32_t slot, ChannelEntry *e) const {
  return RingView{&e->ring[direction], set_->ring_bytes(direction, slot), ring_size_};
}

bool FifoEngine::endpoint(const OpenFile &f, ChannelEntry *e, Endpoint &out) const {
  const RingState &in = e->ring[peer()], &outr = e->ring[side_];
  // Open counts first, ring indices after: the peer publishes its last bytes
  // before it lowers its count, so with acquire loads in this order a zero
  // count is never paired with a fill level older than those bytes (which
  // would turn data still in flight into a false EOF).
  // Closing counts before open counts: the peer lowers a count before its
  // closing count at release (see release()).
  out.writers_closing = load_acquire(&in.writers_closing);
  out.readers_closing = load_acquire(&outr.readers_closing);
  out.writers_open = load_acquire(&in.writers_open);
  out.writer_opens = load_acquire(&in.writer_opens);
  out.eof_mark = load_acquire(&in.eof_mark);
  out.readers_open = load_acquire(&outr.readers_open);
  out.reader_opens = load_acquire(&outr.reader_opens);
  out.epipe_mark = load_acquire(&outr.epipe_mark);
  int64_t in_fill = ring_fill(ring(peer(), f.slot, e));
  int64_t out_fill = ring_fill(ring(side_, f.slot, e));
  if (in_fill < 0 || out_fill < 0) return false;
  out.in_fill = uint64_t(in_fill);
  out.out_space = ring_size_ - uint64_t(out_fill);
  return true;
}

int64_t FifoEngine::corrupt(const OpenFile &f, const char *during) {
  if (on_corrupt) on_corrupt(f.slot, f.generation, during);
  return -EIO;
}

void FifoEngine::wake_peer_channel(ChannelEntry *e) {
  SideState &p = set_->header()->side[peer()];
  // Unconditionally, not only when a flag is raised: a non-blocking request
  // waiting for a close to complete naps on these words without one.
  move_channel_wake_words(p, *e, side_);
  ring_bell(p, doorbell_.get());
}

void FifoEngine::wake_own_sleepers() {
  // Each sleeper sleeps on its ring's word. The check is under the channel's
  // lock: a request that registers after it was made reads the stop (or
  // flag) before it sleeps; one that registered before is bumped here.
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    LocalChannel &lc = locals_[slot];
    std::lock_guard<std::mutex> g(lc.mu);
    ChannelEntry *e = set_->entry(slot);
    if (lc.readers_waiting > 0) reader_word(slot, e).bump();
    if (!lc.writers.empty()) writer_word(slot, e).bump();
  }
}

void FifoEngine::track_sleepers(uint32_t slot, LocalChannel &lc, ChannelEntry *e) {
  if (futex_) return;
  // Writers behind the front one need no notifier: the front one wakes
  // them as it leaves.
  bool sleeping = lc.readers_waiting > 0 || lc.writer_flag;
  std::lock_guard<std::mutex> g(sleepers_mu_);
  if (sleeping == lc.listed) return;
  lc.listed = sleeping;
  if (sleeping) {
    // Read before the request's last check of the ring (it registers
    // first): progress before this is seen by that check, a move after it
    // is passed on.
    lc.passed_reader = load_acquire(&e->ring[peer()].consumer_wake);
    lc.passed_writer = load_acquire(&e->ring[side_].producer_wake);
    sleeping_.push_back(slot);
  } else {
    sleeping_.erase(std::find(sleeping_.begin(), sleeping_.end(), slot));
  }
}

void FifoEngine::wake_moved_rings() {
  std::lock_guard<std::mutex> g(sleepers_mu_);
  for (uint32_t slot : sleeping_) {
    LocalChannel &lc = locals_[slot];
    ChannelEntry *e = set_->entry(slot);
    uint32_t r = load_acquire(&e->ring[peer()].consumer_wake), w = load_acquire(&e->ring[side_].producer_wake);
    if (r != lc.passed_reader) {
      lc.passed_reader = r;
      reader_word(slot, e).bump();
    }
    if (w != lc.passed_writer) {
      lc.passed_writer = w;
      writer_word(slot, e).bump();
    }
  }
}

void FifoEngine::adjust_open(ChannelEntry *e, const OpenFile &f, int delta) { adjust_open_counts(e, side_, f.reading, f.writing, delta); }

void FifoEngine::set_closing(ChannelEntry *e, OpenFile &f, bool closing) {
  if (f.closing.load() == closing) return;
  f.closing.store(closing);
  int delta = closing ? 1 : -1;
  if (f.reading) {
    RingState &in = e->ring[peer()];
    store_release(&in.readers_closing, clamp_add(load_acquire(&in.readers_closing), delta));
  }
  if (f.writing) {
    RingState &out = e->ring[side_];
    store_release(&out.writers_closing, clamp_add(load_acquire(&out.writers_closing), delta));
  }
}

void FifoEngine::revive(ChannelEntry *e, OpenFile &f) {
  if (!f.closing.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard<std::mutex> g(opens_mu_);
    set_closing(e, f, false);
  }
  wake_peer_channel(e);
}

// --- descriptors -------------------------------------------------------------------

std::shared_ptr<FifoEngine::OpenFile> FifoEngine::file(uint64_t handle) { return files_.find(handle); }

uint32_t FifoEngine::open_files() { return uint32_t(files_.size()); }

int64_t FifoEngine::open(uint32_t slot, uint32_t generation, int flags) {
  if (stopped()) return -EIO;
  int mode = flags & O_ACCMODE;
  auto f = std::make_shared<OpenFile>();
  f->slot = slot;
  f->generation = generation;
  f->reading = mode != O_WRONLY;
  f->writing = mode == O_WRONLY || mode == O_RDWR;
  f->nonblock = (flags & O_NONBLOCK) != 0;
  ChannelEntry *e = entry_for(slot, generation);
  if (!e) return corrupt(*f, "open");
  {
    std::lock_guard<std::mutex> g(opens_mu_);
    Endpoint s;
    if (!endpoint(*f, e, s)) return corrupt(*f, "open");
    // fifo(7): a write-only, non-blocking open with no reader fails with
    // ENXIO (here: no reader on the other side, or the other side absent).
    if (f->writing && !f->reading && f->nonblock && s.readers_open == 0) return -ENXIO;
    // Writers that came and went, with all they wrote already read, do not
    // count: as with a kernel FIFO, a reader without a writer (and without
    // data left for it) waits for one instead of reading EOF.
    f->eof_baseline = s.in_fill == 0 && s.writers_open == 0 ? s.writer_opens : s.eof_mark;
    // Readers that came and went before this writer opened do not count:
    // a writer without a reader waits for one.
    f->epipe_baseline = s.reader_opens - s.readers_open;
    adjust_open(e, *f, 1);
  }
  wake_peer_channel(e);  // opens decide the peer's EOF and EPIPE
  return int64_t(files_.add(std::move(f)));
}

int64_t FifoEngine::open_name(const std::string &name, int flags) {
  if (stopped()) return -EIO;
  std::optional<ChannelInfo> c = names_->find(name);
  if (!c) return -ENOENT;
  return open(c->slot, c->generation, flags);
}

int FifoEngine::release(uint64_t handle) {
  std::shared_ptr<OpenFile> f = files_.take(handle);
  if (!f) return -EBADF;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  if (!e) return 0;  // the slot was reused under us: nothing of ours to lower
  {
    // A poll that armed it must not leave the peer ringing us for ever.
    LocalChannel &lc = local(f->slot);
    std::lock_guard<std::mutex> lk(lc.mu);
    disarm_locked(lc, e, *f);
  }
  {
    std::lock_guard<std::mutex> g(opens_mu_);
    // A reader that leaves an empty ring behind, with no writer attached, has
    // consumed that writer's session: the next reader waits for a new writer
    // instead of reading EOF at once (and likewise for writers and EPIPE).
    Endpoint s;
    if (endpoint(*f, e, s)) {
      if (f->reading && s.in_fill == 0 && s.writers_open == 0) store_release(&e->ring[peer()].eof_mark, s.writer_opens);
      if (f->writing && s.readers_open == 0) store_release(&e->ring[side_].epipe_mark, s.reader_opens);
    }
    // Count first, closing after: a peer that reads closing first (endpoint)
    // and sees it lowered also sees the count lowered, never "open and not
    // closing" for a descriptor that is gone.
    adjust_open(e, *f, -1);
    set_closing(e, *f, false);
  }
  wake_peer_channel(e);  // closes decide the peer's EOF and EPIPE
  sweep_if_unlinked(f->slot, f->generation);
  return 0;
}

int FifoEngine::flush(uint64_t handle) {
  std::shared_ptr<OpenFile> f = file(handle);
  if (!f) return -EBADF;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  if (!e) return 0;
  {
    std::lock_guard<std::mutex> g(opens_mu_);
    set_closing(e, *f, true);
  }
  wake_peer_channel(e);  // the peer's waiters re-check: it may be EPIPE or end of file now
  return 0;
}

void FifoEngine::sweep_if_unlinked(uint32_t slot, uint32_t generation) {
  ChannelEntry *e = entry_for(slot, generation);
  if (!e || load_acquire(&e->state) != kUnlinked) return;
  if (load_acquire(&e->side_open[0]) == 0 && load_acquire(&e->side_open[1]) == 0) table_->sweep();
}

// --- data path -------------------------------------------------------------------

bool FifoEngine::nonblocking(const OpenFile &f, const Request &req) const {
  // The request's own flags follow fcntl(F_SETFL) after open; the flags of
  // the open are the fallback for a caller that does not know them.
  return req.flags >= 0 ? (req.flags & O_NONBLOCK) != 0 : f.nonblock;
}

int64_t FifoEngine::try_read(const OpenFile &f, ChannelEntry *e, uint8_t *buf, uint64_t len) {
  RingState &r = e->ring[peer()];
  // Bytes that arrive between the copy and the reading of the counts are
  // taken on the next turn; a few turns, then the waiter's re-check.
  for (int turn = 0; turn < 3; turn++) {
    uint64_t t0 = opts_.trace ? monotonic_ns() : 0;
    int64_t n = ring_consume(ring(peer(), f.slot, e), buf, len);
    if (n < 0) return corrupt(f, "read");
    if (n > 0) {
      if (opts_.trace) stats_.copy_ns.fetch_add(monotonic_ns() - t0, std::memory_order_relaxed);
      store_relaxed(&r.read_ops, load_relaxed(&r.read_ops) + 1);
      // Pairs with the peer writer's fence after raising producer_waiting.
      full_fence();
      wake_ring_waiters(set_->header()->side[peer()], load_relaxed(&r.producer_waiting), &r.producer_wake, doorbell_.get());
      return n;
    }
    Endpoint s;
    if (!endpoint(f, e, s)) return corrupt(f, "read");
    if (s.in_fill > 0) continue;
    if (peer_dead()) return 0;
    if (s.writers_open == 0 && s.writer_opens != f.eof_baseline) {
      store_release(&r.eof_mark, s.writer_opens);
      return 0;
    }
    return kWait;
  }
  return kWait;
}

int64_t FifoEngine::try_write(OpenFile &f, ChannelEntry *e, const uint8_t *buf, uint64_t len, uint64_t &done, bool ignore_closing) {
  RingState &r = e->ring[side_];
  Endpoint s;
  if (!endpoint(f, e, s)) return corrupt(f, "write");
  if (peer_dead()) return done > 0 ? int64_t(done) : -EPIPE;
  if (s.readers_open == 0 && s.reader_opens != f.epipe_baseline) {
    store_release(&r.epipe_mark, s.reader_opens);
    return done > 0 ? int64_t(done) : -EPIPE;
  }
  // Every reader is inside close(): wait for its release (EPIPE) or a read,
  // once per closing state and for a grace period: a closed descriptor
  // whose duplicate lives on, unread, in another process sends neither.
  if (s.readers_open > 0 && s.readers_closing >= s.readers_open) {
    uint64_t key = (uint64_t(s.reader_opens) << 32) | s.readers_closing;
    if (ignore_closing) f.closing_waited = key;
    if (key != f.closing_waited) {
      if (key != f.closing_seen) {
        f.closing_seen = key;
        f.closing_seen_ms = monotonic_ms();
      }
      return kWaitClosing;
    }
  }
  // PIPE_BUF atomicity: a small write goes in whole or waits.
  uint64_t min_len = len <= kPipeBuf ? len : 1;
  uint64_t t0 = opts_.trace ? monotonic_ns() : 0;
  int64_t n = ring_produce(ring(side_, f.slot, e), buf + done, len - done, min_len);
  if (n < 0) return corrupt(f, "write");
  if (n > 0) {
    if (opts_.trace) stats_.copy_ns.fetch_add(monotonic_ns() - t0, std::memory_order_relaxed);
    store_relaxed(&r.write_ops, load_relaxed(&r.write_ops) + 1);
    // Pairs with the peer reader's fence after raising consumer_waiting.
    full_fence();
    wake_ring_waiters(set_->header()->side[peer()], load_relaxed(&r.consumer_waiting), &r.consumer_wake, doorbell_.get());
    done += uint64_t(n);
  }
  return done == len ? int64_t(len) : kWait;
}

bool FifoEngine::sleep(const WakeWord &word, WakeWord::Seen seen, const Request &req, int &why) {
  // Asked before sleeping too: an interrupt signal that landed while this
  // request was running (not sleeping) would otherwise only be seen when
  // libfuse sends it again, a second later.
  if (!stopped() && !(req.interrupted && req.interrupted())) {
    uint64_t t0 = opts_.trace ? monotonic_ns() : 0;
    word.wait(seen, opts_.tick_ms, opts_.spin_us);
    if (opts_.trace) {
      stats_.waits.fetch_add(1, std::memory_order_relaxed);
      stats_.wait_ns.fetch_add(monotonic_ns() - t0, std::memory_order_relaxed);
    }
  }
  if (stopped()) {
    why = -EIO;
    return false;
  }
  if (req.interrupted && req.interrupted()) {
    why = -EINTR;
    return false;
  }
  return true;
}

bool FifoEngine::closing_nap(std::unique_lock<std::mutex> &lk, const WakeWord &word, WakeWord::Seen seen, int &naps) {
  if (naps++ * kClosingNapMs >= opts_.closing_wait_ms) return false;
  lk.unlock();
  word.wait(seen, kClosingNapMs, 0);
  lk.lock();
  return true;
}

int64_t FifoEngine::read(uint64_t handle, uint8_t *buf, uint64_t len, const Request &req) {
  std::shared_ptr<OpenFile> f = file(handle);
  if (!f || !f->reading) return -EBADF;
  if (stopped()) return -EIO;
  if (len == 0) return 0;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  if (!e) return corrupt(*f, "read");
  revive(e, *f);  // flushed, yet read: the close was of a duplicate
  LocalChannel &lc = local(f->slot);
  WakeWord word = reader_word(f->slot, e);
  bool registered = false;
  int closing_naps = 0;
  int64_t result;
  std::unique_lock<std::mutex> lk(lc.mu);
  for (;;) {
    WakeWord::Seen seen = word.load();  // before the check: a ring after it ends the sleep
    int64_t n = try_read(*f, e, buf, len);
    if (n != kWait) {
      result = n;
      break;
    }
    if (req.caller_waits) {
      result = -EAGAIN;  // as a blocking reader would wait: no end of file before a writer came
      break;
    }
    if (nonblocking(*f, req)) {
      // pipe(7): with no writer at all a non-blocking read is end of file,
      // with a writer that has written nothing yet it is EAGAIN.
      Endpoint s;
      bool known = endpoint(*f, e, s);
      if (known && s.writers_open == 0) {
        result = 0;
        break;
      }
      // Every writer is inside close(): on a FIFO this read would be end of
      // file already. Wait briefly for the release that makes it so (a
      // duplicate that lives on sends none: then EAGAIN after the naps).
      if (known && s.writers_closing >= s.writers_open && closing_nap(lk, word, seen, closing_naps)) continue;
      result = -EAGAIN;
      break;
    }
    if (!registered) {
      // Raise the flag, fence, and check once more before sleeping: either
      // we see the peer's bytes, or the peer sees the flag and rings.
      registered = true;
      waiting_.fetch_add(1, std::memory_order_relaxed);
      lc.readers_waiting++;
      update_flags(f->slot, lc, e);
      full_fence();
      continue;
    }
    lk.unlock();
    int why = 0;
    bool go_on = sleep(word, seen, req, why);
    lk.lock();
    // Lower the flag as soon as we are awake, and raise it again (flag,
    // fence, re-check) only if we have to sleep once more. A flag left up
    // while this request copies and answers makes the peer's writer wake a
    // word nobody sleeps on after every write meanwhile: 32 % more futex
    // wakes than the C reference, for the same bytes.
    registered = false;
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    lc.readers_waiting--;
    update_flags(f->slot, lc, e);
    if (!go_on) {
      result = why;
      break;
    }
  }
  if (registered) {
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    lc.readers_waiting--;
    update_flags(f->slot, lc, e);
  }
  if (result > 0 && opts_.trace) {
    stats_.reads.fetch_add(1, std::memory_order_relaxed);
    stats_.read_bytes.fetch_add(uint64_t(result), std::memory_order_relaxed);
  }
  return result;
}

int64_t FifoEngine::write(uint64_t handle, const uint8_t *buf, uint64_t len, const Request &req) {
  std::shared_ptr<OpenFile> f = file(handle);
  if (!f || !f->writing) return -EBADF;
  if (stopped()) return -EIO;
  if (len == 0) return 0;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  if (!e) return corrupt(*f, "write");
  revive(e, *f);  // flushed, yet written: the close was of a duplicate
  LocalChannel &lc = local(f->slot);
  WakeWord word = writer_word(f->slot, e);
  WriteTicket ticket;
  uint64_t done = 0;
  bool registered = false;
  bool ignore_closing = false;
  int closing_naps = 0;
  int64_t result;
  std::unique_lock<std::mutex> lk(lc.mu);
  if (!lc.writers.empty() && (nonblocking(*f, req) || req.caller_waits)) return -EAGAIN;  // others are ahead of it
  lc.writers.push_back(&ticket);
  for (;;) {
    WakeWord::Seen seen = word.load();
    if (lc.writers.front() == &ticket) {
      int64_t n = try_write(*f, e, buf, len, done, ignore_closing);
      if (n == kWaitClosing && req.caller_waits) {
        // No nap on the caller's thread: it retries when the release rings
        // it (or on its own re-check), and after the grace writes on.
        if (monotonic_ms() - f->closing_seen_ms < uint64_t(std::max(0L, opts_.closing_wait_ms))) {
          result = done > 0 ? int64_t(done) : -EAGAIN;
          break;
        }
        ignore_closing = true;
        continue;
      }
      if (n == kWaitClosing) {
        // Naps (blocking or not): the release usually follows close() by
        // microseconds. After the grace, write as if the reader lived.
        if (!closing_nap(lk, word, seen, closing_naps)) {
          ignore_closing = true;
          continue;
        }
        if (stopped() || (req.interrupted && req.interrupted())) {
          result = done > 0 ? int64_t(done) : stopped() ? -EIO : -EINTR;
          break;
        }
        continue;
      }
      if (n != kWait) {
        result = n;
        break;
      }
      if (nonblocking(*f, req) || req.caller_waits) {
        result = done > 0 ? int64_t(done) : -EAGAIN;
        break;
      }
      if (!lc.writer_flag) {
        // As for readers: flag, fence, re-check.
        lc.writer_flag = true;
        update_flags(f->slot, lc, e);
        full_fence();
        continue;
      }
    }
    if (!registered) {
      registered = true;
      waiting_.fetch_add(1, std::memory_order_relaxed);
    }
    lk.unlock();
    int why = 0;
    bool go_on = sleep(word, seen, req, why);
    lk.lock();
    // As for readers: awake, the flag goes down until we must sleep again.
    // (A writer behind the front one never raised it.)
    if (lc.writer_flag && lc.writers.front() == &ticket) {
      lc.writer_flag = false;
      update_flags(f->slot, lc, e);
    }
    if (!go_on) {
      result = done > 0 ? int64_t(done) : why;
      break;
    }
  }
  bool was_front = lc.writers.front() == &ticket;
  lc.writers.erase(std::find(lc.writers.begin(), lc.writers.end(), &ticket));
  if (registered) waiting_.fetch_sub(1, std::memory_order_relaxed);
  if (lc.writers.empty() && lc.writer_flag) {
    lc.writer_flag = false;
    update_flags(f->slot, lc, e);
  }
  // The next writer in line sleeps until someone bumps the word.
  if (was_front && !lc.writers.empty()) word.bump();
  lk.unlock();
  if (result > 0 && opts_.trace) {
    stats_.writes.fetch_add(1, std::memory_order_relaxed);
    stats_.write_bytes.fetch_add(uint64_t(result), std::memory_order_relaxed);
  }
  return result;
}

void FifoEngine::update_flags(uint32_t slot, LocalChannel &lc, ChannelEntry *e) {
  track_sleepers(slot, lc, e);
  uint32_t consumer = (lc.readers_waiting > 0 ? kWaitingRequest : 0u) | (lc.pollers_in > 0 ? kWaitingPoll : 0u);
  uint32_t producer = (lc.writer_flag ? kWaitingRequest : 0u) | (lc.pollers_out > 0 ? kWaitingPoll : 0u);
  // A parked poll notifier wakes when the first channel raises a flag.
  // (With futex no notifier parks: the shared count is left alone.)
  bool flagged = (consumer | producer) != 0;
  if (!futex_ && flagged != lc.flagged) {
    lc.flagged = flagged;
    if (flagged) interest_->raise();
    else interest_->lower();
  }
  // Both flags of a channel are ours alone to write; one store each.
  store_relaxed(&e->ring[peer()].consumer_waiting, consumer);
  store_relaxed(&e->ring[side_].producer_waiting, producer);
}

void FifoEngine::disarm(uint64_t handle) {
  std::shared_ptr<OpenFile> f = file(handle);
  if (!f) return;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  LocalChannel &lc = local(f->slot);
  std::lock_guard<std::mutex> lk(lc.mu);
  disarm_locked(lc, e, *f);
}

void FifoEngine::disarm_locked(LocalChannel &lc, ChannelEntry *e, OpenFile &f) {
  if (!f.armed) return;
  f.armed = false;
  if (f.reading) lc.pollers_in--;
  if (f.writing) lc.pollers_out--;
  if (e) update_flags(f.slot, lc, e);
}

unsigned FifoEngine::poll(uint64_t handle, bool arm) {
  std::shared_ptr<OpenFile> f = file(handle);
  if (!f) return POLLERR;
  if (stopped()) return POLLERR | POLLHUP;
  ChannelEntry *e = entry_for(f->slot, f->generation);
  if (!e) return POLLERR;
  if (arm) {
    // Flag, fence, then read the state below: the peer either sees the flag
    // and rings (which notifies the poller), or its progress is seen here.
    LocalChannel &lc = local(f->slot);
    std::lock_guard<std::mutex> lk(lc.mu);
    if (!f->armed) {
      f->armed = true;
      if (f->reading) lc.pollers_in++;
      if (f->writing) lc.pollers_out++;
      update_flags(f->slot, lc, e);
    }
    full_fence();
  }
  Endpoint s;
  if (!endpoint(*f, e, s)) return POLLERR;
  bool dead = peer_dead();
  unsigned ev = 0;
  // As pipe_poll() in the kernel: readable while bytes are queued, hung up
  // once the writers that attached are gone; writable while an atomic write
  // fits, an error once the readers that attached are gone.
  if (f->reading) {
    if (s.in_fill > 0) ev |= POLLIN | POLLRDNORM;
    if (dead || (s.writers_open == 0 && s.writer_opens != f->eof_baseline)) ev |= POLLHUP;
  }
  if (f->writing) {
    if (s.out_space >= kPipeBuf) ev |= POLLOUT | POLLWRNORM;
    if (dead || (s.readers_open == 0 && s.reader_opens != f->epipe_baseline)) ev |= POLLERR;
  }
  return ev;
}

// --- events from outside ---------------------------------------------------------

void FifoEngine::peer_rang() {
  if (!futex_) wake_moved_rings();  // with the futex notifier the peer woke them itself
  if (on_readiness) on_readiness();
}

bool FifoEngine::peer_dead() const {
  // The mount that died, not the side: a new mount of the peer (its epoch
  // moved on) is alive from its first word, before our heartbeat watch has
  // seen it beat.
  return peer_dead_.load(std::memory_order_acquire) &&
         load_acquire(&set_->header()->side[peer()].epoch) == dead_epoch_.load(std::memory_order_acquire);
}

void FifoEngine::set_peer_dead(bool dead) {
  if (dead) dead_epoch_.store(load_acquire(&set_->header()->side[peer()].epoch), std::memory_order_release);
  if (peer_dead_.exchange(dead) == dead) return;
  wake_own_sleepers();
  if (on_readiness) on_readiness();
}

void FifoEngine::stop() {
  if (stopped_.exchange(true)) return;
  wake_own_sleepers();
}

}  // namespace ivfs
