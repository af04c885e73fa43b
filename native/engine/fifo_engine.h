// The FIFO engine: fifo(7) semantics for one mounted side, served on the
// thread that carries the request (a libfuse worker in the daemon, a test
// thread in the unit tests). No Node here: libFuzzer and plain C++ tests
// drive it directly, and the fuse-native hook calls it with no JavaScript in
// between.
//
// Rules (each reader or writer is one open descriptor on this side):
//  - a reader waits while the ring is empty and a writer is attached or none
//    has attached since it opened; it gets EOF (0) once the ring is drained
//    and every writer that attached has closed;
//  - a writer waits while the ring is full; it gets EPIPE once every reader
//    that attached has closed;
//  - writes up to PIPE_BUF bytes go into the ring whole or not at all, and
//    local writers go in arrival order (a queue per channel), so they never
//    interleave;
//  - O_NONBLOCK gives EAGAIN instead of waiting, and a request whose caller
//    waits in its own event loop (Request::caller_waits) gets EAGAIN where a
//    blocking one would sleep; an interrupted request gets
//    EINTR, or the count already moved; stop() answers every waiter EIO (or
//    its count) and every later request EIO;
//  - a dead peer (set_peer_dead) ends our readers (EOF once drained) and
//    writers (EPIPE).
//
// Waiting: a request that cannot complete raises the ring's waiting flag,
// fences, re-checks, and sleeps on its WakeWord (wake_word.h: the ring's own
// word with the futex notifier, so one channel's progress wakes only that
// channel's sleepers) with a tick,
// so a lost ring, a stop or a dead peer is noticed within one tick even if
// nobody wakes it. Local locks (one per channel) are held only while copying
// and deciding, never while sleeping: a sleeping request stays interruptible.
//
// Results are a byte count or a negative errno, everywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../channel_table.h"
#include "../timing.h"
#include "../doorbell.h"
#include "../layout.h"
#include "../memsection_set.h"
#include "../name_index.h"
#include "../ring.h"
#include "descriptor_table.h"
#include "local_interest.h"
#include "wake_word.h"

namespace ivfs {

// What the engine needs to know about the request it serves.
struct Request {
  // Whether the kernel interrupted this request (libfuse's fuse_interrupted,
  // or a test's flag). Asked after every wake-up and before every sleep.
  std::function<bool()> interrupted;
  // The request's open flags when known (O_NONBLOCK set with fcntl after
  // open); -1 when only the flags of the open count.
  int flags = -1;
  // The caller waits on its own, not in the engine: an event loop that arms
  // poll(handle, true) and hears on_readiness (the library, src/lib). Where
  // a blocking request would sleep, or nap for a peer's close to complete,
  // this one is answered at once: -EAGAIN, or the count already moved.
  // Otherwise it keeps the rules of a blocking request, which O_NONBLOCK
  // does not: a reader that no writer has attached to yet must wait (-EAGAIN),
  // not read end of file; and a write that finds every reader inside close()
  // gets -EAGAIN until the grace (closing_wait_ms, counted from its first
  // such attempt) is over, instead of napping through it.
  bool caller_waits = false;
};

struct EngineOptions {
  uint32_t side = 0;
  // Spin this long on the wake word before sleeping (opt-in, --spin-us).
  uint32_t spin_us = 0;
  // Longest sleep before a waiter re-checks on its own (timing.h; tests
  // make it long, so a lost wake-up hangs instead of hiding).
  long tick_ms = kEngineTickMs;
  // How long a request waits for the release of a peer descriptor whose
  // close() has begun (see flush()).
  long closing_wait_ms = kClosingWaitMs;
  // Count and time the stages (INTERVMFS_TRACE); off, nothing is measured.
  bool trace = false;
};

// Counters for status and the breakdown; all relaxed.
struct EngineStats {
  std::atomic<uint64_t> reads{0}, writes{0}, read_bytes{0}, write_bytes{0};
  std::atomic<uint64_t> waits{0}, wait_ns{0}, copy_ns{0};
};

class FifoEngine {
 public:
  // `futex`: this side sleeps with the futex notifier, so the peer wakes a
  // request on its ring's word itself; else the notifier thread calls
  // peer_rang() when the side's bell moves.
  // `table`: the side's channel table (one per process: it holds the
  // cross-peer lock in this side's name).
  FifoEngine(std::shared_ptr<MemsectionSet> set, std::shared_ptr<ChannelTable> table, std::shared_ptr<NameIndex> names,
             std::shared_ptr<Doorbell> doorbell, EngineOptions opts, bool futex);
  ~FifoEngine();
  FifoEngine(const FifoEngine &) = delete;
  FifoEngine &operator=(const FifoEngine &) = delete;

  // Opens a descriptor: a handle (> 0) or a negative errno.
  int64_t open(uint32_t slot, uint32_t generation, int flags);
  // The same by channel name (a path without the leading '/'): -ENOENT when
  // no live channel has that name.
  int64_t open_name(const std::string &name, int flags);
  // The live channel of that name (getattr), from the name index.
  std::optional<ChannelInfo> lookup(const std::string &name) { return names_->find(name); }
  // Closes a descriptor (no request of it is in flight). 0 or -EBADF.
  int release(uint64_t handle);
  // close(2) of a descriptor has begun (FUSE flush, synchronous with close;
  // release comes later, asynchronously). The descriptor counts as closing,
  // so the peer's writers get EPIPE (and its readers end of file) as soon as
  // close() returns, not when the release arrives. A later read or write on
  // it (a duplicate that lives on) revives it.
  int flush(uint64_t handle);

  int64_t read(uint64_t handle, uint8_t *buf, uint64_t len, const Request &req);
  int64_t write(uint64_t handle, const uint8_t *buf, uint64_t len, const Request &req);

  // poll(2) readiness of a descriptor: POLLIN, POLLOUT, POLLHUP, POLLERR.
  // `arm`: the caller will wait for a change, so the peer must ring us on
  // its next progress (the waiting flags stay raised until disarm()).
  unsigned poll(uint64_t handle, bool arm);
  void disarm(uint64_t handle);

  // The notifier thread saw our bell move: wakes waiters (when they do not
  // sleep on the bell themselves) and whoever polls.
  void peer_rang();
  // The peer's mount died without detaching (its heartbeat stopped). Holds
  // for that mount only: a new mount of the peer is alive at once.
  void set_peer_dead(bool dead);
  // Wakes every sleeping request to re-check (and ask whether it was
  // interrupted): for callers whose interrupt is a flag, not a signal.
  void wake_all() { wake_own_sleepers(); }
  // Answers every waiting request and refuses later ones. Idempotent.
  void stop();
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

  uint32_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  // Whether a request or poll here waits for the peer (the poll notifier
  // parks while none does).
  std::shared_ptr<LocalInterest> interest() const { return interest_; }
  uint32_t open_files();
  const EngineStats &stats() const { return stats_; }

  // Called (on the request's thread) when a channel's shared state is
  // impossible; the request is answered EIO.
  std::function<void(uint32_t slot, uint32_t generation, const char *during)> on_corrupt;
  // Called when any descriptor's readiness may have changed (poll support).
  std::function<void()> on_readiness;

 private:
  struct OpenFile {
    uint32_t slot, generation;
    bool reading, writing, nonblock;
    uint32_t eof_baseline;    // writer_opens that EOF must differ from
    uint32_t epipe_baseline;  // reader_opens that EPIPE must differ from
    bool armed = false;       // a poll waits on it (channel lock)
    std::atomic<bool> closing{false};  // flushed and not read since (written under opens_mu_)
    // The peer's (reader_opens, readers_closing) that a write of this
    // descriptor already waited a full grace for: not waited for again.
    uint64_t closing_waited = UINT64_MAX;
    // The closing state a write found last, and when (monotonic ms): the
    // grace of a caller_waits request, which does not nap, runs from there.
    uint64_t closing_seen = UINT64_MAX, closing_seen_ms = 0;
  };
  struct WriteTicket {};
  // What this process knows about one channel: its local waiters.
  struct LocalChannel {
    std::mutex mu;
    uint32_t readers_waiting = 0;
    uint32_t pollers_in = 0, pollers_out = 0;  // armed descriptors
    bool writer_flag = false;                  // producer_waiting raised by a writer
    std::deque<WriteTicket *> writers;  // arrival order; front one writes
    // Without futex: the words its readers and writers sleep on (private:
    // the ring's own words may sit in an ivshmem BAR, where a futex cannot
    // wait), and (sleepers_mu_) whether the channel is in sleeping_ and its
    // ring's wake words as the notifier last passed them on.
    uint32_t reader_sleep = 0, writer_sleep = 0;
    bool listed = false;
    bool flagged = false;  // a waiting flag is raised (counted in interest_)
    uint32_t passed_reader = 0, passed_writer = 0;
  };
  // A consistent reading of one channel's two rings, open counts first.
  struct Endpoint {
    uint32_t writers_open, writer_opens, eof_mark, writers_closing;
    uint32_t readers_open, reader_opens, epipe_mark, readers_closing;
    uint64_t in_fill, out_space;
  };
  static constexpr int64_t kWait = INT64_MIN;
  // A write that finds every reader inside close(): wait for their release
  // (EPIPE) or a read, for a grace period (closing_wait_ms).
  static constexpr int64_t kWaitClosing = INT64_MIN + 1;

  uint32_t peer() const { return 1 - side_; }
  bool peer_dead() const;
  ChannelEntry *entry_for(uint32_t slot, uint32_t generation) const;
  RingView ring(uint32_t direction, uint32_t slot, ChannelEntry *e) const;
  bool endpoint(const OpenFile &f, ChannelEntry *e, Endpoint &out) const;
  std::shared_ptr<OpenFile> file(uint64_t handle);
  int64_t corrupt(const OpenFile &f, const char *during);
  // Open counts and closing marks decide the peer's EOF and EPIPE: wakes
  // the peer's readers and writers of this channel, and its pollers.
  void wake_peer_channel(ChannelEntry *e);
  // Wakes every request of ours that sleeps (stop, peer death, wake_all).
  void wake_own_sleepers();
  // Without futex the peer can only move a ring's wake word and ring our
  // bell; the notifier thread then wakes the sleepers of the channels whose
  // ring words moved (peer_rang), and no others. `sleeping_` lists the
  // channels that have sleepers, kept by track_sleepers (from update_flags,
  // channel lock held).
  void track_sleepers(uint32_t slot, LocalChannel &lc, ChannelEntry *e);
  void wake_moved_rings();
  // What a reader / writer of channel `slot` sleeps on: with futex its
  // ring's wake word, which the peer wakes; else the channel's own word,
  // watching the ring's word while it spins.
  WakeWord reader_word(uint32_t slot, ChannelEntry *e) {
    return futex_ ? WakeWord(&e->ring[peer()].consumer_wake, true) : WakeWord(&locals_[slot].reader_sleep, false, &e->ring[peer()].consumer_wake);
  }
  WakeWord writer_word(uint32_t slot, ChannelEntry *e) {
    return futex_ ? WakeWord(&e->ring[side_].producer_wake, true) : WakeWord(&locals_[slot].writer_sleep, false, &e->ring[side_].producer_wake);
  }
  bool nonblocking(const OpenFile &f, const Request &req) const;
  // One attempt; kWait when the request has to wait. Under the channel lock.
  int64_t try_read(const OpenFile &f, ChannelEntry *e, uint8_t *buf, uint64_t len);
  // kWaitClosing unless `ignore_closing` (the grace is over).
  int64_t try_write(OpenFile &f, ChannelEntry *e, const uint8_t *buf, uint64_t len, uint64_t &done, bool ignore_closing);
  // Sleeps until the wake word moves from `seen` or a tick passes. False when
  // the request must end now (interrupted, or stop): `why` says which errno.
  bool sleep(const WakeWord &word, WakeWord::Seen seen, const Request &req, int &why);
  // One short nap of a request waiting for a peer descriptor's close to
  // complete (channel lock released meanwhile); false once the grace
  // (closing_wait_ms) is used up.
  bool closing_nap(std::unique_lock<std::mutex> &lk, const WakeWord &word, WakeWord::Seen seen, int &naps);
  // The waiting flags that tell the peer to ring us, and (without futex) the
  // notifier's list of channels with sleepers, from the local counts.
  void update_flags(uint32_t slot, LocalChannel &lc, ChannelEntry *e);
  void adjust_open(ChannelEntry *e, const OpenFile &f, int delta);
  // Counts a descriptor in or out of readers_closing / writers_closing
  // (under opens_mu_).
  void set_closing(ChannelEntry *e, OpenFile &f, bool closing);
  // A flushed descriptor used again: it lives on.
  void revive(ChannelEntry *e, OpenFile &f);
  // Lowers the poll counts of a descriptor that a poll armed (channel lock).
  void disarm_locked(LocalChannel &lc, ChannelEntry *e, OpenFile &f);
  void sweep_if_unlinked(uint32_t slot, uint32_t generation);
  LocalChannel &local(uint32_t slot) { return locals_[slot]; }

  std::shared_ptr<MemsectionSet> set_;
  std::shared_ptr<Doorbell> doorbell_;
  std::shared_ptr<ChannelTable> table_;
  std::shared_ptr<NameIndex> names_;
  EngineOptions opts_;
  uint32_t side_;
  uint64_t ring_size_;
  uint32_t capacity_;
  bool futex_;
  std::mutex sleepers_mu_;
  std::vector<uint32_t> sleeping_;  // slots with sleepers, without futex (sleepers_mu_)
  std::unique_ptr<LocalChannel[]> locals_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> peer_dead_{false};
  std::atomic<uint32_t> dead_epoch_{0};  // the peer's epoch when it was found dead
  std::atomic<uint32_t> waiting_{0};
  std::shared_ptr<LocalInterest> interest_ = std::make_shared<LocalInterest>();
  EngineStats stats_;

  DescriptorTable<OpenFile> files_;
  std::mutex opens_mu_;  // open-count updates (read-modify-write of our counters)

};

}  // namespace ivfs
