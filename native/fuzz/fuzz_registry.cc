// libFuzzer harness for the registry of an area region (area_registry.h) as
// a hostile peer of any area leaves it: the input patches arbitrary bytes of
// a registry that has two areas with carved pair slots (its header, with or
// without a checksum that matches again, the lock word, area entries, peer
// mappings, pair slots, the headers of the pairs' sets), then drives the
// registry over it: areas(), attach (new ID, existing ID, a name taken back
// with its heartbeat, a new name), heartbeat, detach, remove, and opening the
// registry afresh. Refusals (SetError) are fine; nothing may crash, touch
// memory outside the mapping (AddressSanitizer) or wait for long. Checks,
// the promises that protect the other peers of the region:
//  - an area not reported corrupt lies inside the region, after the
//    registry, and each of its pairs inside the area;
//  - a successful attach reports a sound area holding the peer, an area it
//    created overlaps no other area whose place is known (even a corrupt
//    one's), and the pair sets it reports lie inside the region; those it
//    carved open (as a window of the file, and as a view into the
//    registry's mapping) with the area's channel capacity, older ones open
//    or are refused with SetError.
#include <fuzzer/FuzzedDataProvider.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../area_registry.h"
#include "../memsection_set.h"

using namespace ivfs;

namespace {

constexpr uint64_t kRegionSize = kRegistrySize + (8ull << 20);
constexpr uint64_t kPairSize = 128 << 10;  // 4 channels need 72 KiB
const char *const kNames[] = {"alpha", "beta", "gamma", "delta", "x", "y", "z9", "peer-1"};

struct Range {
  uint64_t offset, length;
};

struct Fixture {
  int fd = -1;
  std::string path;  // /proc/self/fd/N of a file already removed: nothing is left behind, even by a crash
  std::unique_ptr<AreaRegistry> reg;
  std::vector<uint8_t> pristine;  // the whole region after the setup attaches
  std::vector<Range> pair_headers;  // where the setup's pair sets start
  std::vector<Range> dirty;         // bytes past the registry the last input may have changed

  Fixture() {
    char tmpl[] = "/dev/shm/intervmfs-fuzz-registry-XXXXXX";
    fd = mkstemp(tmpl);
    if (fd < 0) {
      char tmp2[] = "/tmp/intervmfs-fuzz-registry-XXXXXX";
      fd = mkstemp(tmp2);
      if (fd < 0) abort();
      unlink(tmp2);
    } else {
      unlink(tmpl);
    }
    if (ftruncate(fd, off_t(kRegionSize)) != 0) abort();
    path = "/proc/self/fd/" + std::to_string(fd);
    AreaRegistry::format(path, false);
    reg = std::make_unique<AreaRegistry>(path);
    reg->stale_lock_ms = 1;  // a scribbled lock word costs an input a millisecond
    reg->give_up_ms = 5;
    // Area 1: three peers (three pairs), then one detached; area 2: two.
    AttachResult g;
    for (const char *n : {"alpha", "beta", "gamma"}) g = attach_setup(1, n, 1 << 20);
    reg->detach(g.area.index, g.peer_slot, g.epoch);
    for (const char *n : {"x", "y"}) attach_setup(2, n, 512 << 10);
    for (const AreaInfo &a : reg->areas()) {
      if (a.corrupt) abort();
      for (const PairInfo &q : a.pairs) pair_headers.push_back({q.region_offset, control_size_for(a.channels)});
    }
    if (pair_headers.size() != 4) abort();
    pristine.resize(kRegionSize);
    if (pread(fd, pristine.data(), kRegionSize, 0) != ssize_t(kRegionSize)) abort();
  }

  AttachResult attach_setup(uint32_t id, const char *name, uint64_t size) {
    AttachRequest r;
    r.id = id;
    r.peer = name;
    r.area_size = size;
    r.pair_size = kPairSize;
    r.channels = 4;
    r.host = "fuzz";
    r.pid = 1;
    r.now_ms = 1;
    return reg->attach(r);
  }
};

Fixture &fixture() {
  static Fixture f;
  return f;
}

// The region as this process maps it, for patching and restoring.
struct View {
  uint8_t *addr;
  View() {
    Mapping m = map_memsection(fixture().path, "region");
    if (m.size != kRegionSize) abort();
    addr = m.addr;  // kept for the life of the process
  }
};

uint8_t *region() {
  static View v;
  return v.addr;
}

void check(bool ok) {
  if (!ok) abort();
}

// What an area that is not reported corrupt promises the other peers.
void check_area(const AreaInfo &a, uint64_t region_size) {
  if (a.corrupt) {
    check(!a.why.empty());
    return;
  }
  check(region_size <= kRegionSize);
  check(a.id >= 1 && a.id <= kAreaIdMax);
  check(a.index < kAreaCapacity);
  check(a.offset >= kRegistrySize && a.offset <= region_size && a.size <= region_size - a.offset);
  check(a.offset % kPage == 0 && a.size % kPage == 0 && a.size > 0);
  check(a.pair_size > 0 && a.pair_size <= a.size && a.pair_slots <= kAreaPairsMax && uint64_t(a.pair_slots) * a.pair_size <= a.size);
  check(a.peers.size() <= kAreaPeersMax);
  for (const PeerInfo &p : a.peers) check(p.slot < kAreaPeersMax && AreaRegistry::valid_peer_name(p.name));
  for (const PairInfo &q : a.pairs) {
    check(q.slot < a.pair_slots);
    check(q.region_offset >= a.offset && q.region_offset - a.offset <= a.size && a.pair_size <= a.offset + a.size - q.region_offset);
    check(q.names[0] < q.names[1]);
  }
}

std::vector<AreaInfo> checked_areas(const AreaRegistry &reg) {
  std::vector<AreaInfo> all = reg.areas();
  check(all.size() <= kAreaCapacity);
  for (const AreaInfo &a : all) check_area(a, reg.region_size());
  return all;
}

bool overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

void patch(FuzzedDataProvider &in, uint8_t *base, std::vector<Range> &dirty, const std::vector<Range> &pair_headers) {
  uint64_t off = 0;
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: off = in.ConsumeIntegralInRange<uint64_t>(0, sizeof(RegistryHeader) - 1); break;      // header
    case 1: off = offsetof(RegistryHeader, lock); break;                                            // the lock word
    case 2: {                                                                                       // an entry's fixed fields
      uint32_t i = in.ConsumeIntegralInRange<uint32_t>(0, 2);
      off = kAreaTableOffset + i * sizeof(AreaEntry) + in.ConsumeIntegralInRange<uint64_t>(0, 127);
      break;
    }
    case 3: {  // a mapping or a pair slot of the first entries
      uint32_t i = in.ConsumeIntegralInRange<uint32_t>(0, 1);
      off = kAreaTableOffset + i * sizeof(AreaEntry) + offsetof(AreaEntry, peers) +
            in.ConsumeIntegralInRange<uint64_t>(0, kAreaPeersMax * sizeof(PeerMapping) + 8 * sizeof(PairSlot) - 1);
      break;
    }
    case 4: {  // the header of a pair's set
      const Range &r = pair_headers[in.ConsumeIntegralInRange<size_t>(0, pair_headers.size() - 1)];
      off = r.offset + in.ConsumeIntegralInRange<uint64_t>(0, kPage - 1);
      break;
    }
    default: off = in.ConsumeIntegralInRange<uint64_t>(0, kRegistrySize - 1); break;  // anywhere in the registry
  }
  std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(1, 16));
  size_t n = std::min<uint64_t>(bytes.size(), kRegionSize - off);
  if (n == 0) return;
  std::memcpy(base + off, bytes.data(), n);
  if (off + n > kRegistrySize) dirty.push_back({off, n});
}

std::string peer_name(FuzzedDataProvider &in) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeRandomLengthString(40);
  return kNames[in.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)];
}

uint64_t pick_size(FuzzedDataProvider &in, bool pair) {
  static const uint64_t areas[] = {0, 4096, 64 << 10, 128 << 10, 512 << 10, 1 << 20, 3 << 20, 8 << 20};
  static const uint64_t pairs[] = {0, 72 << 10, 128 << 10, 256 << 10, 4 << 20};
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeIntegral<uint64_t>();
  return pair ? pairs[in.ConsumeIntegralInRange<size_t>(0, std::size(pairs) - 1)] : areas[in.ConsumeIntegralInRange<size_t>(0, std::size(areas) - 1)];
}

// A pair's set opened as a mount does: a window of its own over the file,
// or a view into the registry's mapping. Opened or refused, never a crash.
std::optional<Geometry> open_pair(const AreaRegistry &reg, const std::string &path, bool shared, uint64_t offset, uint64_t length) {
  try {
    if (shared) return MemsectionSet(reg.region(), offset, length).geometry();
    return MemsectionSet({path}, offset, length).geometry();
  } catch (const SetError &) {
    return std::nullopt;
  }
}

struct Held {
  uint32_t index, slot, epoch;
};

// One attach, and what its success promises.
void attach_and_check(AreaRegistry &reg, const std::string &path, AttachRequest &r, std::vector<Held> &held, std::vector<Range> &dirty) {
  std::vector<AreaInfo> before = checked_areas(reg);
  AttachResult res;
  try {
    res = reg.attach(r);
  } catch (const SetError &) {
    return;
  }
  const AreaInfo &a = res.area;
  check(!a.corrupt);
  check_area(a, reg.region_size());
  check(a.id == r.id);
  bool found = false;
  for (const PeerInfo &p : a.peers)
    if (p.name == r.peer) found = p.slot == res.peer_slot && p.epoch == res.epoch;
  check(found);
  if (res.created) {
    check(a.owner == r.peer);
    for (const AreaInfo &b : before) {
      check(b.id != a.id);
      // Clear of every area whose place is known: a sound one, or a corrupt
      // one whose place still lies in the region (its peers may map it).
      bool placed = !b.corrupt || (b.offset % kPage == 0 && b.offset <= reg.region_size() && b.size <= reg.region_size() - b.offset);
      if (placed) check(!overlap(a.offset, a.offset + a.size, b.offset, b.offset + b.size));
    }
  }
  held.push_back({a.index, res.peer_slot, res.epoch});
  for (const PairInfo &q : a.pairs) {
    check(q.region_offset >= kRegistrySize && q.region_offset <= reg.region_size() && a.pair_size <= reg.region_size() - q.region_offset);
    dirty.push_back({q.region_offset, std::min<uint64_t>(a.pair_size, control_size_for(a.channels))});
    if (q.names[0] != r.peer && q.names[1] != r.peer) continue;
    // Carved by this attach (not there before with its generation): a
    // fresh set of the area's geometry. An older pair's set is whatever
    // the peers left in it, and only has to be refused cleanly.
    bool carved = true;
    for (const AreaInfo &b : before)
      if (b.index == a.index && !b.corrupt)
        for (const PairInfo &o : b.pairs)
          if (o.slot == q.slot && o.generation == q.generation && o.names[0] == q.names[0] && o.names[1] == q.names[1]) carved = false;
    for (bool shared : {false, true}) {
      std::optional<Geometry> g = open_pair(reg, path, shared, q.region_offset, a.pair_size);
      if (carved) check(g && g->capacity == a.channels && g->ring_size >= kMinRingSize);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Fixture &f = fixture();
  uint8_t *base = region();
  // Back to the state after the setup: the registry and whatever the last
  // input wrote past it.
  std::memcpy(base, f.pristine.data(), kRegistrySize);
  for (const Range &r : f.dirty) std::memcpy(base + r.offset, f.pristine.data() + r.offset, r.length);
  f.dirty.clear();

  FuzzedDataProvider in(data, size);
  int patches = in.ConsumeIntegralInRange<int>(0, 12);
  for (int i = 0; i < patches && in.remaining_bytes() > 0; i++) patch(in, base, f.dirty, f.pair_headers);
  if (in.ConsumeBool()) {  // a header that passes its check: the sizes themselves are scribbled
    RegistryHeader *h = reinterpret_cast<RegistryHeader *>(base);
    h->header_check = registry_checksum(*h);
  }

  // A mount opening the registry now: refused or accepted, never a crash;
  // when accepted, the rest of the input drives that registry.
  std::unique_ptr<AreaRegistry> fresh;
  if (in.ConsumeBool()) {
    try {
      fresh = std::make_unique<AreaRegistry>(f.path);
      fresh->stale_lock_ms = 1;
      fresh->give_up_ms = 5;
      check(fresh->region_size() <= kRegionSize);
    } catch (const SetError &) {
    }
  }
  AreaRegistry &reg = fresh ? *fresh : *f.reg;

  std::vector<Held> held;
  for (int op = 0; op < 24 && in.remaining_bytes() > 0; op++) {
    try {
      switch (in.ConsumeIntegralInRange<int>(0, 8)) {
        case 0: checked_areas(reg); break;
        case 1: {  // a new ID (or any number at all)
          AttachRequest r;
          r.id = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 8) : in.ConsumeIntegral<uint32_t>();
          r.peer = peer_name(in);
          r.area_size = pick_size(in, false);
          r.pair_size = pick_size(in, true);
          r.channels = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint32_t>(0, 8) : in.ConsumeIntegralInRange<uint32_t>(0, 5000);
          r.host = in.ConsumeRandomLengthString(40);
          r.now_ms = 2;
          attach_and_check(reg, f.path, r, held, f.dirty);
          break;
        }
        case 2: {  // an existing area, an attached name taken back with the heartbeat it shows
          std::vector<AreaInfo> all = checked_areas(reg);
          if (all.empty()) break;
          const AreaInfo &a = all[in.ConsumeIntegralInRange<size_t>(0, all.size() - 1)];
          AttachRequest r;
          r.id = a.id;
          if (!a.peers.empty()) {
            const PeerInfo &p = a.peers[in.ConsumeIntegralInRange<size_t>(0, a.peers.size() - 1)];
            r.peer = p.name;
            r.take_over_heartbeat = in.ConsumeBool() ? p.heartbeat : in.ConsumeIntegral<uint64_t>();
          } else {
            r.peer = peer_name(in);
            r.take_over_heartbeat = in.ConsumeIntegral<uint64_t>();
          }
          if (in.ConsumeBool()) r.area_size = a.size;
          r.now_ms = 3;
          attach_and_check(reg, f.path, r, held, f.dirty);
          break;
        }
        case 3: {  // an existing ID, a name of the pool or any string
          AttachRequest r;
          r.id = in.ConsumeIntegralInRange<uint32_t>(1, 3);
          r.peer = peer_name(in);
          if (in.ConsumeBool()) r.area_size = pick_size(in, false);
          if (in.ConsumeBool()) r.pair_size = pick_size(in, true);
          if (in.ConsumeBool()) r.channels = in.ConsumeIntegralInRange<uint32_t>(0, 8);
          r.now_ms = 4;
          attach_and_check(reg, f.path, r, held, f.dirty);
          break;
        }
        case 4: {
          if (!held.empty() && in.ConsumeBool()) {
            const Held &h = held[in.ConsumeIntegralInRange<size_t>(0, held.size() - 1)];
            reg.heartbeat(h.index, h.slot, h.epoch);
          } else {
            reg.heartbeat(in.ConsumeIntegral<uint32_t>() % 40, in.ConsumeIntegral<uint32_t>() % 20, in.ConsumeIntegral<uint32_t>() % 4);
          }
          break;
        }
        case 5: {
          if (!held.empty() && in.ConsumeBool()) {
            const Held &h = held[in.ConsumeIntegralInRange<size_t>(0, held.size() - 1)];
            reg.detach(h.index, h.slot, h.epoch);
          } else {
            reg.detach(in.ConsumeIntegral<uint32_t>() % 40, in.ConsumeIntegral<uint32_t>() % 20, in.ConsumeIntegral<uint32_t>() % 4);
          }
          break;
        }
        case 6: {
          uint32_t id = in.ConsumeIntegralInRange<uint32_t>(0, 4);
          reg.remove(id, in.ConsumeBool() ? reg.version() : in.ConsumeIntegral<uint64_t>());
          break;
        }
        case 7: {  // a peer scribbling between two operations
          patch(in, base, f.dirty, f.pair_headers);
          break;
        }
        case 8: {  // every sound pair of every area opened as its set
          for (const AreaInfo &a : checked_areas(reg)) {
            if (a.corrupt) continue;
            for (const PairInfo &q : a.pairs) open_pair(reg, f.path, in.ConsumeBool(), q.region_offset, a.pair_size);
          }
          break;
        }
      }
    } catch (const SetError &) {
    }
  }
  checked_areas(reg);
  return 0;
}
