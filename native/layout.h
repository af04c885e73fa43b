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

// The offsets docs/LAYOUT.md promises to the peer: changing one without the
// page (and kLayoutVersion) fails here.
static_assert(offsetof(ControlHeader, table_lock) == 128 && offsetof(ControlHeader, table_version) == 136 &&
                  offsetof(ControlHeader, table_changed_ms) == 144 && offsetof(ControlHeader, side) == 192,
              "LAYOUT.md header");
static_assert(offsetof(SideState, heartbeat) == 8 && offsetof(SideState, host) == 32 && offsetof(SideState, bell) == 64 &&
                  offsetof(SideState, bells_rung) == 72 && offsetof(SideState, doorbell_id) == 80,
              "LAYOUT.md side state");
static_assert(offsetof(ChannelEntry, ctime_ms) == 24 && offsetof(ChannelEntry, name) == 32 && offsetof(ChannelEntry, side_open) == 96 &&
                  offsetof(ChannelEntry, atime_ms) == 104 && offsetof(ChannelEntry, mtime_ms) == 112 && offsetof(ChannelEntry, ring) == 128 &&
                  sizeof(ChannelEntry) == 384,
              "LAYOUT.md channel entry");
static_assert(offsetof(RingState, epipe_mark) == 20 && offsetof(RingState, tail) == 64 && offsetof(RingState, eof_mark) == 84 &&
                  offsetof(RingState, read_ops) == 88 && offsetof(RingState, readers_closing) == 96 &&
                  offsetof(RingState, writers_closing) == 32 && offsetof(RingState, consumer_wake) == 36 &&
                  offsetof(RingState, producer_wake) == 100,
              "LAYOUT.md ring state");

inline uint64_t control_size_for(uint32_t capacity) {
  uint64_t raw = kTableOffset + uint64_t(capacity) * sizeof(ChannelEntry);
  return (raw + kPage - 1) / kPage * kPage;
}

// FNV-1a over the immutable part of the header (everything before
// header_check), so a scribbled size or capacity is caught at mount.
inline uint64_t header_checksum(const ControlHeader &h) {
  const uint8_t *p = reinterpret_cast<const uint8_t *>(&h);
  uint64_t x = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < offsetof(ControlHeader, header_check); i++) {
    x ^= p[i];
    x *= 0x100000001b3ull;
  }
  return x;
}

}  // namespace ivfs
