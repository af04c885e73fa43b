#include "wire.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <initializer_list>

#include "../channel_table.h"
#include "../memsection_set.h"
#include "say.h"

namespace ivfs {
namespace port {
namespace {

// A HELLO's header and magic: what resync looks for.
constexpr uint8_t kSync[16] = {1, 0, 0, 0, 96, 0, 0, 0, 'I', 'I', 'V', 'P', 'O', 'R', 'T', '1'};
constexpr size_t kHelloFrameBytes = kHeaderBytes + sizeof(HelloRecord);
static_assert(sizeof(kSync) == kHeaderBytes + sizeof(uint64_t), "sync pattern is a header and a magic");

// Who may send a type (section 4.1's "dir" column).
enum Sender : uint8_t { kEither, kOnlyA, kOnlyB };
struct TypeRule {
  const char *name;
  uint32_t length;  // exact payload length; 0 for DATA, whose length varies
  Sender sender;
};
constexpr TypeRule kRules[kLastFrameType + 1] = {
    {"type 0", 0, kEither},
    {"HELLO", sizeof(HelloRecord), kEither},
    {"SIDE", sizeof(SideRecord), kEither},
    {"ENTRY", sizeof(EntryRecord), kOnlyA},  // and b, in its sync dump
    {"TABLE", sizeof(TableRecord), kOnlyA},
    {"DATA", 0, kEither},
    {"PRODUCER", sizeof(ProducerRecord), kEither},
    {"CONSUMER", sizeof(ConsumerRecord), kEither},
    {"POSITION", sizeof(PositionRecord), kEither},
    {"SYNC_END", sizeof(SyncEndRecord), kEither},
    {"TABLE_OP", sizeof(TableOpRecord), kOnlyB},
    {"TABLE_RESULT", sizeof(TableResultRecord), kOnlyA},
    {"BYE", sizeof(ByeRecord), kEither},
    {"TABLE_ACK", sizeof(TableAckRecord), kOnlyB},
};

template <class R>
R record(const uint8_t *p) {
  R r;
  std::memcpy(&r, p, sizeof(R));
  return r;
}

template <size_t N>
bool terminated(const char (&field)[N]) {
  return std::memchr(field, 0, N) != nullptr;
}

// A name field from the peer: terminated, and a name the table would take
// (ChannelTable::check_name, the rule create applies to local names).
template <size_t N>
bool good_name(const char (&field)[N]) {
  return terminated(field) && ChannelTable::check_name(std::string(field)) == 0;
}

bool known_err(int32_t err) {
  for (int32_t e : {0, -EEXIST, -ENOSPC, -ENOENT, -ENAMETOOLONG, -EINVAL, -EBUSY}) {
    if (err == e) return true;
  }
  return false;
}

// 256 KiB, 1 MiB: sizes in the words of --data-size.
std::string size_text(uint64_t bytes) {
  const char *units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; i++) {
    uint64_t unit = 1ull << (30 - 10 * i);
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + " " + units[i];
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace

const char *frame_name(FrameType t) {
  uint16_t i = uint16_t(t);
  return i >= 1 && i <= kLastFrameType ? kRules[i].name : "unknown";
}

uint64_t hello_check(const HelloRecord &h) { return fnv1a(&h, offsetof(HelloRecord, check)); }

HelloRecord make_hello(uint32_t my_side, const Geometry &mine, uint64_t nonce, uint64_t echo, const std::string &host) {
  HelloRecord h{};
  h.magic = kPortMagic;
  h.wire_version = kWireVersion;
  h.layout_version = kLayoutVersion;
  h.side = my_side;
  h.capacity = mine.capacity;
  h.data_size = mine.data_size;
  h.ring_size = mine.ring_size;
  h.nonce = nonce;
  h.echo = echo;
  h.max_data = kMaxData;
  put_string(h.host, host);
  h.check = hello_check(h);
  return h;
}

void append_header(std::vector<uint8_t> &out, FrameType type, uint32_t length) {
  const FrameHeader h{uint16_t(type), 0, length};
  const uint8_t *p = reinterpret_cast<const uint8_t *>(&h);
  out.insert(out.end(), p, p + sizeof(h));
}

bool encode_data(std::vector<uint8_t> &out, const DataRecord &h, const uint8_t *bytes) {
  if (h.n < 1 || h.n > kMaxData) return false;
  append_header(out, FrameType::kData, uint32_t(sizeof(h)) + h.n);
  const uint8_t *p = reinterpret_cast<const uint8_t *>(&h);
  out.insert(out.end(), p, p + sizeof(h));
  out.insert(out.end(), bytes, bytes + h.n);
  return true;
}

Decoder::Decoder(uint32_t my_side, uint32_t capacity) : side_(my_side), capacity_(capacity) { buf_.reserve(kMaxFrameBytes); }

void Decoder::establish() {
  // Only the step out of resync has a HELLO prefix to carry over: once
  // established, a second call must not touch the frame being read.
  if (established_) return;
  established_ = true;
  // A resync prefix left over is a HELLO's beginning, already matched:
  // strict reading goes on with that HELLO's length.
  if (!ready_ && buf_.size() >= kHeaderBytes) length_ = sizeof(HelloRecord);
}

void Decoder::reset() {
  buf_.clear();
  length_ = 0;
  established_ = peer_sync_dump_ = ready_ = failed_ = false;
}

size_t Decoder::feed(const uint8_t *data, size_t n) {
  if (failed_) return 0;
  if (ready_) {  // the caller is done with the last frame
    ready_ = false;
    buf_.clear();
  }
  size_t used = 0;
  while (used < n && !ready_ && !failed_) used += established_ ? take_strict(data + used, n - used) : take_resync(data + used, n - used);
  return used;
}

void Decoder::deliver(FrameType type, uint32_t length) {
  frame_ = Frame{type, length, buf_.data() + kHeaderBytes};
  ready_ = true;
}

// Every byte offset is a candidate, so after a mismatch the bytes already
// taken are searched again rather than thrown away.
void Decoder::drop_to_sync_prefix() {
  size_t start = 0;
  while (start < buf_.size() && std::memcmp(buf_.data() + start, kSync, std::min(buf_.size() - start, sizeof(kSync))) != 0) start++;
  buf_.erase(buf_.begin(), buf_.begin() + long(start));
}

size_t Decoder::take_resync(const uint8_t *p, size_t n) {
  if (buf_.empty()) {  // fast path over stale bytes: to the next byte that can begin the pattern
    const uint8_t *hit = static_cast<const uint8_t *>(std::memchr(p, kSync[0], n));
    if (hit == nullptr) return n;
    buf_.push_back(*hit);
    return size_t(hit - p) + 1;
  }
  const size_t goal = buf_.size() < sizeof(kSync) ? sizeof(kSync) : kHelloFrameBytes;
  const size_t k = std::min(n, goal - buf_.size());
  buf_.insert(buf_.end(), p, p + k);
  if (buf_.size() == kHelloFrameBytes) {
    const HelloRecord h = record<HelloRecord>(buf_.data() + kHeaderBytes);
    if (h.check == hello_check(h)) {
      deliver(FrameType::kHello, sizeof(HelloRecord));
      return k;
    }
    buf_.erase(buf_.begin());  // the pattern was chance: look again one byte further
  }
  drop_to_sync_prefix();
  return k;
}

size_t Decoder::take_strict(const uint8_t *p, size_t n) {
  const bool header_in = buf_.size() >= kHeaderBytes;
  const size_t goal = header_in ? kHeaderBytes + length_ : kHeaderBytes;
  const size_t k = std::min(n, goal - buf_.size());
  buf_.insert(buf_.end(), p, p + k);
  if (buf_.size() < goal) return k;
  const FrameHeader h = record<FrameHeader>(buf_.data());
  // The header is judged before its payload is read, so a bad length is
  // never buffered.
  std::string why = header_in ? check_payload(FrameType(h.type), buf_.data() + kHeaderBytes, length_) : check_header(h);
  if (!why.empty()) {
    failed_ = true;
    error_.reason = why;
    buf_.clear();
  } else if (!header_in) {
    length_ = h.length;
  } else {
    deliver(FrameType(h.type), length_);
  }
  return k;
}

std::string Decoder::check_header(const FrameHeader &h) const {
  if (h.type < 1 || h.type > kLastFrameType) return say("unknown frame type %u", unsigned(h.type));
  const TypeRule &rule = kRules[h.type];
  if (h.flags != 0) return say("%s frame with flags 0x%x, which must be 0", rule.name, unsigned(h.flags));
  if (FrameType(h.type) == FrameType::kData) {
    if (h.length <= sizeof(DataRecord)) return say("DATA frame of %u bytes, at least %zu", h.length, sizeof(DataRecord) + 1);
    if (h.length > sizeof(DataRecord) + kMaxData) return say("DATA frame of %u bytes, at most %zu", h.length, sizeof(DataRecord) + kMaxData);
  } else if (h.length != rule.length) {
    return say("%s frame of %u bytes, which must be %u", rule.name, h.length, rule.length);
  }
  const bool from_b = side_ == 0;
  if (FrameType(h.type) == FrameType::kEntry && from_b && !peer_sync_dump_) return "ENTRY frame from side b outside its sync dump";
  if (FrameType(h.type) != FrameType::kEntry && rule.sender == (from_b ? kOnlyA : kOnlyB)) {
    return say("%s frame from side %c, which only side %c sends", rule.name, from_b ? 'b' : 'a', from_b ? 'a' : 'b');
  }
  return "";
}

std::string Decoder::check_payload(FrameType type, const uint8_t *p, uint32_t length) const {
  const char *name = frame_name(type);
  // ENTRY, DATA, PRODUCER, CONSUMER and POSITION all open with their slot.
  if (type == FrameType::kEntry || type == FrameType::kData || type == FrameType::kProducer || type == FrameType::kConsumer ||
      type == FrameType::kPosition) {
    const uint32_t slot = record<uint32_t>(p);
    if (slot >= capacity_) return say("%s for slot %u, beyond capacity %u", name, slot, capacity_);
  }
  auto count = [&](const char *what, uint32_t v) {
    return v > kMaxOpenCount ? say("%s with %s %u, more than %u", name, what, v, kMaxOpenCount) : std::string();
  };
  switch (type) {
    case FrameType::kHello: {
      const auto r = record<HelloRecord>(p);
      if (r.magic != kPortMagic) return "HELLO without the port magic";
      if (r.check != hello_check(r)) return "HELLO with a bad check";
      break;
    }
    case FrameType::kSide: {
      const auto r = record<SideRecord>(p);
      if (r.attached > 1) return say("SIDE with attached %u, not 0 or 1", r.attached);
      if (r.notify_mode > kNotifyDoorbell) return say("SIDE with notify mode %u, at most %u", r.notify_mode, unsigned(kNotifyDoorbell));
      if (!terminated(r.host)) return "SIDE with a host name that has no terminator";
      break;
    }
    case FrameType::kEntry: {
      const auto r = record<EntryRecord>(p);
      if (r.state > kUnlinked) return say("ENTRY for slot %u with state %u", r.slot, r.state);
      if ((r.flags & ~kEntrySync) != 0 || r.zero != 0) return say("ENTRY for slot %u with reserved bits set", r.slot);
      if (side_ == 0 && !(r.flags & kEntrySync)) return "ENTRY frame from side b without the SYNC flag";
      if ((r.mode & ~07777u) != 0) return say("ENTRY for slot %u with mode 0%o, beyond 07777", r.slot, r.mode);
      if (!terminated(r.name)) return say("ENTRY for slot %u with a name that has no terminator", r.slot);
      if (r.state != kFree && !good_name(r.name)) return say("ENTRY for slot %u with a name no channel may have", r.slot);
      break;
    }
    case FrameType::kData: {
      const auto r = record<DataRecord>(p);
      if (r.n != length - sizeof(DataRecord)) return say("DATA for slot %u says %u bytes but carries %zu", r.slot, r.n, length - sizeof(DataRecord));
      if (r.zero != 0) return say("DATA for slot %u with reserved bits set", r.slot);
      break;
    }
    case FrameType::kProducer: {  // open and closing counts only: writer_opens and epipe_mark wrap by design
      const auto r = record<ProducerRecord>(p);
      if (r.zero != 0) return say("PRODUCER for slot %u with reserved bits set", r.slot);
      for (const std::string &w : {count("side_open", r.side_open), count("writers_open", r.writers_open), count("writers_closing", r.writers_closing)}) {
        if (!w.empty()) return w;
      }
      break;
    }
    case FrameType::kConsumer: {  // likewise reader_opens and eof_mark
      const auto r = record<ConsumerRecord>(p);
      for (const std::string &w : {count("readers_open", r.readers_open), count("readers_closing", r.readers_closing)}) {
        if (!w.empty()) return w;
      }
      break;
    }
    case FrameType::kSyncEnd: {
      const auto r = record<SyncEndRecord>(p);
      if (r.pristine > 1) return say("SYNC_END with pristine %u, not 0 or 1", r.pristine);
      if (r.entries > capacity_) return say("SYNC_END announcing %u entries, beyond capacity %u", r.entries, capacity_);
      break;
    }
    case FrameType::kTableOp: {
      const auto r = record<TableOpRecord>(p);
      if (r.op < kOpCreate || r.op > kOpSetAttributes) return say("TABLE_OP with operation %u", r.op);
      if ((r.mode & ~07777u) != 0) return say("TABLE_OP with mode 0%o, beyond 07777", r.mode);
      if ((r.set_mask & ~kSetAll) != 0) return say("TABLE_OP with set mask 0x%x", r.set_mask);
      if (!good_name(r.name)) return "TABLE_OP with a name no channel may have";
      break;
    }
    case FrameType::kTableResult: {
      const auto r = record<TableResultRecord>(p);
      if (!known_err(r.err)) return say("TABLE_RESULT with error %d, not one a table operation returns", r.err);
      if (r.err == 0 && r.slot >= capacity_) return say("TABLE_RESULT for slot %u, beyond capacity %u", r.slot, capacity_);
      break;
    }
    case FrameType::kBye: {
      const auto r = record<ByeRecord>(p);
      if (r.reason > kByeError || r.zero != 0) return say("BYE with reason %u", r.reason);
      break;
    }
    case FrameType::kPosition:  // its ranges need the rings: the mirror's
    case FrameType::kTable:     // any version: whether it moves forward is the mirror's question
    case FrameType::kTableAck: break;
  }
  return "";
}

std::string check_hello(const HelloRecord &peer, uint32_t my_side, const Geometry &mine) {
  // The version first: a later version may mean everything else differently.
  if (peer.wire_version != kWireVersion) return say("the peer speaks port wire version %u, this intervmfs %u", peer.wire_version, kWireVersion);
  if (peer.layout_version != kLayoutVersion) return say("the peer's sets are layout version %u, this intervmfs's %u", peer.layout_version, kLayoutVersion);
  if (peer.side == my_side) return my_side == 0 ? "both ends are side a" : "both ends are side b";
  if (peer.side > 1) return say("the peer says it is side %u, neither a nor b", peer.side);
  if (peer.capacity != mine.capacity || peer.data_size != mine.data_size || peer.ring_size != mine.ring_size) {
    std::string theirs = std::to_string(peer.capacity) + " channels of " + size_text(peer.ring_size);
    std::string ours = std::to_string(mine.capacity) + " of " + size_text(mine.ring_size);
    if (peer.capacity == mine.capacity && peer.ring_size == mine.ring_size) {  // only the data size differs, below a ring's rounding
      theirs += " in " + size_text(peer.data_size);
      ours += " in " + size_text(mine.data_size);
    }
    return "the peer's set has " + theirs + ", ours " + ours + ": format both with the same --channels and --data-size (format --force)";
  }
  if (peer.max_data != kMaxData) return say("the peer sends DATA of up to %u bytes, this intervmfs %u", peer.max_data, kMaxData);
  if (peer.flags != 0) return say("the peer asks for HELLO flags 0x%x, which this intervmfs does not know", peer.flags);
  if (peer.nonce == 0) return "the peer's HELLO has no nonce";
  if (!terminated(peer.host)) return "the peer's HELLO has a host name without a terminator";
  return "";
}

}  // namespace port
}  // namespace ivfs
