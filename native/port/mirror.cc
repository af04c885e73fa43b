#include "mirror.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>

#include "../notifier.h"
#include "../ring.h"
#include "../timing.h"
#include "say.h"

namespace ivfs {
namespace port {
namespace {

// Whether `v` lies in [from, to] on free-running counters (to - from is at
// most a ring, so the subtraction cannot wrap into a false yes).
bool within(uint64_t v, uint64_t from, uint64_t to) { return v - from <= to - from; }

// An entry's identity as ENTRY carries it, positions left out (so two reads
// compare equal when only bytes moved).
EntryRecord identity(uint32_t slot, const ChannelEntry &e, uint32_t state, uint32_t generation) {
  EntryRecord r{};
  r.slot = slot;
  r.generation = generation;
  r.state = state;
  if (state == kFree) return r;
  r.mode = e.mode;
  r.uid = e.uid;
  r.gid = e.gid;
  r.ctime_ms = e.ctime_ms;
  r.atime_ms = e.atime_ms;
  r.mtime_ms = e.mtime_ms;
  std::memcpy(r.name, e.name, sizeof(r.name));
  r.name[sizeof(r.name) - 1] = 0;
  return r;
}

// What chmod, chown and touch change, as side a's ENTRY says.
void set_attributes(ChannelEntry &e, const EntryRecord &r) {
  e.mode = r.mode;
  e.uid = r.uid;
  e.gid = r.gid;
  e.ctime_ms = r.ctime_ms;
  e.atime_ms = r.atime_ms;
  e.mtime_ms = r.mtime_ms;
}

bool same_identity(const EntryRecord &x, const EntryRecord &y) {
  return x.generation == y.generation && x.state == y.state && x.mode == y.mode && x.uid == y.uid && x.gid == y.gid &&
         x.ctime_ms == y.ctime_ms && x.atime_ms == y.atime_ms && x.mtime_ms == y.mtime_ms && std::memcmp(x.name, y.name, sizeof(x.name)) == 0;
}

}  // namespace

Mirror::Mirror(MemsectionSet &set, uint32_t side, ChannelTable &table)
    : set_(set),
      side_(side),
      table_(table),
      ring_size_(set.geometry().ring_size),
      capacity_(set.geometry().capacity),
      awaiting_(new std::atomic<uint32_t>[set.geometry().capacity]),
      opened_(new std::atomic<uint32_t>[set.geometry().capacity]),
      shadow_(set.geometry().capacity),
      entries_sent_(set.geometry().capacity) {
  for (uint32_t i = 0; i < capacity_; i++) awaiting_[i].store(0), opened_[i].store(0);
}

// --- pins --------------------------------------------------------------------

void Mirror::pin_entry(ChannelEntry &e) {
  // The peer's two flags: "a poll is armed" makes our engine ring
  // side[peer].bell after every read and write, which wakes our TX thread.
  store_release(&e.ring[side_].consumer_waiting, kWaitingPoll);
  store_release(&e.ring[peer()].producer_waiting, kWaitingPoll);
}

void Mirror::pin() {
  // Entries the table makes from now on (a local mknod, one forwarded by
  // side b) are pinned as they are made, before they are live.
  table_.peer_waiting_pin = kWaitingPoll;
  SideState &p = set_.header()->side[peer()];
  store_release(&p.doorbell_id, 0u);
  store_release(&p.notify_mode, uint32_t(kNotifyFutex));  // our TX thread sleeps on its bell with FUTEX_WAIT
  for (uint32_t slot = 0; slot < capacity_; slot++) pin_entry(*entry(slot));
}

ChannelEntry *Mirror::current(uint32_t slot, uint32_t generation) const {
  if (slot >= capacity_) return nullptr;
  ChannelEntry *e = entry(slot);
  const uint32_t state = load_acquire(&e->state);
  if ((state != kLive && state != kUnlinked) || load_acquire(&e->generation) != generation) return nullptr;
  return e;
}

// --- TX ----------------------------------------------------------------------

void Mirror::open_session() {
  // On the RX thread, before it applies the session's first frame: a
  // POSITION may come before the TX thread has seen the session begin.
  offered_.clear();
  peer_synced_ = false;
  std::lock_guard<std::mutex> g(replies_mu_);
  replies_.clear();
  resumes_.clear();
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    ChannelEntry *e = entry(slot);
    const uint32_t state = load_acquire(&e->state), generation = load_acquire(&e->generation);
    const uint32_t held = state == kLive || state == kUnlinked ? generation : 0;
    awaiting_[slot].store(held);
    opened_[slot].store(held);
  }
}

void Mirror::begin_session() {
  // Resumes already posted for this session stay: the next scan takes them.
  // What waits is what we held when the session opened, not what we hold
  // now: a channel made in between (this thread can come late) starts at 0
  // on both sides, and no POSITION will come for it.
  table_known_ = side_known_ = false;
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    SlotShadow &s = shadow_[slot];
    s = SlotShadow{};
    ChannelEntry *e = entry(slot);
    const uint32_t state = load_acquire(&e->state), generation = load_acquire(&e->generation);
    if (state != kLive && state != kUnlinked) continue;
    s.known = true;
    s.generation = generation;
    s.awaiting = opened_[slot].load() == generation;
  }
}

void Mirror::sync_dump(std::vector<uint8_t> &out) {
  uint32_t held = 0;
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    const SlotShadow &s = shadow_[slot];
    ChannelEntry *e = s.awaiting ? current(slot, s.generation) : nullptr;
    if (!e) continue;
    PositionRecord p{};
    p.slot = slot;
    p.generation = s.generation;
    p.produced_head = load_acquire(&e->ring[side_].head);
    p.seen_tail = load_acquire(&e->ring[side_].tail);
    p.received_head = load_acquire(&e->ring[peer()].head);
    p.consumed_tail = load_acquire(&e->ring[peer()].tail);
    encode(out, p);
    held++;
  }
  if (side_ == 1) {
    // Our channels, offered to a side a that may have none (5.2.5).
    for (uint32_t slot = 0; slot < capacity_; slot++) {
      EntryRecord r = whole_entry_record(slot, *entry(slot));
      if (r.state != kLive && r.state != kUnlinked) continue;
      r.flags = kEntrySync;
      encode(out, r);
    }
  }
  SyncEndRecord end{};
  end.table_version = load_acquire(&set_.header()->table_version);
  end.pristine = held == 0 && end.table_version == 0;
  end.entries = held;
  encode(out, end);
}

EntryRecord Mirror::entry_record(uint32_t slot, const ChannelEntry &e, uint32_t state, uint32_t generation) const {
  EntryRecord r = identity(slot, e, state, generation);
  if (state == kFree) return r;
  r.head0 = load_acquire(&e.ring[0].head);
  r.tail0 = load_acquire(&e.ring[0].tail);
  r.head1 = load_acquire(&e.ring[1].head);
  r.tail1 = load_acquire(&e.ring[1].tail);
  return r;
}

EntryRecord Mirror::whole_entry_record(uint32_t slot, const ChannelEntry &e) const {
  // Read like a seqlock: a create rewrites the fields between two stores of
  // the state and bumps the generation, so an identity read between two
  // equal (state, generation) pairs is whole. A state past kUnlinked (a
  // create or sweep under way) is sent as free.
  for (;;) {
    const uint32_t state = load_acquire(&e.state), generation = load_acquire(&e.generation);
    EntryRecord r = entry_record(slot, e, state > kUnlinked ? uint32_t(kFree) : state, generation);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (load_relaxed(&e.state) == state && load_relaxed(&e.generation) == generation) return r;
  }
}

void Mirror::scan_table(std::vector<uint8_t> &out) {
  ControlHeader *h = set_.header();
  const uint64_t version = load_acquire(&h->table_version);
  // Every change of an entry moves the version but one: a sweep frees an
  // unlinked entry without it. So while the version stands, each slot's
  // state and generation are all this scan (on every TX wake) looks at.
  const bool version_moved = !table_known_ || version != table_version_sent_;
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    const ChannelEntry &e = *entry(slot);
    if (!version_moved) {
      const uint32_t state = load_acquire(&e.state), generation = load_acquire(&e.generation);
      const EntryRecord &sent = entries_sent_[slot];
      if ((state > kUnlinked ? uint32_t(kFree) : state) == sent.state && generation == sent.generation) continue;
    }
    EntryRecord r = whole_entry_record(slot, e);
    if (table_known_ && same_identity(r, entries_sent_[slot])) continue;  // positions aside
    entries_sent_[slot] = r;
    if (!table_known_) r.flags = kEntrySync;
    encode(out, r);
  }
  if (!table_known_ || version != table_version_sent_) {
    TableRecord t{};
    t.version = version;
    t.changed_ms = load_relaxed(&h->table_changed_ms);
    encode(out, t);
    table_version_sent_ = version;
  }
  table_known_ = true;
}

bool Mirror::scan_slot(uint32_t slot, std::vector<uint8_t> &out, size_t &budget) {
  ChannelEntry *e = entry(slot);
  SlotShadow &s = shadow_[slot];
  const uint32_t state = load_acquire(&e->state), generation = load_acquire(&e->generation);
  if (state != kLive && state != kUnlinked) {
    s.known = false;
    return false;
  }
  if (!s.known || s.generation != generation) {
    // A channel made during the session starts at 0 on both sides, unless
    // it came with positions (side b's apply_entry, side a's adoption),
    // whose resume was posted before the channel went live.
    s = SlotShadow{};
    s.known = true;
    s.generation = generation;
  }
  if (!s.data_sent) take_resume(slot, s);
  // Read as the peer's engine reads them (FifoEngine::endpoint): closing
  // counts, open counts and marks, then the indices, so a count is never
  // sent ahead of bytes it was lowered after.
  ProducerRecord p{};
  p.slot = slot;
  p.generation = generation;
  const RingState &mine = e->ring[side_], &theirs = e->ring[peer()];
  p.writers_closing = load_acquire(&mine.writers_closing);
  p.writers_open = load_acquire(&mine.writers_open);
  p.writer_opens = load_acquire(&mine.writer_opens);
  p.epipe_mark = load_acquire(&mine.epipe_mark);
  p.write_ops = load_relaxed(&mine.write_ops);
  p.side_open = load_acquire(&e->side_open[side_]);
  ConsumerRecord c{};
  c.slot = slot;
  c.generation = generation;
  c.readers_closing = load_acquire(&theirs.readers_closing);
  c.readers_open = load_acquire(&theirs.readers_open);
  c.reader_opens = load_acquire(&theirs.reader_opens);
  c.eof_mark = load_acquire(&theirs.eof_mark);
  c.read_ops = load_relaxed(&theirs.read_ops);
  c.tail = load_acquire(&theirs.tail);
  const uint64_t head = load_acquire(&mine.head);
  const uint64_t mirrored_tail = load_acquire(&mine.tail);

  if (!s.awaiting) {
    // The peer never consumes what it was not sent, and our engine never
    // runs a ring ahead of the mirrored tail; anything else skips to what
    // the ring still holds rather than sending bytes that were reused.
    if (!within(s.sent_head, mirrored_tail, head)) s.sent_head = mirrored_tail;
    const uint8_t *bytes = set_.ring_bytes(side_, slot);
    while (s.sent_head != head && budget > 0) {
      const uint64_t off = s.sent_head % ring_size_;
      uint64_t n = head - s.sent_head;
      if (n > kMaxData) n = kMaxData;
      if (n > ring_size_ - off) n = ring_size_ - off;
      if (n > budget) n = budget;
      DataRecord d{};
      d.slot = slot;
      d.generation = generation;
      d.start = s.sent_head;
      d.n = uint32_t(n);
      encode_data(out, d, bytes + off);
      s.data_sent = true;
      s.sent_head += n;
      budget -= n;
    }
    // The counts follow the bytes they were read after; while bytes are
    // left, the old counts stand (a writer's close ahead of its last bytes
    // would be a false end of file).
    if (s.sent_head == head && (!s.producer_sent || std::memcmp(&p, &s.producer, sizeof(p)) != 0)) {
      encode(out, p);
      s.producer = p;
      s.producer_sent = true;
    }
  }
  // The tail is the peer's credit: never held back, or two full directions
  // of one channel would wait on each other.
  if (!s.consumer_sent || std::memcmp(&c, &s.consumer, sizeof(c)) != 0) {
    encode(out, c);
    s.consumer = c;
    s.consumer_sent = true;
  }
  return !s.awaiting && s.sent_head != head;
}

bool Mirror::scan(std::vector<uint8_t> &out, size_t budget) {
  // Replies taken before the table is read and sent after it: a
  // TABLE_RESULT follows the ENTRY of the channel it made.
  std::vector<uint8_t> replies;
  {
    std::lock_guard<std::mutex> g(replies_mu_);
    replies.swap(replies_);
  }
  SideRecord sr{};
  const SideState &me = set_.header()->side[side_];
  sr.attached = load_acquire(&me.attached);
  sr.epoch = load_acquire(&me.epoch);
  sr.heartbeat = load_acquire(&me.heartbeat);
  sr.pid = load_acquire(&me.pid);
  sr.notify_mode = load_acquire(&me.notify_mode);
  if (sr.notify_mode > kNotifyDoorbell) sr.notify_mode = kNotifyPoll;
  sr.mounted_at_ms = load_acquire(&me.mounted_at_ms);
  std::memcpy(sr.host, me.host, sizeof(sr.host));
  sr.host[sizeof(sr.host) - 1] = 0;
  if (!side_known_ || std::memcmp(&sr, &side_sent_, sizeof(sr)) != 0) {
    encode(out, sr);
    side_sent_ = sr;
    side_known_ = true;
  }
  // Side a's table waits for side b's offer: a pristine a may take it.
  if (side_ == 0 && peer_synced_) scan_table(out);
  out.insert(out.end(), replies.begin(), replies.end());
  bool more = false;
  for (uint32_t i = 0; i < capacity_; i++) {
    const uint32_t slot = (next_slot_ + i) % capacity_;
    more |= scan_slot(slot, out, budget);
  }
  next_slot_ = (next_slot_ + 1) % capacity_;
  return more;
}

void Mirror::take_resume(uint32_t slot, SlotShadow &s) {
  std::lock_guard<std::mutex> g(replies_mu_);
  auto it = resumes_.find(slot);
  if (it == resumes_.end()) return;
  if (it->second.generation == s.generation) {
    s.sent_head = it->second.head;
    s.awaiting = false;
  } else if (int32_t(it->second.generation - s.generation) > 0) {
    return;  // a channel made in this slot since we read it: the next scan's
  }
  resumes_.erase(it);  // taken, or an older channel's
}

void Mirror::take_replies(std::vector<uint8_t> &out) {
  std::lock_guard<std::mutex> g(replies_mu_);
  out.insert(out.end(), replies_.begin(), replies_.end());
  replies_.clear();
}

// --- RX ----------------------------------------------------------------------

void Mirror::wake_counts(ChannelEntry &e) {
  SideState &me = set_.header()->side[side_];
  move_channel_wake_words(me, e, peer());
  ring_bell(me, nullptr);
}

std::string Mirror::apply(const Frame &f) {
  switch (f.type) {
    case FrameType::kEntry: return apply_entry(*f.as<EntryRecord>());
    case FrameType::kTable: return apply_table(*f.as<TableRecord>());
    case FrameType::kData: return apply_data(*f.as<DataRecord>(), f.data_bytes());
    case FrameType::kProducer: return apply_producer(*f.as<ProducerRecord>());
    case FrameType::kConsumer: return apply_consumer(*f.as<ConsumerRecord>());
    case FrameType::kPosition: return apply_position(*f.as<PositionRecord>());
    case FrameType::kSide: return apply_side(*f.as<SideRecord>());
    case FrameType::kTableOp: return apply_table_op(*f.as<TableOpRecord>());
    case FrameType::kSyncEnd: return apply_sync_end(*f.as<SyncEndRecord>());
    case FrameType::kTableAck: return "";
    case FrameType::kHello:
    case FrameType::kBye:
    case FrameType::kTableResult: return say("%s reached the mirror", frame_name(f.type));  // the transport's
  }
  return "unknown frame type";
}

std::string Mirror::apply_data(const DataRecord &r, const uint8_t *bytes) {
  ChannelEntry *e = current(r.slot, r.generation);
  if (!e) return "";  // a channel we no longer have: its bytes have no reader
  RingState &in = e->ring[peer()];
  const uint64_t head = load_relaxed(&in.head);  // ours to write in this copy
  const uint64_t tail = load_acquire(&in.tail);  // our engine's consumption
  if (r.start != head) return say("DATA for slot %u at byte %" PRIu64 ", where our copy is at %" PRIu64, r.slot, r.start, head);
  if (head + r.n - tail > ring_size_) return say("DATA for slot %u of %u bytes, more than the %" PRIu64 " free", r.slot, r.n, ring_size_ - (head - tail));
  uint8_t *ring = set_.ring_bytes(peer(), r.slot);
  const uint64_t off = head % ring_size_;
  const uint64_t first = ring_size_ - off < r.n ? ring_size_ - off : r.n;
  std::memcpy(ring + off, bytes, first);
  std::memcpy(ring, bytes + first, r.n - first);
  // Release: the bytes are in before our readers can see the head.
  store_release(&in.head, head + r.n);
  // What the peer's try_write does after its copy: the head published, then
  // our reader's flag looked at (the flag's setter fences too).
  full_fence();
  wake_ring_waiters(set_.header()->side[side_], load_acquire(&in.consumer_waiting), &in.consumer_wake, nullptr);
  return "";
}

std::string Mirror::apply_producer(const ProducerRecord &r) {
  ChannelEntry *e = current(r.slot, r.generation);
  if (!e) return "";
  RingState &in = e->ring[peer()];
  // In the peer's engine's order: a count is lowered before its closing
  // count, both after the bytes (applied already: they came first).
  store_relaxed(&in.write_ops, r.write_ops);
  store_release(&in.epipe_mark, r.epipe_mark);
  store_release(&in.writer_opens, r.writer_opens);
  store_release(&in.writers_open, r.writers_open);
  store_release(&in.writers_closing, r.writers_closing);
  store_release(&e->side_open[peer()], r.side_open);
  wake_counts(*e);
  // Side a frees what neither side holds any more (side b's copy follows a's ENTRY).
  if (side_ == 0 && r.side_open == 0 && load_acquire(&e->state) == kUnlinked) table_.sweep();
  return "";
}

std::string Mirror::apply_consumer(const ConsumerRecord &r) {
  ChannelEntry *e = current(r.slot, r.generation);
  if (!e) return "";
  RingState &out = e->ring[side_];
  const uint64_t tail = load_relaxed(&out.tail);  // ours to write in this copy
  const uint64_t head = load_acquire(&out.head);
  if (!within(r.tail, tail, head)) {
    return say("CONSUMER for slot %u with tail %" PRIu64 ", outside %" PRIu64 "..%" PRIu64 " (what it has and what we wrote)", r.slot, r.tail, tail, head);
  }
  store_release(&out.tail, r.tail);
  store_relaxed(&out.read_ops, r.read_ops);
  store_release(&out.eof_mark, r.eof_mark);
  store_release(&out.reader_opens, r.reader_opens);
  store_release(&out.readers_open, r.readers_open);
  store_release(&out.readers_closing, r.readers_closing);
  if (r.tail != tail) {
    full_fence();  // the tail published, then our writer's flag looked at (try_read's order)
    wake_ring_waiters(set_.header()->side[side_], load_acquire(&out.producer_waiting), &out.producer_wake, nullptr);
  }
  wake_counts(*e);
  return "";
}

std::string Mirror::apply_position(const PositionRecord &r) {
  if (r.slot >= capacity_ || awaiting_[r.slot].load() != r.generation) return "";  // flowing already, or not ours
  ChannelEntry *e = current(r.slot, r.generation);
  if (!e) return "";
  RingState &out = e->ring[side_];
  const uint64_t head = load_acquire(&out.head);
  const uint64_t tail = load_relaxed(&out.tail);
  if (head - r.consumed_tail > ring_size_ || !within(r.received_head, r.consumed_tail, head)) {
    return say("POSITION for slot %u with %" PRIu64 " received and %" PRIu64 " consumed, where we wrote %" PRIu64, r.slot, r.received_head,
               r.consumed_tail, head);
  }
  if (r.consumed_tail != tail && within(r.consumed_tail, tail, head)) {
    store_release(&out.tail, r.consumed_tail);
    full_fence();
    wake_ring_waiters(set_.header()->side[side_], load_acquire(&out.producer_waiting), &out.producer_wake, nullptr);
  }
  awaiting_[r.slot].store(0);  // one POSITION per slot and session
  std::lock_guard<std::mutex> g(replies_mu_);
  resumes_[r.slot] = Resume{r.generation, r.received_head};
  return "";
}

std::string Mirror::apply_side(const SideRecord &r) {
  SideState &p = set_.header()->side[peer()];
  const uint32_t was_attached = load_acquire(&p.attached), was_epoch = load_acquire(&p.epoch);
  std::memcpy(p.host, r.host, sizeof(p.host));
  store_release(&p.pid, r.pid);
  store_release(&p.mounted_at_ms, r.mounted_at_ms);
  store_release(&p.epoch, r.epoch);
  store_release(&p.heartbeat, r.heartbeat);
  store_release(&p.attached, r.attached);  // last, as Side::attach publishes it
  if (was_attached != r.attached || was_epoch != r.epoch) ring_bell(set_.header()->side[side_], nullptr);
  return "";
}

std::string Mirror::apply_table(const TableRecord &r) {
  ControlHeader *h = set_.header();
  store_relaxed(&h->table_changed_ms, r.changed_ms);
  store_release(&h->table_version, r.version);  // after the ENTRYs it covers: our name index re-reads
  TableAckRecord ack{};
  ack.version = r.version;
  reply(ack);  // side a's mknod returns once we list the channel, as with shared memory
  return "";
}

std::string Mirror::apply_entry(const EntryRecord &r) {
  if (side_ == 0) {  // side b's offer, in its sync dump (the decoder lets ENTRY from b through only then)
    if (r.state != kFree && !peer_synced_) offered_[r.slot] = r;
    return "";
  }
  ChannelEntry *e = entry(r.slot);
  const uint32_t state = load_acquire(&e->state), generation = load_acquire(&e->generation);
  const bool held = state == kLive || state == kUnlinked;
  if (r.state == kFree) {
    if (held) store_release(&e->state, uint32_t(kFree));  // our descriptors on it get EIO, as after a sweep
    return "";
  }
  if (held && generation == r.generation) {  // the same channel: attributes, and the state only forward
    if (r.state < state) return say("ENTRY for slot %u going back from state %u to %u", r.slot, state, r.state);
    if (std::memcmp(e->name, r.name, sizeof(r.name)) != 0) return say("ENTRY for slot %u renaming generation %u", r.slot, r.generation);
    set_attributes(*e, r);
    if (r.state != state) store_release(&e->state, r.state);
    return "";
  }
  // A new channel in this slot, at the positions side a's copy has (section
  // 5.2.4): we have received and consumed ring a -> b up to a's copy of our
  // tail (a sends again from there), and written ring b -> a up to what a
  // received.
  if (r.head1 - r.tail1 > ring_size_) return say("ENTRY for slot %u with ring b->a at %" PRIu64 " of which %" PRIu64 " consumed", r.slot, r.head1, r.tail1);
  store_release(&e->state, uint32_t(kFree));  // not live while it is rewritten
  install(*e, r, r.tail0, r.tail0, r.head1, r.tail1);
  {
    std::lock_guard<std::mutex> g(replies_mu_);
    resumes_[r.slot] = Resume{r.generation, r.head1};
    PositionRecord p{};
    p.slot = r.slot;
    p.generation = r.generation;
    p.produced_head = r.head1;
    p.seen_tail = r.tail1;
    p.received_head = p.consumed_tail = r.tail0;
    encode(replies_, p);
  }
  store_release(&e->state, r.state);
  return "";
}

void Mirror::install(ChannelEntry &e, const EntryRecord &r, uint64_t head0, uint64_t tail0, uint64_t head1, uint64_t tail1) {
  std::memset(static_cast<void *>(&e), 0, sizeof(e));
  e.generation = r.generation;
  set_attributes(e, r);
  std::memcpy(e.name, r.name, sizeof(e.name));
  e.ring[0].head = head0;
  e.ring[0].tail = tail0;
  e.ring[1].head = head1;
  e.ring[1].tail = tail1;
  pin_entry(e);
}

std::string Mirror::apply_sync_end(const SyncEndRecord &r) {
  if (side_ != 0 || peer_synced_) return "";
  if (!r.pristine && !offered_.empty()) adopt_offered(r);
  offered_.clear();
  peer_synced_ = true;  // our table may go out now: the TX thread's next scan
  return "";
}

void Mirror::adopt_offered(const SyncEndRecord &r) {
  // Side b's view is taken as ours, mirrored (5.2.5): ring a -> b as
  // produced up to what b received, with b's consumption as its tail (we
  // send again from b's head); ring b -> a received and consumed up to b's
  // copy of our tail (b sends again from there). An offer that cannot be
  // is skipped: two channels of one name, or a ring fuller than a ring.
  std::vector<const EntryRecord *> taken;
  std::vector<std::string> names;
  for (const auto &[slot, e] : offered_) {
    const std::string name(e.name);
    if (e.head0 - e.tail0 > ring_size_ || std::find(names.begin(), names.end(), name) != names.end()) continue;
    names.push_back(name);
    taken.push_back(&e);
  }
  table_.adopt_if_pristine(r.table_version + 1, wall_ms(), [&] {
    for (const EntryRecord *e : taken) {
      ChannelEntry &c = *entry(e->slot);
      install(c, *e, e->head0, e->tail0, e->tail1, e->tail1);
      {
        // Before the state: a TX scan that sees the channel live finds
        // where to resume, and never sends bytes this copy never had.
        std::lock_guard<std::mutex> g(replies_mu_);
        resumes_[e->slot] = Resume{e->generation, e->head0};
        PositionRecord p{};
        p.slot = e->slot;
        p.generation = e->generation;
        p.produced_head = e->head0;
        p.seen_tail = e->tail0;
        p.received_head = p.consumed_tail = e->tail1;
        encode(replies_, p);
      }
      store_release(&c.state, e->state);
    }
  });
}

std::string Mirror::apply_table_op(const TableOpRecord &r) {
  // Side a runs side b's operation on its own table, under its lock, as if
  // made here; the ENTRY goes out in the next scan, ahead of the result.
  const std::string name(r.name);
  TableResult res;
  if (r.op == kOpCreate) {
    res = table_.create(name, r.mode, r.uid, r.gid, r.now_ms);
  } else if (r.op == kOpUnlink) {
    res = table_.unlink(name, r.now_ms);
  } else {
    AttributeChange c;
    if (r.set_mask & kSetMode) c.mode = r.mode;
    if (r.set_mask & kSetUid) c.uid = r.uid;
    if (r.set_mask & kSetGid) c.gid = r.gid;
    if (r.set_mask & kSetAtime) c.atime_ms = r.atime_ms;
    if (r.set_mask & kSetMtime) c.mtime_ms = r.mtime_ms;
    res = table_.set_attributes(name, c, r.now_ms);
  }
  TableResultRecord out{};
  out.request_id = r.request_id;
  out.err = res.err;
  out.slot = res.slot;
  out.generation = res.generation;
  reply(out);
  return "";
}

void Mirror::disconnect_reset() {
  // What the peer's Side::detach would have done to its own fields.
  for (uint32_t slot = 0; slot < capacity_; slot++) {
    ChannelEntry *e = entry(slot);
    const uint32_t state = load_acquire(&e->state);
    if (state != kLive && state != kUnlinked) continue;
    RingState &in = e->ring[peer()], &out = e->ring[side_];
    const bool had = load_acquire(&in.writers_open) || load_acquire(&in.writers_closing) || load_acquire(&out.readers_open) ||
                     load_acquire(&out.readers_closing);
    store_release(&in.writers_open, 0u);
    store_release(&in.writers_closing, 0u);
    store_release(&out.readers_open, 0u);
    store_release(&out.readers_closing, 0u);
    if (had) move_channel_wake_words(set_.header()->side[side_], *e, peer());
  }
  store_release(&set_.header()->side[peer()].attached, 0u);
  ring_bell(set_.header()->side[side_], nullptr);
}

}  // namespace port
}  // namespace ivfs
