// The one definition of the shared-memory layout of an intervmfs memsection set.
//
// Both peers map the same bytes; this header is the contract between them,
// mirrored in prose by docs/LAYOUT.md (keep the two in step). Every field says
// which side writes it. Nothing outside native/ knows an offset: TypeScript
// asks the addon.
//
// Rules that keep the peer untrusted:
//  - a side writes only the fields marked with its own role (producer or
//    consumer of a ring, or its own SideState); fields of the channel table
//    are written only under the table lock;
//  - whatever is read from shared memory is read once into a local, checked,
//    and only the local copy is used (see ring.h, channel_table.cc);
//  - sizes and offsets that decide where memory is touched come from the
//    header as validated at mount time and cached locally, never re-read.
//
// All multi-byte fields are little-endian (x86-64, arm64); the layout is
// naturally aligned and padded explicitly so that C++ compilers on both
// sides agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ivfs {

constexpr uint64_t kMagic = 0x31534654564e4949ull;  // "IINVTFS1" read as bytes
// 2: channel atime_ms/mtime_ms and the header's table_changed_ms (former
//    padding), so touch, chmod and the directory's times are shared; a
//    ring's readers_closing and writers_closing (former padding), for EPIPE
//    and end of file right after close().
// 3: a ring's consumer_wake and producer_wake (former padding), so a waiting
//    request sleeps on its own ring's word instead of the side's bell; the
//    waiting flags became bit sets (kWaitingRequest, kWaitingPoll).
constexpr uint32_t kLayoutVersion = 3;

constexpr uint32_t kSideCount = 2;       // side a = 0, side b = 1
constexpr uint32_t kNameMax = 63;        // bytes of a channel name, without NUL
constexpr uint32_t kPipeBuf = 4096;      // writes up to this size are atomic
constexpr uint32_t kMinRingSize = 8192;  // room for two atomic writes
constexpr uint32_t kMaxChannels = 4096;
constexpr uint64_t kPage = 4096;

// Channel table entry states.
enum ChannelState : uint32_t {
  kFree = 0,      // slot unused
  kLive = 1,      // named channel, visible in both mounts
  kUnlinked = 2,  // name removed; open descriptors still use the rings
};

// Which notifier a side uses to sleep; recorded so that the peer knows how
// to wake it (and status can show it). The waker always bumps the bell; it
// also calls FUTEX_WAKE when the sleeper uses futex, and writes the ivshmem
// Doorbell register with the sleeper's doorbell_id when it uses doorbell.
enum NotifyMode : uint32_t {
  kNotifyPoll = 0,
  kNotifyFutex = 1,
  kNotifyDoorbell = 2,
};

// Bits of a ring's consumer_waiting / producer_waiting: who waits, and so how
// to wake them. A request sleeps on the ring's own wake word: the waker
// moves it, and FUTEX_WAKEs it when the sleeper's side uses futex, else
// rings that side's bell (its notifier thread then wakes the words that
// moved). An armed poll always hears the side's bell. Any other bit set
// (a peer of another mind) is answered with the bell.
constexpr uint32_t kWaitingRequest = 1;
constexpr uint32_t kWaitingPoll = 2;

// Per-side liveness and wake-up state. Written by the side it describes,
// except `bell`, which the peer increments to wake this side.
struct alignas(64) SideState {
  uint32_t attached;        // 1 while a daemon serves this side
  uint32_t epoch;           // incremented at every mount of this side
  uint64_t heartbeat;       // incremented by the serving daemon every 250 ms
  uint32_t pid;             // pid of the daemon in its own kernel (info only)
  uint32_t notify_mode;     // NotifyMode the side sleeps with
  uint64_t mounted_at_ms;   // wall clock at mount (info only)
  char host[32];            // hostname of the daemon, NUL-terminated (info only)
  // Written by the PEER: incremented (release) after it made progress this
  // side may be waiting for. The futex word when notify_mode is futex.
  alignas(64) uint32_t bell;
  uint32_t pad0;
  uint64_t bells_rung;      // written by the peer: statistics
  // Written by the side it describes, at mount: its ivshmem peer id
  // (IVPosition), the target of the peer's Doorbell writes when notify_mode
  // is doorbell. Zero in sets formatted before it existed (it was padding).
  uint32_t doorbell_id;
  uint32_t pad2;
  uint8_t pad1[40];
};
static_assert(sizeof(SideState) == 128, "SideState layout");

// One direction of one channel: a single-producer single-consumer byte ring.
// head and tail are free-running byte counters; head - tail is the fill level
// and must never exceed the ring size. Producer and consumer fields live on
// separate cache lines so the two sides do not false-share.
struct alignas(64) RingState {
  // --- written by the producer side only ---
  uint64_t head;            // bytes ever produced (release after the copy)
  uint32_t writers_open;    // descriptors of the producer side open for write
  uint32_t writer_opens;    // opens for write ever (EOF bookkeeping, wraps)
  uint32_t producer_waiting;  // kWaiting* bits while a writer waits for space or a poll for POLLOUT
  uint32_t epipe_mark;      // reader_opens value at which writers saw EPIPE
  uint64_t write_ops;       // statistics
  // Writers whose close() has begun (FUSE flush) but whose release has not
  // come yet: a reader that finds every writer closing waits for the
  // release (then end of file) instead of answering EAGAIN.
  uint32_t writers_closing;
  // The futex word the consumer side's waiting reads sleep on. The
  // producer adds 1 after progress a waiting reader needs;
  // the consumer side adds 1 too, to wake its own sleepers (stop, peer
  // death). The value means nothing; only its change does.
  uint32_t consumer_wake;
  uint8_t pad0[24];
  // --- written by the consumer side only ---
  alignas(64) uint64_t tail;  // bytes ever consumed (release after the copy)
  uint32_t readers_open;      // descriptors of the consumer side open for read
  uint32_t reader_opens;      // opens for read ever (EPIPE bookkeeping, wraps)
  uint32_t consumer_waiting;  // kWaiting* bits while a reader waits for data or a poll for POLLIN
  uint32_t eof_mark;          // writer_opens value at which readers saw EOF
  uint64_t read_ops;          // statistics
  // Readers whose close() has begun (FUSE flush) but whose release has not
  // come yet. A writer that finds every reader closing waits for the
  // release (then EPIPE) or for a read (the descriptor lives on elsewhere).
  uint32_t readers_closing;
  // The futex word the producer side's waiting writes sleep on: the
  // consumer adds 1 after freeing space a waiting writer needs, the
  // producer side to wake its own (the next writer in line, stop).
  uint32_t producer_wake;
  uint8_t pad1[24];
};
static_assert(sizeof(RingState) == 128, "RingState layout");

// One named channel. Identity fields are written under the table lock only.
struct alignas(64) ChannelEntry {
  uint32_t state;           // ChannelState (table lock)
  uint32_t generation;      // bumped at every create (table lock)
  uint32_t mode;            // permission bits from mknod (table lock)
  uint32_t uid;             // owner from mknod (table lock)
  uint32_t gid;             // group from mknod (table lock)
  uint32_t pad0;
  uint64_t ctime_ms;        // creation or last attribute change (table lock)
  char name[kNameMax + 1];  // NUL-terminated (table lock)
  uint32_t side_open[kSideCount];  // open descriptors, each written by its side
  uint64_t atime_ms;        // set by touch/utimensat, else creation (table lock)
  uint64_t mtime_ms;        // set by touch/utimensat, else creation (table lock)
  uint8_t pad1[8];
  // ring[0] carries side a -> side b in data memsection 0;
  // ring[1] carries side b -> side a in data memsection 1.
  RingState ring[kSideCount];
};
static_assert(sizeof(ChannelEntry) == 128 + 2 * sizeof(RingState), "ChannelEntry layout");

// The control memsection starts with this header, then the channel table.
struct alignas(64) ControlHeader {
  // --- written once by `format`, read-only afterwards ---
  uint64_t magic;             // kMagic
  uint32_t layout_version;    // kLayoutVersion
  uint32_t channel_capacity;  // number of ChannelEntry slots
  uint64_t control_size;      // bytes of the control memsection
  uint64_t data_size;         // bytes of EACH data memsection
  uint64_t ring_size;         // bytes of one channel's ring slice
  uint64_t data_offset[kSideCount];  // where data0/data1 start: 0 for separate
                                     // files, else offset in the one region
  uint64_t formatted_at_ms;
  uint64_t header_check;      // FNV-1a of the bytes above: detects corruption
  uint8_t pad0[64 - 8 - 8];
  // --- the cross-peer table lock (see channel_table.h) ---
  alignas(64) uint64_t table_lock;  // 0 free, else lock_owner(side, epoch)
  uint64_t table_version;     // bumped under the lock at every table change
  uint64_t table_changed_ms;  // wall clock of the last create or unlink: the directory's mtime (table lock)
  uint8_t pad1[40];
  SideState side[kSideCount];
};

constexpr uint64_t kTableOffset = 4096;  // channel table starts one page in
static_assert(sizeof(ControlHeader) <= kTableOffset, "header fits its page");
static_assert(offsetof(ControlHeader, header_check) == 64, "header check covers 64 bytes");

// The offsets docs/LAYOUT.md promises to the peer, every shared field:
// changing one without the page (and kLayoutVersion) fails here, and
// test/unit/10.layout-doc.test.ts checks the page's tables against the
// compiled layout.
static_assert(offsetof(ControlHeader, magic) == 0 && offsetof(ControlHeader, layout_version) == 8 && offsetof(ControlHeader, channel_capacity) == 12 &&
                  offsetof(ControlHeader, control_size) == 16 && offsetof(ControlHeader, data_size) == 24 && offsetof(ControlHeader, ring_size) == 32 &&
                  offsetof(ControlHeader, data_offset) == 40 && offsetof(ControlHeader, formatted_at_ms) == 56 &&
                  offsetof(ControlHeader, header_check) == 64,
              "LAYOUT.md header");
static_assert(offsetof(ControlHeader, table_lock) == 128 && offsetof(ControlHeader, table_version) == 136 &&
                  offsetof(ControlHeader, table_changed_ms) == 144 && offsetof(ControlHeader, side) == 192,
              "LAYOUT.md table lock and side states");
static_assert(offsetof(SideState, attached) == 0 && offsetof(SideState, epoch) == 4 && offsetof(SideState, heartbeat) == 8 &&
                  offsetof(SideState, pid) == 16 && offsetof(SideState, notify_mode) == 20 && offsetof(SideState, mounted_at_ms) == 24 &&
                  offsetof(SideState, host) == 32 && offsetof(SideState, bell) == 64 && offsetof(SideState, bells_rung) == 72 &&
                  offsetof(SideState, doorbell_id) == 80,
              "LAYOUT.md side state");
static_assert(offsetof(ChannelEntry, state) == 0 && offsetof(ChannelEntry, generation) == 4 && offsetof(ChannelEntry, mode) == 8 &&
                  offsetof(ChannelEntry, uid) == 12 && offsetof(ChannelEntry, gid) == 16 && offsetof(ChannelEntry, ctime_ms) == 24 &&
                  offsetof(ChannelEntry, name) == 32 && offsetof(ChannelEntry, side_open) == 96 && offsetof(ChannelEntry, atime_ms) == 104 &&
                  offsetof(ChannelEntry, mtime_ms) == 112 && offsetof(ChannelEntry, ring) == 128 && sizeof(ChannelEntry) == 384,
              "LAYOUT.md channel entry");
static_assert(offsetof(RingState, head) == 0 && offsetof(RingState, writers_open) == 8 && offsetof(RingState, writer_opens) == 12 &&
                  offsetof(RingState, producer_waiting) == 16 && offsetof(RingState, epipe_mark) == 20 && offsetof(RingState, write_ops) == 24 &&
                  offsetof(RingState, writers_closing) == 32 && offsetof(RingState, consumer_wake) == 36 && offsetof(RingState, tail) == 64 &&
                  offsetof(RingState, readers_open) == 72 && offsetof(RingState, reader_opens) == 76 &&
                  offsetof(RingState, consumer_waiting) == 80 && offsetof(RingState, eof_mark) == 84 && offsetof(RingState, read_ops) == 88 &&
                  offsetof(RingState, readers_closing) == 96 && offsetof(RingState, producer_wake) == 100,
              "LAYOUT.md ring state");

// --- Area regions (docs/LAYOUT.md, "Area regions") ------------------------
//
// A region formatted with `format --areas` holds a registry and any number of
// areas, each named by an integer ID and shared by a set of named peers (as
// Xen's static shared memory areas are). An area is carved into pair slots:
// every two peers of an area that are attached at once get one classic
// memsection set (control, data0, data1 in one window, layout above), side a
// being the peer whose name sorts first. The registry has its own magic and
// version: the sets inside the areas are unchanged version-3 sets.
constexpr uint64_t kAreaMagic = 0x3141455241564949ull;  // "IIVAREA1" read as bytes
constexpr uint32_t kRegistryVersion = 1;
constexpr uint32_t kAreaCapacity = 32;     // areas one region can hold
constexpr uint32_t kAreaPeersMax = 16;     // peers attached to one area at once
constexpr uint32_t kAreaPairsMax = kAreaPeersMax * (kAreaPeersMax - 1) / 2;
constexpr uint32_t kPeerNameMax = 31;      // bytes of a peer name, without NUL
constexpr uint32_t kAreaIdMax = 65535;     // area IDs are 1 to this

enum AreaState : uint32_t { kAreaFree = 0, kAreaLive = 1 };
enum PeerState : uint32_t { kPeerFree = 0, kPeerAttached = 1 };
enum PairState : uint32_t { kPairFree = 0, kPairCarved = 1 };

// One peer that has an area attached: Xen's mappings/<dom>. Written by that
// peer (under the registry lock at attach and detach; its heartbeat alone).
struct alignas(64) PeerMapping {
  uint32_t state;           // PeerState
  uint32_t epoch;           // +1 at every attach of this slot
  uint64_t heartbeat;       // +1 every 250 ms while attached (no lock)
  uint32_t pid;             // daemon pid in its own kernel (information)
  uint32_t doorbell_id;     // its ivshmem peer id, 0 without a doorbell
  uint64_t attached_at_ms;  // wall clock at attach (information)
  char name[kPeerNameMax + 1];  // NUL-terminated, unique among attached peers
  char host[32];            // host name, NUL-terminated (information)
  uint8_t pad0[32];
};
static_assert(sizeof(PeerMapping) == 128, "PeerMapping layout");

// One pair slot of an area: the memsection set at
// area offset + index x pair_size, joining the two peers named here.
struct PairSlot {
  uint32_t state;       // PairState (registry lock)
  uint32_t generation;  // +1 every time the slot is carved for a new pair
  char names[kSideCount][kPeerNameMax + 1];  // side a, side b: names[0] < names[1]
  uint8_t pad0[24];
};
static_assert(sizeof(PairSlot) == 96, "PairSlot layout");

// One area. Written under the registry lock only, except the mappings'
// heartbeats.
struct alignas(64) AreaEntry {
  uint32_t state;           // AreaState
  uint32_t id;              // 1 to kAreaIdMax
  uint64_t size;            // bytes, as its creator asked (page multiple)
  uint64_t offset;          // where it starts in the region (page-aligned)
  uint64_t pair_size;       // bytes of one pair's memsection set (page multiple)
  uint32_t pair_slots;      // min(kAreaPairsMax, size / pair_size)
  uint32_t channels;        // channel capacity of each pair's set
  uint64_t created_at_ms;   // wall clock at creation (information)
  char owner[kPeerNameMax + 1];  // the peer that first named it
  uint8_t pad0[48];
  PeerMapping peers[kAreaPeersMax];
  PairSlot pairs[kAreaPairsMax];
  uint8_t pad1[16384 - 128 - kAreaPeersMax * sizeof(PeerMapping) - kAreaPairsMax * sizeof(PairSlot)];
};
static_assert(sizeof(AreaEntry) == 16384, "AreaEntry layout");

// The first page of an area region.
struct alignas(64) RegistryHeader {
  // --- written once by `format --areas` ---
  uint64_t magic;             // kAreaMagic
  uint32_t registry_version;  // kRegistryVersion
  uint32_t area_capacity;     // kAreaCapacity
  uint64_t region_size;       // bytes of the region at format
  uint64_t registry_size;     // bytes before the first area (header and table)
  uint64_t formatted_at_ms;
  uint8_t pad0[16];
  uint64_t header_check;      // FNV-1a of bytes 0-55
  // --- the registry lock: 0 free, else a token unique to one taking ---
  alignas(64) uint64_t lock;
  uint64_t version;           // +1 at every registry change (lock held)
  uint64_t changed_ms;        // wall clock of the last change (lock held)
  uint8_t pad1[40];
};
static_assert(sizeof(RegistryHeader) == 128, "RegistryHeader layout");
constexpr uint64_t kAreaTableOffset = 4096;  // the area table starts one page in
constexpr uint64_t kRegistrySize = kAreaTableOffset + kAreaCapacity * sizeof(AreaEntry);
static_assert(kRegistrySize % kPage == 0, "areas start on a page");

static_assert(offsetof(RegistryHeader, registry_version) == 8 && offsetof(RegistryHeader, area_capacity) == 12 &&
                  offsetof(RegistryHeader, region_size) == 16 && offsetof(RegistryHeader, registry_size) == 24 &&
                  offsetof(RegistryHeader, formatted_at_ms) == 32 && offsetof(RegistryHeader, header_check) == 56 &&
                  offsetof(RegistryHeader, lock) == 64 && offsetof(RegistryHeader, version) == 72 &&
                  offsetof(RegistryHeader, changed_ms) == 80,
              "LAYOUT.md registry header");
static_assert(offsetof(RegistryHeader, magic) == 0, "LAYOUT.md registry magic");
static_assert(offsetof(AreaEntry, state) == 0 && offsetof(AreaEntry, id) == 4 && offsetof(AreaEntry, size) == 8 && offsetof(AreaEntry, offset) == 16 &&
                  offsetof(AreaEntry, pair_size) == 24 && offsetof(AreaEntry, pair_slots) == 32 && offsetof(AreaEntry, channels) == 36 &&
                  offsetof(AreaEntry, created_at_ms) == 40 && offsetof(AreaEntry, owner) == 48 && offsetof(AreaEntry, peers) == 128 &&
                  offsetof(AreaEntry, pairs) == 128 + 16 * 128,
              "LAYOUT.md area entry");
static_assert(offsetof(PeerMapping, state) == 0 && offsetof(PeerMapping, epoch) == 4 && offsetof(PeerMapping, heartbeat) == 8 && offsetof(PeerMapping, pid) == 16 &&
                  offsetof(PeerMapping, doorbell_id) == 20 && offsetof(PeerMapping, attached_at_ms) == 24 &&
                  offsetof(PeerMapping, name) == 32 && offsetof(PeerMapping, host) == 64,
              "LAYOUT.md peer mapping");
static_assert(offsetof(PairSlot, state) == 0 && offsetof(PairSlot, generation) == 4 && offsetof(PairSlot, names) == 8 &&
                  offsetof(PairSlot, names[1]) == 40,
              "LAYOUT.md pair slot");

// FNV-1a of `n` bytes: the header checks of sets and of area regions.
inline uint64_t fnv1a(const void *data, size_t n) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  uint64_t x = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    x ^= p[i];
    x *= 0x100000001b3ull;
  }
  return x;
}

inline uint64_t registry_checksum(const RegistryHeader &h) { return fnv1a(&h, offsetof(RegistryHeader, header_check)); }

inline uint64_t control_size_for(uint32_t capacity) {
  uint64_t raw = kTableOffset + uint64_t(capacity) * sizeof(ChannelEntry);
  return (raw + kPage - 1) / kPage * kPage;
}

// FNV-1a over the immutable part of the header (everything before
// header_check), so a scribbled size or capacity is caught at mount.
inline uint64_t header_checksum(const ControlHeader &h) { return fnv1a(&h, offsetof(ControlHeader, header_check)); }

}  // namespace ivfs
