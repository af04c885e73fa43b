// The port transport's wire format, version 1 (docs/design/port-transport.md,
// section 4): the fixed-size records that carry a set's shared fields over a
// byte stream (virtio-serial, a Unix socket), their encoder, the stream
// decoder, and the HELLO check that refuses a peer of another version or
// geometry. Pure: no I/O, no threads, no shared memory.
//
// The decoder checks what a frame says on its own: type, length, reserved
// fields, ranges, names, who may send it. What needs the rings or the table
// belongs to the mirror layer (native/port/mirror.{h,cc}), which applies the
// frame: DATA start == our head of the peer's ring and the room behind our
// tail; a CONSUMER tail between the mirrored tail and our head; the
// generation of a slot-addressed frame; POSITION ranges and the `awaiting`
// set; ENTRY generation and state rules (1.3); TABLE versions increasing; a
// TABLE_RESULT for a pending request; at most 64 TABLE_OPs outstanding.
//
// Records go to and from the wire by memcpy. That relies on a little-endian
// target (static_assert below; x86-64 and arm64 are) and on every field
// being a fixed-width integer or a char array at its natural alignment, so
// there is no padding: the static_asserts pin each size and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../layout.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire records are memcpy'd: little-endian targets only");

namespace ivfs {
struct Geometry;
namespace port {

constexpr uint64_t kPortMagic = 0x3154524f50564949ull;  // "IIVPORT1" read as bytes
constexpr uint32_t kWireVersion = 1;
constexpr uint32_t kMaxData = 65536;          // bytes of one DATA frame
constexpr uint32_t kMaxOpenCount = 1u << 20;  // more descriptors than a side holds: garbage (check.ts OPEN_COUNT_LIMIT)
constexpr size_t kHeaderBytes = 8;
constexpr size_t kMaxFrameBytes = kHeaderBytes + 24 + kMaxData;  // a full DATA frame: all the decoder ever buffers

enum class FrameType : uint16_t {
  kHello = 1, kSide, kEntry, kTable, kData, kProducer, kConsumer, kPosition, kSyncEnd, kTableOp, kTableResult, kBye, kTableAck,
};
constexpr uint16_t kLastFrameType = 13;
const char *frame_name(FrameType t);  // "HELLO", ... for messages

struct FrameHeader {
  uint16_t type, flags;  // flags: 0 in version 1
  uint32_t length;       // payload bytes after this header
};
static_assert(sizeof(FrameHeader) == kHeaderBytes && offsetof(FrameHeader, flags) == 2 && offsetof(FrameHeader, length) == 4, "frame header");

struct HelloRecord {  // both ways: version, geometry, session nonces (4.2)
  static constexpr FrameType kType = FrameType::kHello;
  uint64_t magic;  // kPortMagic
  uint32_t wire_version, layout_version, side, capacity;
  uint64_t data_size, ring_size;
  uint64_t nonce, echo;  // mine (never 0), the peer's last received (0 before)
  uint32_t max_data, flags;  // kMaxData, 0
  char host[24];  // NUL-terminated, information only
  uint64_t check;  // hello_check(): fnv1a of bytes 0-87
};
static_assert(sizeof(HelloRecord) == 96 && offsetof(HelloRecord, wire_version) == 8 && offsetof(HelloRecord, layout_version) == 12 &&
                  offsetof(HelloRecord, side) == 16 && offsetof(HelloRecord, capacity) == 20 && offsetof(HelloRecord, data_size) == 24 &&
                  offsetof(HelloRecord, ring_size) == 32 && offsetof(HelloRecord, nonce) == 40 && offsetof(HelloRecord, echo) == 48 &&
                  offsetof(HelloRecord, max_data) == 56 && offsetof(HelloRecord, flags) == 60 && offsetof(HelloRecord, host) == 64 &&
                  offsetof(HelloRecord, check) == 88,
              "HELLO record");

struct SideRecord {  // both ways: the sender's SideState, less what the receiver synthesises
  static constexpr FrameType kType = FrameType::kSide;
  uint32_t attached, epoch;
  uint64_t heartbeat;
  uint32_t pid, notify_mode;
  uint64_t mounted_at_ms;
  char host[32];  // NUL-terminated
};
static_assert(sizeof(SideRecord) == 64 && offsetof(SideRecord, epoch) == 4 && offsetof(SideRecord, heartbeat) == 8 && offsetof(SideRecord, pid) == 16 &&
                  offsetof(SideRecord, notify_mode) == 20 && offsetof(SideRecord, mounted_at_ms) == 24 && offsetof(SideRecord, host) == 32,
              "SIDE record");

constexpr uint32_t kEntrySync = 1;  // EntryRecord::flags: part of a sync dump (5.2)

struct EntryRecord {  // a to b, and b to a in b's sync dump: a channel's identity and the sender's view of both rings
  static constexpr FrameType kType = FrameType::kEntry;
  uint32_t slot, generation, state, flags;
  uint32_t mode, uid, gid, zero;
  uint64_t ctime_ms, atime_ms, mtime_ms;
  char name[kNameMax + 1];  // NUL-terminated
  uint64_t head0, tail0, head1, tail1;
};
static_assert(sizeof(EntryRecord) == 152 && offsetof(EntryRecord, generation) == 4 && offsetof(EntryRecord, state) == 8 &&
                  offsetof(EntryRecord, flags) == 12 && offsetof(EntryRecord, mode) == 16 && offsetof(EntryRecord, uid) == 20 &&
                  offsetof(EntryRecord, gid) == 24 && offsetof(EntryRecord, zero) == 28 && offsetof(EntryRecord, ctime_ms) == 32 &&
                  offsetof(EntryRecord, atime_ms) == 40 && offsetof(EntryRecord, mtime_ms) == 48 && offsetof(EntryRecord, name) == 56 &&
                  offsetof(EntryRecord, head0) == 120 && offsetof(EntryRecord, tail0) == 128 && offsetof(EntryRecord, head1) == 136 &&
                  offsetof(EntryRecord, tail1) == 144,
              "ENTRY record");

struct TableRecord {  // a to b, after the ENTRYs it covers
  static constexpr FrameType kType = FrameType::kTable;
  uint64_t version, changed_ms;
};
static_assert(sizeof(TableRecord) == 16 && offsetof(TableRecord, changed_ms) == 8, "TABLE record");

struct DataRecord {  // both ways: followed by n bytes of ring[sender] from byte position `start`
  static constexpr FrameType kType = FrameType::kData;
  uint32_t slot, generation;
  uint64_t start;
  uint32_t n, zero;  // 1 <= n <= kMaxData, equal to the frame length - 24
};
static_assert(sizeof(DataRecord) == 24 && offsetof(DataRecord, generation) == 4 && offsetof(DataRecord, start) == 8 && offsetof(DataRecord, n) == 16 &&
                  offsetof(DataRecord, zero) == 20,
              "DATA record");

struct ProducerRecord {  // both ways: the sender's producer half of ring[sender], and its side_open
  static constexpr FrameType kType = FrameType::kProducer;
  uint32_t slot, generation, side_open, writers_open, writer_opens, writers_closing, epipe_mark, zero;
  uint64_t write_ops;
};
static_assert(sizeof(ProducerRecord) == 40 && offsetof(ProducerRecord, side_open) == 8 && offsetof(ProducerRecord, writers_open) == 12 &&
                  offsetof(ProducerRecord, writer_opens) == 16 && offsetof(ProducerRecord, writers_closing) == 20 &&
                  offsetof(ProducerRecord, epipe_mark) == 24 && offsetof(ProducerRecord, zero) == 28 && offsetof(ProducerRecord, write_ops) == 32,
              "PRODUCER record");

struct ConsumerRecord {  // both ways: the sender's consumer half of ring[receiver]; the tail is the credit
  static constexpr FrameType kType = FrameType::kConsumer;
  uint32_t slot, generation;
  uint64_t tail;
  uint32_t readers_open, reader_opens, readers_closing, eof_mark;
  uint64_t read_ops;
};
static_assert(sizeof(ConsumerRecord) == 40 && offsetof(ConsumerRecord, generation) == 4 && offsetof(ConsumerRecord, tail) == 8 &&
                  offsetof(ConsumerRecord, readers_open) == 16 && offsetof(ConsumerRecord, reader_opens) == 20 &&
                  offsetof(ConsumerRecord, readers_closing) == 24 && offsetof(ConsumerRecord, eof_mark) == 28 && offsetof(ConsumerRecord, read_ops) == 32,
              "CONSUMER record");

struct PositionRecord {  // both ways, in the sync dump: where to resume a slot (5.2)
  static constexpr FrameType kType = FrameType::kPosition;
  uint32_t slot, generation;
  uint64_t produced_head, seen_tail, received_head, consumed_tail;
};
static_assert(sizeof(PositionRecord) == 40 && offsetof(PositionRecord, produced_head) == 8 && offsetof(PositionRecord, seen_tail) == 16 &&
                  offsetof(PositionRecord, received_head) == 24 && offsetof(PositionRecord, consumed_tail) == 32,
              "POSITION record");

struct SyncEndRecord {  // both ways: the end of the sync dump
  static constexpr FrameType kType = FrameType::kSyncEnd;
  uint32_t pristine, entries;  // pristine 0 or 1; entries <= capacity
  uint64_t table_version;
};
static_assert(sizeof(SyncEndRecord) == 16 && offsetof(SyncEndRecord, entries) == 4 && offsetof(SyncEndRecord, table_version) == 8, "SYNC_END record");

enum TableOpKind : uint32_t { kOpCreate = 1, kOpUnlink = 2, kOpSetAttributes = 3 };
// TableOpRecord::set_mask: which fields of an attribute change are set (AttributeChange).
constexpr uint32_t kSetMode = 1, kSetUid = 2, kSetGid = 4, kSetAtime = 8, kSetMtime = 16, kSetAll = 31;

struct TableOpRecord {  // b to a: a table operation b forwards to the table's only writer (1.1, scheme F)
  static constexpr FrameType kType = FrameType::kTableOp;
  uint32_t request_id, op, mode, uid, gid, set_mask;
  uint64_t atime_ms, mtime_ms, now_ms;
  char name[kNameMax + 1];  // NUL-terminated, passes ChannelTable::check_name
};
static_assert(sizeof(TableOpRecord) == 112 && offsetof(TableOpRecord, op) == 4 && offsetof(TableOpRecord, mode) == 8 && offsetof(TableOpRecord, uid) == 12 &&
                  offsetof(TableOpRecord, gid) == 16 && offsetof(TableOpRecord, set_mask) == 20 && offsetof(TableOpRecord, atime_ms) == 24 &&
                  offsetof(TableOpRecord, mtime_ms) == 32 && offsetof(TableOpRecord, now_ms) == 40 && offsetof(TableOpRecord, name) == 48,
              "TABLE_OP record");

struct TableResultRecord {  // a to b: the TableResult of a forwarded operation
  static constexpr FrameType kType = FrameType::kTableResult;
  uint32_t request_id;
  int32_t err;  // 0 or -EEXIST, -ENOSPC, -ENOENT, -ENAMETOOLONG, -EINVAL, -EBUSY (Linux numbers: both ends are Linux)
  uint32_t slot, generation;
};
static_assert(sizeof(TableResultRecord) == 16 && offsetof(TableResultRecord, err) == 4 && offsetof(TableResultRecord, slot) == 8 &&
                  offsetof(TableResultRecord, generation) == 12,
              "TABLE_RESULT record");

enum ByeReason : uint32_t { kByeDetach = 0, kByeError = 1 };

struct ByeRecord {  // both ways: the sender closes the session
  static constexpr FrameType kType = FrameType::kBye;
  uint32_t reason, zero;
};
static_assert(sizeof(ByeRecord) == 8 && offsetof(ByeRecord, zero) == 4, "BYE record");

struct TableAckRecord {  // b to a: the table version b has applied
  static constexpr FrameType kType = FrameType::kTableAck;
  uint64_t version;
};
static_assert(sizeof(TableAckRecord) == 8, "TABLE_ACK record");

// --- Encoding ---------------------------------------------------------------

// Copies `s` into a fixed field, cut to fit and NUL-padded.
template <size_t N>
void put_string(char (&field)[N], const std::string &s) {
  std::memset(field, 0, N);
  std::memcpy(field, s.data(), s.size() < N ? s.size() : N - 1);
}

uint64_t hello_check(const HelloRecord &h);
// This end's HELLO, check included.
HelloRecord make_hello(uint32_t my_side, const Geometry &mine, uint64_t nonce, uint64_t echo, const std::string &host);

void append_header(std::vector<uint8_t> &out, FrameType type, uint32_t length);
// Appends one frame holding `r`, as it is (a HELLO's check is the caller's).
template <class R>
void encode(std::vector<uint8_t> &out, const R &r) {
  static_assert(R::kType != FrameType::kData, "DATA carries bytes: encode_data");
  append_header(out, R::kType, sizeof(R));
  const uint8_t *p = reinterpret_cast<const uint8_t *>(&r);
  out.insert(out.end(), p, p + sizeof(R));
}
// Appends a DATA frame of h.n bytes from `bytes`; false (nothing appended)
// unless 1 <= h.n <= kMaxData.
bool encode_data(std::vector<uint8_t> &out, const DataRecord &h, const uint8_t *bytes);

// --- Decoding ---------------------------------------------------------------

// A violation: the session is over. `reason` names what was wrong, as in
// "DATA frame of 70000 bytes, at most 65560".
struct WireError {
  std::string reason;
};

// A frame as the decoder validated it; `payload` points into the decoder
// and is valid until its next feed() or reset().
struct Frame {
  FrameType type;
  uint32_t length;
  const uint8_t *payload;
  // The record, copied out (the caller works on the copy), or nullopt when
  // the frame is of another type.
  template <class R>
  std::optional<R> as() const {
    if (type != R::kType || length < sizeof(R)) return std::nullopt;
    R r;
    std::memcpy(&r, payload, sizeof(R));
    return r;
  }
  const uint8_t *data_bytes() const { return payload + sizeof(DataRecord); }  // DATA: its n bytes
};

// Cuts a byte stream from the peer into frames, never holding more than one
// (kMaxFrameBytes). Until establish() it resyncs (4.2): it scans byte by byte
// for a HELLO's first 16 bytes, takes the HELLO whose check holds and drops
// everything else, so a port's stale bytes from an earlier session are
// skipped. Once established, every frame is validated (4.3, frame-level) and
// the first violation stops it until reset().
class Decoder {
 public:
  // `my_side`: this end (0 a, 1 b), so the peer is the other; `capacity`:
  // the local geometry's, the bound of every slot.
  Decoder(uint32_t my_side, uint32_t capacity);

  // Takes bytes up to the end of the next complete frame and returns how
  // many; the rest is for the next call, after the caller has handled
  // frame() and changed modes if that frame says so. Takes nothing once
  // error() is set.
  size_t feed(const uint8_t *data, size_t n);
  const Frame *frame() const { return ready_ ? &frame_ : nullptr; }  // the frame the last feed() completed
  const WireError *error() const { return failed_ ? &error_ : nullptr; }
  size_t buffered() const { return buf_.size(); }

  // The session is established (right after the HELLO that makes it so): strict from the next byte;
  // a second call changes nothing.
  void establish();
  bool established() const { return established_; }
  // Side a only: whether side b's sync dump is under way, the only time b may send ENTRY.
  void set_peer_sync_dump(bool open) { peer_sync_dump_ = open; }
  // A new connection or a new session: resync again, forget any error.
  void reset();

 private:
  size_t take_resync(const uint8_t *p, size_t n);
  size_t take_strict(const uint8_t *p, size_t n);
  std::string check_header(const FrameHeader &h) const;
  std::string check_payload(FrameType type, const uint8_t *p, uint32_t length) const;
  void drop_to_sync_prefix();
  void deliver(FrameType type, uint32_t length);

  const uint32_t side_, capacity_;
  bool established_ = false, peer_sync_dump_ = false, ready_ = false, failed_ = false;
  std::vector<uint8_t> buf_;  // the frame being read (resync: a prefix of the sync pattern and then of a HELLO)
  uint32_t length_ = 0;       // strict: its payload length, once its header is in
  Frame frame_{};
  WireError error_;
};

// Checks a peer's HELLO against this end (4.2); "" when the session may go
// on, else what to tell the user, e.g. "both ends are side a".
std::string check_hello(const HelloRecord &peer, uint32_t my_side, const Geometry &mine);

}  // namespace port
}  // namespace ivfs
