#include "area_registry.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "ring.h"
#include "timing.h"

namespace ivfs {
namespace {

// 64 MiB, 1.5 GiB, 516 KiB: sizes as the user wrote them, in messages.
std::string mib(uint64_t bytes) {
  const char *units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; i++) {
    uint64_t unit = 1ull << (30 - 10 * i);
    if (bytes < unit) continue;
    char buf[32];
    if (bytes % unit == 0) snprintf(buf, sizeof(buf), "%llu %s", (unsigned long long)(bytes / unit), units[i]);
    else snprintf(buf, sizeof(buf), "%.1f %s", double(bytes) / double(unit), units[i]);
    return buf;
  }
  return std::to_string(bytes) + " bytes";
}

// A fixed-size name field as a string, or nullopt without a NUL in bounds.
template <size_t N>
std::optional<std::string> field_string(const char (&f)[N]) {
  size_t n = strnlen(f, N);
  if (n == N) return std::nullopt;
  return std::string(f, n);
}

template <size_t N>
void put_string(char (&f)[N], const std::string &s) {
  std::memset(f, 0, N);
  std::memcpy(f, s.data(), std::min(s.size(), N - 1));
}

// The smallest set that holds `channels` channels (plan_region's bound).
uint64_t min_pair_size(uint32_t channels) {
  uint64_t raw = control_size_for(channels) + 2 * uint64_t(kMinRingSize) * channels;
  return (raw + kPage - 1) / kPage * kPage;
}

uint64_t round_page(uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

// Validates a copied entry against the region; fills `out` or says why not.
bool decode_area(const AreaEntry &e, uint32_t index, uint64_t region_size, AreaInfo &out) {
  out = AreaInfo{};
  out.index = index;
  out.id = e.id;
  out.size = e.size;
  out.offset = e.offset;
  out.pair_size = e.pair_size;
  out.pair_slots = e.pair_slots;
  out.channels = e.channels;
  out.created_at_ms = e.created_at_ms;
  auto bad = [&](const std::string &why) {
    out.corrupt = true;
    out.why = why;
    return false;
  };
  if (e.id < 1 || e.id > kAreaIdMax) return bad("impossible area ID");
  if (e.size == 0 || e.size % kPage || e.offset % kPage || e.offset < kRegistrySize || e.offset > region_size || e.size > region_size - e.offset)
    return bad("area lies outside the region");
  if (e.channels < 1 || e.channels > kMaxChannels) return bad("impossible channel capacity");
  if (e.pair_size % kPage || e.pair_size < min_pair_size(e.channels) || e.pair_size > e.size) return bad("impossible pair size");
  if (e.pair_slots != std::min<uint64_t>(kAreaPairsMax, e.size / e.pair_size)) return bad("impossible pair slot count");
  auto owner = field_string(e.owner);
  if (!owner || !AreaRegistry::valid_peer_name(*owner)) return bad("impossible owner name");
  out.owner = *owner;
  for (uint32_t i = 0; i < kAreaPeersMax; i++) {
    const PeerMapping &m = e.peers[i];
    if (m.state == kPeerFree) continue;
    if (m.state != kPeerAttached) return bad("impossible peer state");
    auto name = field_string(m.name);
    if (!name || !AreaRegistry::valid_peer_name(*name)) return bad("impossible peer name");
    for (const PeerInfo &p : out.peers)
      if (p.name == *name) return bad("peer name attached twice");
    PeerInfo p;
    p.slot = i;
    p.epoch = m.epoch;
    p.heartbeat = m.heartbeat;
    p.pid = m.pid;
    p.doorbell_id = m.doorbell_id;
    p.attached_at_ms = m.attached_at_ms;
    p.name = *name;
    p.host = std::string(m.host, strnlen(m.host, sizeof(m.host)));  // information only: cut at the field
    out.peers.push_back(p);
  }
  for (uint32_t i = 0; i < kAreaPairsMax; i++) {
    const PairSlot &s = e.pairs[i];
    if (s.state == kPairFree) continue;
    if (s.state != kPairCarved || i >= e.pair_slots) return bad("impossible pair slot");
    auto a = field_string(s.names[0]), b = field_string(s.names[1]);
    if (!a || !b || !AreaRegistry::valid_peer_name(*a) || !AreaRegistry::valid_peer_name(*b) || !(*a < *b)) return bad("impossible pair names");
    for (const PairInfo &q : out.pairs)
      if (q.names[0] == *a && q.names[1] == *b) return bad("pair carved twice");
    PairInfo q;
    q.slot = i;
    q.generation = s.generation;
    q.names[0] = *a;
    q.names[1] = *b;
    q.region_offset = e.offset + uint64_t(i) * e.pair_size;  // within the area: i < pair_slots
    out.pairs.push_back(q);
  }
  return true;
}

uint64_t fresh_token() {
  uint64_t t = 0;
  while (t == 0) {
    if (getrandom(&t, sizeof(t), 0) != sizeof(t)) t = monotonic_ns() ^ (uint64_t(getpid()) << 32);
  }
  return t;
}

}  // namespace

// The cross-peer lock. Its word holds a token fresh at every taking, so a
// waiter that sees the same token for stale_lock_ms knows its holder is gone
// (every holder keeps it for microseconds: no I/O, no waiting inside).
class AreaRegistry::Lock {
 public:
  explicit Lock(AreaRegistry &r) : r_(r), local_(r.local_), token_(fresh_token()) {
    uint64_t *word = &r_.header()->lock;
    uint64_t start = monotonic_ns(), seen_since = start, last_seen = 0;
    for (;;) {
      uint64_t expected = 0;
      if (cas_acquire(word, expected, token_)) return;
      uint64_t now = monotonic_ns();
      if (expected != last_seen) {
        last_seen = expected;
        seen_since = now;
      } else if (now - seen_since > uint64_t(r_.stale_lock_ms) * 1000000) {
        if (cas_acquire(word, expected, token_)) return;  // its holder died inside
      }
      if (now - start > uint64_t(r_.give_up_ms) * 1000000)
        throw SetError("busy", "the registry of " + r_.path_ + " stays locked by another peer; try again");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  ~Lock() {
    uint64_t mine = token_;
    cas_release(&r_.header()->lock, mine, uint64_t(0));  // fails only if taken over: then it is not ours to free
  }

 private:
  AreaRegistry &r_;
  std::lock_guard<std::mutex> local_;
  uint64_t token_;
};

bool AreaRegistry::valid_peer_name(const std::string &name) {
  if (name.empty() || name.size() > kPeerNameMax || name[0] == '.' || name[0] == '-') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

bool AreaRegistry::is_area_region(const std::string &path) {
  // Mapped, not read: a PCI BAR in sysfs (an ivshmem region in a guest)
  // can only be mapped.
  try {
    Mapping m = map_memsection(path, "region", 0, kPage);
    bool yes = load_acquire(reinterpret_cast<uint64_t *>(m.addr)) == kAreaMagic;
    unmap_memsection(m);
    return yes;
  } catch (const SetError &) {
    return false;
  }
}

void AreaRegistry::format(const std::string &path, bool force) {
  Mapping m = map_memsection(path, "region");
  try {
    if (m.size < kRegistrySize + kPage)
      throw SetError("too-small", "region " + path + " of " + mib(m.size) + " cannot hold a registry (" + mib(kRegistrySize) + ") and an area");
    RegistryHeader *h = reinterpret_cast<RegistryHeader *>(m.addr);
    if (load_acquire(&h->magic) != 0 && !force)
      throw SetError("formatted", "region " + path + " is already formatted; add --force to erase it and format it again");
    store_release(&h->magic, uint64_t(0));  // a half-written registry reads as unformatted
    std::memset(m.addr, 0, kRegistrySize);
    h->registry_version = kRegistryVersion;
    h->area_capacity = kAreaCapacity;
    h->region_size = m.size;
    h->registry_size = kRegistrySize;
    h->formatted_at_ms = wall_ms();
    h->changed_ms = h->formatted_at_ms;
    h->magic = kAreaMagic;
    h->header_check = registry_checksum(*h);
    full_fence();
    msync(m.addr, kRegistrySize, MS_SYNC);
  } catch (...) {
    unmap_memsection(m);
    throw;
  }
  unmap_memsection(m);
}

AreaRegistry::AreaRegistry(const std::string &path) : path_(path), region_(map_shared_region(path)) {
  base_ = region_->addr;
  size_ = region_->size;
  {
    if (size_ < kRegistrySize) throw SetError("too-small", "region " + path + " is smaller than an area registry");
    RegistryHeader local;
    std::memcpy(&local, base_, sizeof(local));  // read once: a peer may be scribbling
    if (local.magic == 0) throw SetError("unformatted", "region " + path + " is not formatted; run `intervmfs format --areas`");
    if (local.magic != kAreaMagic)
      throw SetError("not-areas", "region " + path + " holds no area registry (it is a two-sided set, or something else); use --side, or format it with --areas");
    if (local.registry_version != kRegistryVersion)
      throw SetError("version", "region " + path + " has registry version " + std::to_string(local.registry_version) + ", this intervmfs understands " +
                                    std::to_string(kRegistryVersion));
    if (local.header_check != registry_checksum(local)) throw SetError("corrupt", "region " + path + " registry header is corrupt (checksum mismatch)");
    if (local.area_capacity != kAreaCapacity || local.registry_size != kRegistrySize || local.region_size > size_)
      throw SetError("corrupt", "region " + path + " registry header has impossible sizes");
    size_ = local.region_size;  // areas stay inside what was formatted
  }
}

AreaRegistry::~AreaRegistry() = default;  // the region goes with its last user

uint64_t AreaRegistry::version() const { return load_acquire(&header()->version); }
uint64_t AreaRegistry::changed_ms() const { return load_acquire(&header()->changed_ms); }

AreaInfo AreaRegistry::read_area(uint32_t index) const {
  AreaEntry local;
  std::memcpy(&local, entry(index), sizeof(local));  // one copy; only it is used
  AreaInfo info;
  if (local.state == kAreaFree) return info;  // id 0: free
  if (local.state != kAreaLive) {
    info.index = index;
    info.id = local.id;
    info.corrupt = true;
    info.why = "impossible area state";
    return info;
  }
  decode_area(local, index, size_, info);
  return info;
}

std::vector<AreaInfo> AreaRegistry::areas() const {
  std::vector<AreaInfo> out;
  for (uint32_t i = 0; i < kAreaCapacity; i++) {
    if (load_acquire(&entry(i)->state) == kAreaFree) continue;
    AreaInfo a = read_area(i);
    if (a.id != 0 || a.corrupt) out.push_back(std::move(a));
  }
  return out;
}

std::optional<AreaInfo> AreaRegistry::area(uint32_t id) const {
  for (AreaInfo &a : areas())
    if (a.id == id) return std::move(a);
  return std::nullopt;
}

void AreaRegistry::changed(uint64_t now_ms) {
  add_release(&header()->version, uint64_t(1));
  store_release(&header()->changed_ms, now_ms);
}

AttachResult AreaRegistry::attach(const AttachRequest &r) {
  if (r.id < 1 || r.id > kAreaIdMax)
    throw SetError("range", "area ID " + std::to_string(r.id) + " is out of range: IDs are 1 to " + std::to_string(kAreaIdMax));
  if (!valid_peer_name(r.peer))
    throw SetError("usage", "peer name '" + r.peer + "' is not allowed: 1 to " + std::to_string(kPeerNameMax) +
                                " letters, digits, '.', '_' or '-', not starting with '.' or '-'");
  Lock lock(*this);
  std::vector<AreaInfo> all = areas();
  AttachResult res;
  AreaInfo *a = nullptr;
  for (AreaInfo &x : all) {
    if (x.id != r.id) continue;
    if (x.corrupt) throw SetError("corrupt", "the registry entry of area " + std::to_string(r.id) + " is damaged (" + x.why + "); remove it with `intervmfs area rm`");
    a = &x;
  }
  AreaInfo fresh;
  uint64_t size = round_page(r.area_size);
  if (!a) {
    if (r.area_size == 0)
      throw SetError("no-area", "area " + std::to_string(r.id) + " does not exist in " + path_ +
                                    " yet; the first peer to name it must give its size (--area-size, or area-size= in -o)");
    uint32_t channels = r.channels ? r.channels : kDefaultPairChannels;
    if (channels > kMaxChannels) throw SetError("range", "at most " + std::to_string(kMaxChannels) + " channels per pair");
    uint64_t pair = r.pair_size ? round_page(r.pair_size) : std::min(size, std::max(kDefaultPairSize, min_pair_size(channels)));
    if (pair < min_pair_size(channels))
      throw SetError("too-small", "a pair of " + mib(pair) + " cannot hold " + std::to_string(channels) + " channels; it needs at least " +
                                      mib(min_pair_size(channels)));
    if (pair > size) throw SetError("too-small", "an area of " + mib(size) + " cannot hold one pair of " + mib(pair));
    // The free slot in the table, and the first gap in the region that fits.
    std::optional<uint32_t> index;
    for (uint32_t i = 0; i < kAreaCapacity && !index; i++)
      if (load_acquire(&entry(i)->state) == kAreaFree) index = i;
    if (!index) throw SetError("no-space", "no space left in " + path_ + ": its registry holds " + std::to_string(kAreaCapacity) + " areas already");
    // [start, end) of every area whose place is known; a corrupt one's size
    // may be any number, so its end is rounded up to a page: the new area
    // starts page-aligned (as decode_area and a window's mmap require).
    std::vector<std::pair<uint64_t, uint64_t>> used;
    for (const AreaInfo &x : all)
      if (!x.corrupt || (x.offset % kPage == 0 && x.offset <= size_ && x.size <= size_ - x.offset))
        used.push_back({x.offset, round_page(x.offset + x.size)});
    std::sort(used.begin(), used.end());
    uint64_t at = kRegistrySize, largest = 0;
    std::optional<uint64_t> place;
    for (auto [start, end] : used) {
      if (start >= at && start - at >= size) break;
      if (start > at) largest = std::max(largest, start - at);
      at = std::max(at, end);
    }
    if (at <= size_ && size_ - at >= size) place = at;
    else if (at <= size_) largest = std::max(largest, size_ - at);
    if (!place)
      throw SetError("no-space", "no space left in " + path_ + ": area " + std::to_string(r.id) + " needs " + mib(size) + ", the largest free stretch is " +
                                     mib(largest));
    fresh.index = *index;
    fresh.id = r.id;
    fresh.size = size;
    fresh.offset = *place;
    fresh.pair_size = pair;
    fresh.pair_slots = uint32_t(std::min<uint64_t>(kAreaPairsMax, size / pair));
    fresh.channels = channels;
    fresh.created_at_ms = r.now_ms;
    fresh.owner = r.peer;
    a = &fresh;
    res.created = true;
  } else {
    if (r.area_size && size != a->size)
      throw SetError("size-mismatch", "area " + std::to_string(r.id) + " was created with a size of " + mib(a->size) + " (by " + a->owner + "); " +
                                          r.peer + " asked for " + mib(size) + ": give the same size, or none");
    if (r.pair_size && round_page(r.pair_size) != a->pair_size)
      throw SetError("size-mismatch", "area " + std::to_string(r.id) + " has pairs of " + mib(a->pair_size) + "; " + r.peer + " asked for " +
                                          mib(round_page(r.pair_size)));
    if (r.channels && r.channels != a->channels)
      throw SetError("size-mismatch", "area " + std::to_string(r.id) + " has " + std::to_string(a->channels) + " channels per pair; " + r.peer +
                                          " asked for " + std::to_string(r.channels));
  }

  // The mapping: our name's slot if we take it back, else a free one.
  std::optional<uint32_t> slot;
  bool taken[kAreaPeersMax] = {};
  for (const PeerInfo &p : a->peers) {
    taken[p.slot] = true;
    if (p.name != r.peer) continue;
    if (!r.take_over_heartbeat || *r.take_over_heartbeat != p.heartbeat)
      throw SetError("name-taken", "peer name " + r.peer + " is already attached to area " + std::to_string(r.id) + " by pid " + std::to_string(p.pid) +
                                       " on " + (p.host.empty() ? "an unknown host" : p.host) + "; choose another --peer, or unmount that one first");
    slot = p.slot;
  }
  for (uint32_t i = 0; i < kAreaPeersMax && !slot; i++)
    if (!taken[i]) slot = i;
  if (!slot)
    throw SetError("full", "area " + std::to_string(r.id) + " has " + std::to_string(kAreaPeersMax) + " peers attached, the most an area takes");

  // A pair slot with every other attached peer: the pair's own if carved,
  // else a free slot, else one whose two peers are both gone.
  std::vector<std::string> attached;
  for (const PeerInfo &p : a->peers)
    if (p.name != r.peer) attached.push_back(p.name);
  auto is_attached = [&](const std::string &n) { return n == r.peer || std::find(attached.begin(), attached.end(), n) != attached.end(); };
  std::vector<bool> busy(a->pair_slots, false);
  std::vector<std::pair<uint32_t, std::string>> to_carve;  // slot, other peer
  std::vector<const PairInfo *> reclaimable;
  for (const PairInfo &q : a->pairs) {
    busy[q.slot] = true;
    if (!is_attached(q.names[0]) && !is_attached(q.names[1])) reclaimable.push_back(&q);
  }
  uint32_t next_free = 0;
  size_t next_reclaim = 0;
  for (const std::string &other : attached) {
    bool have = false;
    for (const PairInfo &q : a->pairs)
      if ((q.names[0] == r.peer && q.names[1] == other) || (q.names[1] == r.peer && q.names[0] == other)) have = true;
    if (have) continue;
    while (next_free < a->pair_slots && busy[next_free]) next_free++;
    if (next_free < a->pair_slots) {
      busy[next_free] = true;
      to_carve.push_back({next_free, other});
    } else if (next_reclaim < reclaimable.size()) {
      to_carve.push_back({reclaimable[next_reclaim++]->slot, other});
    } else {
      throw SetError("no-space", "no space left in area " + std::to_string(r.id) + " for the pairs of " + r.peer + ": its " +
                                     std::to_string(a->pair_slots) + " pair slots of " + mib(a->pair_size) +
                                     " are in use; create the area bigger, or with smaller pairs (--pair-size)");
    }
  }

  // Everything is decided: write. The entry first (a new area), then the
  // mapping, then the pairs, then the version that tells readers.
  AreaEntry *e = entry(a->index);
  if (res.created) {
    store_release(&e->state, uint32_t(kAreaFree));
    std::memset(e, 0, sizeof(*e));
    e->id = a->id;
    e->size = a->size;
    e->offset = a->offset;
    e->pair_size = a->pair_size;
    e->pair_slots = a->pair_slots;
    e->channels = a->channels;
    e->created_at_ms = a->created_at_ms;
    put_string(e->owner, a->owner);
    store_release(&e->state, uint32_t(kAreaLive));
  }
  PeerMapping &m = e->peers[*slot];
  store_release(&m.state, uint32_t(kPeerFree));
  uint32_t epoch = m.epoch + 1;
  put_string(m.name, r.peer);
  put_string(m.host, r.host);
  m.pid = r.pid;
  m.doorbell_id = r.doorbell_id;
  m.attached_at_ms = r.now_ms;
  m.epoch = epoch;
  store_release(&m.heartbeat, uint64_t(0));
  store_release(&m.state, uint32_t(kPeerAttached));
  for (auto &[pslot, other] : to_carve) {
    PairSlot &s = e->pairs[pslot];
    store_release(&s.state, uint32_t(kPairFree));
    const std::string &lo = std::min(r.peer, other), &hi = std::max(r.peer, other);
    put_string(s.names[0], lo);
    put_string(s.names[1], hi);
    s.generation++;
    Geometry g = MemsectionSet::plan_region(a->channels, a->pair_size);
    MemsectionSet::write_header(base_ + a->offset + uint64_t(pslot) * a->pair_size, g);
    store_release(&s.state, uint32_t(kPairCarved));
  }
  changed(r.now_ms);
  res.peer_slot = *slot;
  res.epoch = epoch;
  res.area = read_area(a->index);
  return res;
}

void AreaRegistry::detach(uint32_t index, uint32_t peer_slot, uint32_t epoch) {
  if (index >= kAreaCapacity || peer_slot >= kAreaPeersMax) return;
  Lock lock(*this);
  PeerMapping &m = entry(index)->peers[peer_slot];
  if (load_acquire(&m.state) != kPeerAttached || load_acquire(&m.epoch) != epoch) return;  // taken back by a new mount of the name
  store_release(&m.state, uint32_t(kPeerFree));
  changed(wall_ms());
}

bool AreaRegistry::heartbeat(uint32_t index, uint32_t peer_slot, uint32_t epoch) {
  if (index >= kAreaCapacity || peer_slot >= kAreaPeersMax) return false;
  PeerMapping &m = entry(index)->peers[peer_slot];
  if (load_acquire(&entry(index)->state) != kAreaLive || load_acquire(&m.state) != kPeerAttached || load_acquire(&m.epoch) != epoch) return false;
  add_release(&m.heartbeat, uint64_t(1));
  return true;
}

void AreaRegistry::remove(uint32_t id, uint64_t expected_version) {
  Lock lock(*this);
  if (version() != expected_version) throw SetError("busy", "the registry of " + path_ + " changed while we looked; try again");
  for (uint32_t i = 0; i < kAreaCapacity; i++) {
    AreaEntry *e = entry(i);
    if (load_acquire(&e->state) == kAreaFree || load_acquire(&e->id) != id) continue;
    store_release(&e->state, uint32_t(kAreaFree));
    std::memset(e, 0, sizeof(*e));
    changed(wall_ms());
    return;
  }
  throw SetError("no-area", "area " + std::to_string(id) + " does not exist in " + path_);
}

}  // namespace ivfs
