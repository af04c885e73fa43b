#include "channel_table.h"

#include <sched.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "ring.h"

namespace ivfs {
namespace {

void nap_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, nullptr);
}

// Copies a name field out of shared memory; false when it has no terminator
// or holds bytes a name may not hold.
bool copy_name(const char (&field)[kNameMax + 1], std::string &out, std::string &why) {
  char local[kNameMax + 1];
  std::memcpy(local, field, sizeof(local));
  size_t n = strnlen(local, sizeof(local));
  if (n == sizeof(local)) {
    why = "name has no terminator";
    return false;
  }
  out.assign(local, n);
  if (ChannelTable::check_name(out) != 0) {
    why = "name is empty or holds '/'";
    return false;
  }
  return true;
}

}  // namespace

int ChannelTable::check_name(const std::string &name) {
  if (name.empty() || name == "." || name == "..") return -EINVAL;
  if (name.size() > kNameMax) return -ENAMETOOLONG;
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos) return -EINVAL;
  return 0;
}

bool ChannelTable::acquire() {
  ControlHeader *h = set_.header();
  const uint64_t mine = lock_owner(side_, epoch_);
  const uint64_t start = monotonic_ms();
  uint64_t watched_owner = 0, watched_beat = 0, beat_seen_at = start;
  long backoff_us = 20;
  for (;;) {
    uint64_t expected = 0;
    if (cas_acquire(&h->table_lock, expected, mine)) return true;
    const uint64_t owner = expected;
    const uint64_t now = monotonic_ms();
    const uint32_t owner_side = uint32_t(owner & 0xff) - 1;
    const uint32_t owner_epoch = uint32_t(owner >> 8);
    bool stale;
    if (owner_side >= kSideCount) {
      stale = true;  // garbage in the lock word: nobody can hold it
    } else if (owner_side == side_) {
      stale = owner_epoch != epoch_;  // an earlier mount of this side died holding it
    } else {
      const SideState &peer = h->side[owner_side];
      uint64_t beat = load_acquire(&peer.heartbeat);
      if (owner != watched_owner || beat != watched_beat) {
        watched_owner = owner;
        watched_beat = beat;
        beat_seen_at = now;
      }
      stale = load_acquire(&peer.epoch) != owner_epoch || load_acquire(&peer.attached) == 0 || now - beat_seen_at > stale_ms;
    }
    if (stale) {
      uint64_t seen = owner;
      if (cas_acquire(&h->table_lock, seen, mine)) {
        // The dead holder may have left an unlinked entry half-freed;
        // sweeping restores the invariants the table relies on.
        sweep_locked();
        return true;
      }
      continue;
    }
    if (now - start > give_up_ms) return false;
    nap_us(backoff_us);
    if (backoff_us < 1000) backoff_us *= 2;
  }
}

void ChannelTable::release() {
  uint64_t mine = lock_owner(side_, epoch_);
  // Release: every table write above is visible before the lock is free.
  cas_release(&set_.header()->table_lock, mine, uint64_t(0));
}

TableResult ChannelTable::change_create(const std::string &name, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t now_ms) {
  TableResult r;
  if ((r.err = check_name(name)) != 0) return r;
  if (forward) return forward(TableOp{TableOp::kCreate, name, mode, uid, gid, {}, now_ms});
  Locked lock(*this);
  if (!lock.held()) return TableResult{-EBUSY};
  const Geometry &geo = set_.geometry();
  int64_t free_slot = -1;
  for (uint32_t i = 0; i < geo.capacity; i++) {
    ChannelEntry *e = set_.entry(i);
    uint32_t state = load_acquire(&e->state);
    if (state == kFree) {
      if (free_slot < 0) free_slot = i;
      continue;
    }
    if (state == kLive && strncmp(e->name, name.c_str(), sizeof(e->name)) == 0) return TableResult{-EEXIST};
  }
  if (free_slot < 0) return TableResult{-ENOSPC};
  ChannelEntry *e = set_.entry(uint32_t(free_slot));
  uint32_t generation = e->generation + 1;
  // The slot is free, so nobody reads its rings: reset everything, then make
  // it visible by publishing the state last.
  std::memset(static_cast<void *>(e), 0, sizeof(*e));
  e->ring[side_].consumer_waiting = e->ring[1 - side_].producer_waiting = peer_waiting_pin;
  e->generation = generation;
  e->mode = mode & 07777;
  e->uid = uid;
  e->gid = gid;
  e->ctime_ms = e->atime_ms = e->mtime_ms = now_ms;
  std::memcpy(e->name, name.data(), name.size());
  store_release(&e->state, uint32_t(kLive));
  store_relaxed(&set_.header()->table_changed_ms, now_ms);
  add_release(&set_.header()->table_version, uint64_t(1));
  r.slot = uint32_t(free_slot);
  r.generation = generation;
  return r;
}

TableResult ChannelTable::change_unlink(const std::string &name, uint64_t now_ms) {
  TableResult r;
  if ((r.err = check_name(name)) != 0) return r;
  if (forward) return forward(TableOp{TableOp::kUnlink, name, 0, 0, 0, {}, now_ms});
  Locked lock(*this);
  if (!lock.held()) return TableResult{-EBUSY};
  r.err = -ENOENT;
  if (ChannelEntry *e = find_live_locked(name)) {
    store_release(&e->state, uint32_t(kUnlinked));
    r = TableResult{0, uint32_t(e - set_.entry(0)), e->generation};
  }
  if (r.err == 0) {
    sweep_locked();
    store_relaxed(&set_.header()->table_changed_ms, now_ms);
    add_release(&set_.header()->table_version, uint64_t(1));
  }
  return r;
}

TableResult ChannelTable::change_set_attributes(const std::string &name, const AttributeChange &change, uint64_t now_ms) {
  TableResult r;
  if ((r.err = check_name(name)) != 0) return r;
  if (forward) return forward(TableOp{TableOp::kSetAttributes, name, 0, 0, 0, change, now_ms});
  Locked lock(*this);
  if (!lock.held()) return TableResult{-EBUSY};
  r.err = -ENOENT;
  if (ChannelEntry *e = find_live_locked(name)) {
    if (change.mode) e->mode = *change.mode & 07777;
    if (change.uid) e->uid = *change.uid;
    if (change.gid) e->gid = *change.gid;
    if (change.atime_ms) e->atime_ms = *change.atime_ms;
    if (change.mtime_ms) e->mtime_ms = *change.mtime_ms;
    e->ctime_ms = now_ms;
    r = TableResult{0, uint32_t(e - set_.entry(0)), e->generation};
  }
  // Readers cache entries by table version (name_index.h): a new version
  // makes them read the new attributes.
  if (r.err == 0) add_release(&set_.header()->table_version, uint64_t(1));
  return r;
}

// The public operations: the change under the lock, then, with the lock
// released, whoever follows this copy is told (a port's TX thread, which
// may wait for the far copy to have it).
TableResult ChannelTable::create(const std::string &name, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t now_ms) {
  return after_change(change_create(name, mode, uid, gid, now_ms));
}

TableResult ChannelTable::unlink(const std::string &name, uint64_t now_ms) { return after_change(change_unlink(name, now_ms)); }

TableResult ChannelTable::set_attributes(const std::string &name, const AttributeChange &change, uint64_t now_ms) {
  return after_change(change_set_attributes(name, change, now_ms));
}

TableResult ChannelTable::after_change(TableResult r) {
  if (r.err == 0 && changed) changed();
  return r;
}

ChannelEntry *ChannelTable::find_live_locked(const std::string &name) {
  const Geometry &geo = set_.geometry();
  for (uint32_t i = 0; i < geo.capacity; i++) {
    ChannelEntry *e = set_.entry(i);
    if (load_acquire(&e->state) == kLive && strncmp(e->name, name.c_str(), sizeof(e->name)) == 0) return e;
  }
  return nullptr;
}

int ChannelTable::sweep() {
  if (forward) return 0;  // the writer elsewhere sweeps
  Locked lock(*this);
  if (!lock.held()) return -EBUSY;
  sweep_locked();
  return 0;
}

bool ChannelTable::adopt_if_pristine(uint64_t version, uint64_t now_ms, const std::function<void()> &write_entries) {
  Locked lock(*this);
  if (!lock.held() || load_acquire(&set_.header()->table_version) != 0) return false;
  for (uint32_t i = 0; i < set_.geometry().capacity; i++) {
    if (load_acquire(&set_.entry(i)->state) != kFree) return false;
  }
  write_entries();
  store_relaxed(&set_.header()->table_changed_ms, now_ms);
  store_release(&set_.header()->table_version, version);
  return true;
}

void ChannelTable::sweep_locked() {
  const Geometry &geo = set_.geometry();
  for (uint32_t i = 0; i < geo.capacity; i++) {
    ChannelEntry *e = set_.entry(i);
    if (load_acquire(&e->state) != kUnlinked) continue;
    if (load_acquire(&e->side_open[0]) == 0 && load_acquire(&e->side_open[1]) == 0) store_release(&e->state, uint32_t(kFree));
  }
}

ChannelInfo ChannelTable::read_entry(uint32_t slot) const {
  const ChannelEntry *e = set_.entry(slot);
  ChannelInfo c;
  c.slot = slot;
  c.state = load_acquire(&e->state);
  c.generation = load_acquire(&e->generation);
  c.mode = e->mode;
  c.uid = e->uid;
  c.gid = e->gid;
  c.ctime_ms = e->ctime_ms;
  c.atime_ms = e->atime_ms;
  c.mtime_ms = e->mtime_ms;
  c.corrupt = false;
  if (c.state > kUnlinked) {
    c.corrupt = true;
    c.why = "state " + std::to_string(c.state) + " is not a channel state";
  } else if (c.state != kFree && !copy_name(e->name, c.name, c.why)) {
    c.corrupt = true;
  }
  return c;
}

std::vector<ChannelInfo> ChannelTable::list() const {
  std::vector<ChannelInfo> out;
  for (uint32_t i = 0; i < set_.geometry().capacity; i++) {
    ChannelInfo c = read_entry(i);
    if (c.state != kFree || c.corrupt) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace ivfs
