// libFuzzer harness for the port transport's mirror (port/mirror.h) applying
// what a hostile or confused peer sends (docs/design/port-transport.md, 4.4).
// Per input: a scratch set of 4 channels seen as side b's copy (or side a's,
// by the config byte), pinned, a session begun, and one or two channels made
// the way that side gets them (side a: ChannelTable::create, before the pins
// as at mount; side b: side a's ENTRY through a decoder, as the RX thread
// does), at input-chosen positions. Then a byte stream in input-chosen chunks
// goes through an established decoder into Mirror::apply(); a decoder error
// or a refused frame ends the session (disconnect_reset, a new session). In
// between, the TX side runs (scan, take_replies, sync_dump, a new session)
// and the local engine reads and writes rings (ring.h). Checks, abort() on a
// violation:
//  - no crash, no undefined behaviour (ASan, UBSan);
//  - every live or unlinked slot: 0 <= head - tail <= ring size on both
//    rings; read_entry() not corrupt for a slot that is not free;
//  - the pins: ring[me].consumer_waiting and ring[peer].producer_waiting are
//    kWaitingPoll in every slot, side[peer] notify mode futex, doorbell id 0;
//  - both data memsections hold exactly what the shadow copies say (they
//    start filled with a pattern): an accepted DATA frame for a slot we hold
//    writes its n bytes at start % ring size of that slot's slice of the
//    peer's direction and nothing else, and raises that ring's head by n and
//    no other index; a DATA frame for a generation we do not hold changes
//    nothing; no other frame and no TX call writes data; the control
//    memsection past the table is never written;
//  - a refused frame (apply() says why) changed nothing in the control
//    memsection ("with nothing applied");
//  - what the TX side produces is valid wire: it decodes whole, frame by
//    frame, with an established decoder of the other side; a DATA frame it
//    sends lies between our ring's tail and head and carries its bytes.
// The seeds in corpus/port (b-data: DATA for slot 0 generation 1 from 0,
// then more after a read and a scan; b-producer-consumer; b-entries: SIDE,
// ENTRYs of every kind, TABLE, SYNC_END; b-sync-wrap: channels at positions
// near the counters' wrap; a-position-table-op; a-table-ops: unlink, set
// attributes, the sweep, create, b's sync dump; a-full-ring: DATA refused
// for want of room, then taken across the ring's end; a-adopts: a pristine
// side a taking side b's offered channel at b's positions) are written, then run
// once each, by this file built as a program:
//   clang++ -std=c++20 -DIVFS_PORT_SEEDS -Inative native/fuzz/fuzz_port.cc native/port/mirror.cc native/port/wire.cc \
//     native/channel_table.cc native/memsection_set.cc native/notifier.cc native/doorbell.cc native/doorbell_hub.cc \
//     -pthread -o /tmp/port-seeds && /tmp/port-seeds native/fuzz/corpus/port
// FUZZ_PORT_TRACE=1 in the environment prints every step of an input (each
// frame applied and why it was refused, each frame sent, the engine's moves),
// to read a crashing input: FUZZ_PORT_TRACE=1 ./fuzz_port crash-<hash>.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../channel_table.h"
#include "../memsection_set.h"
#include "../port/mirror.h"
#include "../port/wire.h"
#include "../ring.h"
#include "scratch_set.h"

using namespace ivfs;
using namespace ivfs::port;

namespace {

constexpr uint32_t kCapacity = 4;

// The config byte, the input's last (FuzzedDataProvider reads integers from
// the end).
constexpr uint8_t kSideA = 1, kTwoChannels = 2, kPositions = 4, kSideBSyncDump = 8;
constexpr uint8_t kSideAPristine = 8;  // side a: no channel at mount, so side b's offer may be taken
// The op byte before each chunk, all done before the chunk is fed: bit 3 our
// engine reads a slot, bit 4 it writes one, bit 5 alone ends the session,
// bit 6 alone opens or closes side b's sync dump (side a's decoder), then
// bits 0-2 a TX call.
enum : uint8_t { kTxScan = 4, kTxReplies = 5, kTxSyncDump = 6, kTxNewSession = 7 };
constexpr uint8_t kEngineRead = 0x08, kEngineWrite = 0x10, kSessionEnd = 0x20, kToggleSyncDump = 0x40;

struct Fixture {
  MemsectionSet *set = nullptr;
  Geometry geo;
  std::vector<uint8_t> control;  // just after format
  std::vector<uint8_t> pattern;  // what a data memsection holds at the start

  Fixture() {
    geo = scratch_set(kCapacity, [&](const std::vector<std::string> &paths) { set = new MemsectionSet(paths); });
    control.assign(set->mappings()[0].addr, set->mappings()[0].addr + geo.control_size);
    pattern.resize(geo.data_size);
    for (size_t i = 0; i < pattern.size(); i++) pattern[i] = uint8_t(i * 131 + (i >> 8) * 7 + 1);
  }
};

Fixture &fixture() {
  static Fixture f;
  return f;
}

// FUZZ_PORT_TRACE (see the top of the file).
const bool kTrace = getenv("FUZZ_PORT_TRACE") != nullptr;
#define TRACE(...) (kTrace ? fprintf(stderr, __VA_ARGS__) : 0)

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz_port: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

bool held(const ChannelEntry &e) {
  const uint32_t s = load_acquire(&e.state);
  return s == kLive || s == kUnlinked;
}

class Harness {
 public:
  Harness(Fixture &fx, uint32_t side)
      : fx_(fx),
        set_(*fx.set),
        side_(side),
        ring_(fx.geo.ring_size),
        table_(set_, side),
        mirror_(set_, side, table_),
        decoder_(side, kCapacity) {
    table_.stale_ms = 0;
    table_.give_up_ms = 50;
    uint8_t *control = set_.mappings()[0].addr;
    std::memcpy(control, fx.control.data(), fx.control.size());
    for (uint32_t d = 0; d < kSideCount; d++) {
      std::memcpy(set_.ring_bytes(d, 0), fx.pattern.data(), fx.pattern.size());
      shadow_[d] = fx.pattern;
    }
    decoder_.establish();
  }

  uint32_t peer() const { return 1 - side_; }
  Mirror &mirror() { return mirror_; }

  // A channel of side a's: made by the table, then given positions as if it
  // had carried bytes (`out` ours still unsent, `in` the peer's not yet read).
  void create_a(const std::string &name, uint64_t base_out, uint64_t base_in, uint64_t out, uint64_t in) {
    const TableResult r = table_.create(name, 0644, 1000, 1000, 1700000000000);
    if (r.err != 0) fail("fixture: create failed");
    ChannelEntry *e = set_.entry(r.slot);
    e->ring[side_].tail = base_out;
    e->ring[side_].head = base_out + out % (ring_ + 1);
    e->ring[peer()].tail = base_in;
    e->ring[peer()].head = base_in + in % (ring_ + 1);
  }

  // A channel of side b's: side a's ENTRY, through a decoder as the RX thread
  // would take it.
  void create_b(uint32_t slot, uint32_t generation, const std::string &name, uint64_t tail0, uint64_t tail1, uint64_t fill1) {
    EntryRecord r{};
    r.slot = slot;
    r.generation = generation;
    r.state = kLive;
    r.mode = 0644;
    r.uid = r.gid = 1000;
    r.ctime_ms = r.atime_ms = r.mtime_ms = 1700000000000;
    put_string(r.name, name);
    r.head0 = r.tail0 = tail0;
    r.tail1 = tail1;
    r.head1 = tail1 + fill1 % (ring_ + 1);
    std::vector<uint8_t> bytes;
    encode(bytes, r);
    Decoder d(side_, kCapacity);
    d.establish();
    if (d.feed(bytes.data(), bytes.size()) != bytes.size() || d.frame() == nullptr) fail("fixture: ENTRY not decoded");
    if (!mirror_.apply(*d.frame()).empty()) fail("fixture: ENTRY refused");
  }

  // Bytes from the peer, cut as the stream delivers them.
  void feed(const std::vector<uint8_t> &chunk) {
    size_t off = 0;
    while (off < chunk.size()) {
      const size_t used = decoder_.feed(chunk.data() + off, chunk.size() - off);
      off += used;
      if (decoder_.error() != nullptr) {
        TRACE("  decoder: %s\n", decoder_.error()->reason.c_str());
        end_session();
        continue;
      }
      if (used == 0) fail("decoder took nothing without an error");
      const Frame *f = decoder_.frame();
      if (f == nullptr) continue;
      if (f->type == FrameType::kHello || f->type == FrameType::kBye || f->type == FrameType::kTableResult) continue;  // the transport's
      if (!apply(*f)) end_session();
    }
  }

  // The session is over (a decoder error, a refused frame, the link gone);
  // the next begins as the transport begins one.
  void end_session() {
    TRACE("  session ends: disconnect_reset, open_session, begin_session, sync_dump\n");
    mirror_.disconnect_reset();
    decoder_.reset();
    decoder_.establish();
    if (side_ == 0) decoder_.set_peer_sync_dump(sync_dump_open_);
    new_session();
  }

  void new_session() {
    mirror_.open_session();  // the RX thread's part, at establishment
    mirror_.begin_session();
    std::vector<uint8_t> out;
    mirror_.sync_dump(out);
    check_sent(out, false);
  }

  void toggle_sync_dump() {
    if (side_ != 0) return;
    sync_dump_open_ = !sync_dump_open_;
    decoder_.set_peer_sync_dump(sync_dump_open_);
  }

  void tx(uint8_t what, size_t budget) {
    static const char *const kNames[] = {"", "", "", "", "scan", "take_replies", "sync_dump", "begin_session"};
    TRACE("  tx: %s (budget %zu)\n", kNames[what], budget);
    std::vector<uint8_t> out;
    switch (what) {
      case kTxScan:
        mirror_.scan(out, budget);
        check_sent(out, true);
        break;
      case kTxReplies:
        mirror_.take_replies(out);
        check_sent(out, false);
        break;
      case kTxSyncDump:
        mirror_.sync_dump(out);
        check_sent(out, false);
        break;
      case kTxNewSession: new_session(); break;
    }
    check_data("a TX call");
  }

  // Our engine reads what arrived on a slot (moves the tail of the peer's ring).
  void engine_read(uint32_t slot, uint64_t n) {
    ChannelEntry *e = set_.entry(slot);
    TRACE("  engine reads %lu bytes of slot %u\n", (unsigned long)n, slot);
    if (!held(*e)) return;
    std::vector<uint8_t> buf(ring_);
    const RingView r{&e->ring[peer()], set_.ring_bytes(peer(), slot), ring_};
    if (ring_consume(r, buf.data(), n) < 0) fail("engine read: ring corrupt");
  }

  // Our engine writes into a slot (moves the head of our ring); the shadow follows.
  void engine_write(uint32_t slot, uint64_t n, uint8_t salt) {
    ChannelEntry *e = set_.entry(slot);
    TRACE("  engine writes %lu bytes into slot %u\n", (unsigned long)n, slot);
    if (!held(*e)) return;
    std::vector<uint8_t> buf(n);
    for (uint64_t i = 0; i < n; i++) buf[i] = uint8_t(salt + i * 7);
    const RingView r{&e->ring[side_], set_.ring_bytes(side_, slot), ring_};
    if (ring_produce(r, buf.data(), n, 1) < 0) fail("engine write: ring corrupt");
    std::memcpy(shadow_[side_].data() + slot * ring_, set_.ring_bytes(side_, slot), ring_);
  }

  // The invariants that hold whatever the peer said.
  void check() {
    const SideState &p = set_.header()->side[peer()];
    if (load_acquire(&p.notify_mode) != kNotifyFutex) fail("pin: side[peer].notify_mode is not futex");
    if (load_acquire(&p.doorbell_id) != 0) fail("pin: side[peer].doorbell_id is not 0");
    for (uint32_t slot = 0; slot < kCapacity; slot++) {
      ChannelEntry *e = set_.entry(slot);
      const uint32_t cw = load_acquire(&e->ring[side_].consumer_waiting), pw = load_acquire(&e->ring[peer()].producer_waiting);
      if (cw != kWaitingPoll) fail("pin: slot %u (state %u generation %u): ring[me].consumer_waiting is %u, not kWaitingPoll", slot, e->state, e->generation, cw);
      if (pw != kWaitingPoll) fail("pin: slot %u (state %u generation %u): ring[peer].producer_waiting is %u, not kWaitingPoll", slot, e->state, e->generation, pw);
      const ChannelInfo c = table_.read_entry(slot);
      if (c.state != kFree && c.corrupt) fail("slot %u in use reads corrupt: %s", slot, c.why.c_str());
      if (!held(*e)) continue;
      for (uint32_t d = 0; d < kSideCount; d++) {
        const RingView r{&e->ring[d], set_.ring_bytes(d, slot), ring_};
        if (ring_fill(r) == kRingCorrupt) fail("slot %u ring %u: head %lu - tail %lu beyond the ring size", slot, d, (unsigned long)e->ring[d].head, (unsigned long)e->ring[d].tail);
      }
    }
    check_data("a chunk");
    const uint8_t *control = set_.mappings()[0].addr;
    const uint64_t table_end = kTableOffset + uint64_t(kCapacity) * sizeof(ChannelEntry);
    if (std::memcmp(control + table_end, fx_.control.data() + table_end, fx_.geo.control_size - table_end) != 0) fail("control memsection written past the table");
  }

 private:
  struct Indices {
    uint64_t head[kCapacity][kSideCount], tail[kCapacity][kSideCount];
  };
  Indices indices() const {
    Indices x;
    for (uint32_t s = 0; s < kCapacity; s++) {
      for (uint32_t d = 0; d < kSideCount; d++) {
        x.head[s][d] = load_acquire(&set_.entry(s)->ring[d].head);
        x.tail[s][d] = load_acquire(&set_.entry(s)->ring[d].tail);
      }
    }
    return x;
  }

  void check_data(const char *after) {
    for (uint32_t d = 0; d < kSideCount; d++) {
      if (std::memcmp(set_.ring_bytes(d, 0), shadow_[d].data(), fx_.geo.data_size) != 0) {
        fprintf(stderr, "fuzz_port: data memsection %u differs from its shadow after %s\n", d, after);
        abort();
      }
    }
  }

  static void trace_frame(const char *what, const Frame &f, const std::string &why) {
    if (!kTrace) return;
    uint32_t w[4] = {};
    std::memcpy(w, f.payload, std::min<size_t>(f.length, sizeof(w)));
    fprintf(stderr, "  %s %s (%u bytes; words %u %u %u %u)%s%s\n", what, frame_name(f.type), f.length, w[0], w[1], w[2], w[3], why.empty() ? "" : ": ",
            why.c_str());
  }

  // One frame into the mirror; false when it refused it.
  bool apply(const Frame &f) {
    const uint8_t *control = set_.mappings()[0].addr;
    const std::vector<uint8_t> before(control, control + fx_.geo.control_size);
    const Indices was = indices();
    std::optional<DataRecord> data = f.as<DataRecord>();
    bool ours = false;  // DATA for a generation we hold
    if (data) {
      const ChannelEntry *e = set_.entry(data->slot);  // the decoder checked the slot
      ours = held(*e) && load_acquire(&e->generation) == data->generation;
    }
    const std::string why = mirror_.apply(f);
    trace_frame("apply", f, why);
    if (!why.empty()) {
      if (std::memcmp(control, before.data(), before.size()) != 0) {
        fprintf(stderr, "fuzz_port: %s refused (%s) but the control memsection changed\n", frame_name(f.type), why.c_str());
        abort();
      }
      check_data("a refused frame");
      return false;
    }
    if (!data) {
      if (f.type != FrameType::kEntry && f.type != FrameType::kTableOp && !(f.type == FrameType::kSyncEnd && side_ == 0)) {
        // Only a new channel (side b's ENTRY, side a's create, side a
        // taking side b's offer at its SYNC_END) resets positions.
        const Indices now = indices();
        for (uint32_t s = 0; s < kCapacity; s++) {
          if (now.head[s][0] != was.head[s][0] || now.head[s][1] != was.head[s][1]) fail("a frame other than DATA moved a head");
        }
      }
      return true;
    }
    if (ours) {  // the bytes, where they belong, and nothing else
      uint8_t *slice = shadow_[peer()].data() + data->slot * ring_;
      const uint8_t *bytes = f.data_bytes();
      for (uint32_t i = 0; i < data->n; i++) slice[(data->start + i) % ring_] = bytes[i];
    }
    const Indices now = indices();
    for (uint32_t s = 0; s < kCapacity; s++) {
      for (uint32_t d = 0; d < kSideCount; d++) {
        const uint64_t expect = was.head[s][d] + (ours && s == data->slot && d == peer() ? data->n : 0);
        if (now.head[s][d] != expect) fail("accepted DATA: a head is not where it should be");
        if (now.tail[s][d] != was.tail[s][d]) fail("accepted DATA moved a tail");
      }
    }
    check_data("a DATA frame");
    return true;
  }

  // What the TX side produced: valid wire for the peer, frame by frame.
  void check_sent(const std::vector<uint8_t> &out, bool from_scan) {
    Decoder d(peer(), kCapacity);
    d.establish();
    // Side b's sync dump offers its channels as ENTRY frames, which side a
    // takes from b only then.
    if (side_ == 1 && !from_scan) d.set_peer_sync_dump(true);
    size_t off = 0;
    while (off < out.size()) {
      off += d.feed(out.data() + off, out.size() - off);
      if (const WireError *e = d.error()) {
        fprintf(stderr, "fuzz_port: side %c sent what side %c refuses: %s\n", side_ == 0 ? 'a' : 'b', side_ == 0 ? 'b' : 'a', e->reason.c_str());
        abort();
      }
      const Frame *f = d.frame();
      if (f == nullptr) continue;
      trace_frame("sent", *f, "");
      if (auto r = f->as<DataRecord>()) {
        if (!from_scan) fail("DATA outside a scan");
        const ChannelEntry *e = set_.entry(r->slot);
        if (!held(*e) || load_acquire(&e->generation) != r->generation) fail("sent DATA for a generation we do not hold");
        const uint64_t head = load_acquire(&e->ring[side_].head), tail = load_acquire(&e->ring[side_].tail);
        if (r->start - tail > head - tail || r->n > head - r->start) fail("sent DATA outside our ring's tail..head");
        const uint8_t *slice = set_.ring_bytes(side_, r->slot);
        for (uint32_t i = 0; i < r->n; i++) {
          if (f->data_bytes()[i] != slice[(r->start + i) % ring_]) fail("sent DATA with bytes other than the ring's");
        }
      }
    }
    if (d.frame() == nullptr && d.buffered() != 0) fail("TX output ends inside a frame");
  }

  Fixture &fx_;
  MemsectionSet &set_;
  const uint32_t side_;
  const uint64_t ring_;
  ChannelTable table_;
  Mirror mirror_;
  Decoder decoder_;
  bool sync_dump_open_ = false;
  std::vector<uint8_t> shadow_[kSideCount];  // what each data memsection should hold
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t config = in.ConsumeIntegral<uint8_t>();
  const uint32_t side = (config & kSideA) ? 0 : 1;
  Harness h(fixture(), side);
  const int channels = side == 0 && (config & kSideAPristine) ? 0 : (config & kTwoChannels) ? 2 : 1;
  uint64_t pos[2][4] = {};
  if (config & kPositions) {
    for (auto &p : pos) {
      p[0] = in.ConsumeIntegral<uint64_t>();
      p[1] = in.ConsumeIntegral<uint64_t>();
      p[2] = in.ConsumeIntegral<uint16_t>();
      p[3] = in.ConsumeIntegral<uint16_t>();
    }
  }
  if (side == 0) {
    // Channels the set held at mount: made before the transport pins.
    for (int i = 0; i < channels; i++) h.create_a("c" + std::to_string(i), pos[i][0], pos[i][1], pos[i][2], pos[i][3]);
    h.mirror().pin();
    h.new_session();
  } else {
    h.mirror().pin();
    h.new_session();
    if (config & kSideBSyncDump) {
      // Side a's sync dump: the ENTRYs of a session, slots 1 and 3.
      for (int i = 0; i < channels; i++) h.create_b(1 + 2 * i, 1 + uint32_t(pos[i][2]), "c" + std::to_string(i), pos[i][0], pos[i][1], pos[i][3]);
    } else {
      for (int i = 0; i < channels; i++) h.create_b(i, 1, "c" + std::to_string(i), pos[i][0], pos[i][1], pos[i][3]);
    }
  }
  h.check();

  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    if (op & kEngineRead) {
      const uint8_t slot = in.ConsumeIntegral<uint8_t>();
      h.engine_read(slot % kCapacity, in.ConsumeIntegral<uint16_t>());
    }
    if (op & kEngineWrite) {
      const uint8_t slot = in.ConsumeIntegral<uint8_t>();
      const uint16_t n = in.ConsumeIntegral<uint16_t>();
      h.engine_write(slot % kCapacity, n % (kMinRingSize + 1), slot);
    }
    if ((op & (kSessionEnd | kToggleSyncDump)) == kSessionEnd) h.end_session();
    if ((op & (kSessionEnd | kToggleSyncDump)) == kToggleSyncDump) h.toggle_sync_dump();
    if ((op & 7) >= kTxScan) h.tx(op & 7, (op & 7) == kTxScan ? in.ConsumeIntegral<uint16_t>() : 0);
    h.check();
    const std::vector<uint8_t> chunk = in.ConsumeBytes<uint8_t>(in.ConsumeIntegral<uint16_t>());
    h.feed(chunk);
    h.check();
  }
  return 0;
}

#ifdef IVFS_PORT_SEEDS
namespace {

// An input in the order the harness reads it: the stream's chunks from the
// front, integers from the back (FuzzedDataProvider takes an integer's bytes
// from the end, the first one it takes the most significant).
struct Seed {
  std::vector<uint8_t> front, back;  // back: in the order taken
  void integer(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) back.push_back(uint8_t(v >> (8 * i)));
  }
  void step(uint8_t op, const std::vector<uint8_t> &chunk, uint16_t budget = 0) {
    integer(op, 1);
    if ((op & 7) == kTxScan) integer(budget, 2);
    integer(chunk.size(), 2);
    front.insert(front.end(), chunk.begin(), chunk.end());
  }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> s = front;
    s.insert(s.end(), back.rbegin(), back.rend());
    return s;
  }
};

}  // namespace

// Every seed is written first, then each goes through the harness once.
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds;
  auto write = [&](const char *name, const Seed &seed) {
    const std::vector<uint8_t> s = seed.bytes();
    FILE *f = fopen((std::string(argv[1]) + "/" + name).c_str(), "wb");
    if (f == nullptr || fwrite(s.data(), 1, s.size(), f) != s.size() || fclose(f) != 0) exit(1);
    seeds.emplace_back(name, s);
  };

  // Side b, one channel in slot 0 (generation 1, all positions 0): 100 bytes
  // of DATA, then a scan that answers with the CONSUMER, then a second DATA
  // after our engine read the first.
  {
    Seed s;
    s.integer(0, 1);  // config: side b, one channel, positions 0
    uint8_t bytes[100];
    for (int i = 0; i < 100; i++) bytes[i] = uint8_t(i);
    std::vector<uint8_t> first, second;
    encode_data(first, DataRecord{0, 1, 0, sizeof(bytes), 0}, bytes);
    encode_data(second, DataRecord{0, 1, 100, sizeof(bytes), 0}, bytes);
    s.step(0, first);
    s.integer(kTxScan | kEngineRead, 1);
    s.integer(0, 1), s.integer(100, 2);  // engine read: slot 0, 100 bytes
    s.integer(4096, 2);                  // scan budget
    s.integer(second.size(), 2);
    s.front.insert(s.front.end(), second.begin(), second.end());
    write("b-data", s);
  }

  // Side b, one channel: the peer's PRODUCER then CONSUMER for it, then a
  // scan after our engine wrote 300 bytes (DATA, PRODUCER, CONSUMER back).
  {
    Seed s;
    s.integer(0, 1);
    std::vector<uint8_t> stream;
    encode(stream, ProducerRecord{0, 1, 1, 1, 1, 0, 0, 0, 3});
    encode(stream, ConsumerRecord{0, 1, 0, 1, 1, 0, 0, 2});
    s.step(0, stream);
    s.integer(kTxScan | kEngineWrite, 1);
    s.integer(0, 1), s.integer(300, 2);  // engine write: slot 0, 300 bytes
    s.integer(65535, 2);                 // scan budget
    s.integer(0, 2);                     // an empty chunk
    write("b-producer-consumer", s);
  }

  // Side a, two channels: side b's POSITION for slot 0 (where the session
  // resumes), a TABLE_OP creating a third channel, then a scan (ENTRYs,
  // TABLE, the TABLE_RESULT, DATA) and the replies.
  {
    Seed s;
    s.integer(kSideA | kTwoChannels, 1);
    std::vector<uint8_t> stream;
    encode(stream, PositionRecord{0, 1, 0, 0, 0, 0});
    TableOpRecord op{};
    op.request_id = 7;
    op.op = kOpCreate;
    op.mode = 0600;
    op.now_ms = 1700000000000;
    put_string(op.name, "made-by-b");
    encode(stream, op);
    encode(stream, TableAckRecord{1});
    s.step(0, stream);
    s.integer(kTxScan | kEngineWrite, 1);
    s.integer(0, 1), s.integer(5000, 2);  // engine write: slot 0, 5000 bytes
    s.integer(4096, 2);                   // scan budget
    s.integer(0, 2);
    s.step(kTxReplies, {});
    write("a-position-table-op", s);
  }

  // Side b, side a's sync dump (slots 1 and 3 at far positions, near the
  // counters' wrap), then DATA for slot 1 across the ring's end.
  {
    Seed s;
    s.integer(kTwoChannels | kPositions | kSideBSyncDump, 1);
    const uint64_t tail0 = ~uint64_t(0) - 50;
    s.integer(tail0, 8), s.integer(12345, 8), s.integer(0, 2), s.integer(100, 2);  // slot 1: tail0, tail1, generation - 1, fill1
    s.integer(8190, 8), s.integer(0, 8), s.integer(4, 2), s.integer(0, 2);        // slot 3
    uint8_t bytes[200];
    for (int i = 0; i < 200; i++) bytes[i] = uint8_t(255 - i);
    std::vector<uint8_t> stream;
    encode_data(stream, DataRecord{1, 1, tail0, sizeof(bytes), 0}, bytes);
    encode_data(stream, DataRecord{3, 5, 8190, sizeof(bytes), 0}, bytes);
    s.step(0, stream);
    s.step(kTxScan, {}, 100);
    write("b-sync-wrap", s);
  }

  // Side b, one channel: the peer's SIDE, then ENTRYs as side a sends them:
  // slot 0's attributes, slot 0 unlinked, a new channel in slot 2 (unlinked,
  // at positions of its own), TABLE and SYNC_END; then slot 0 freed and
  // slot 2 going back to live, which is refused (a new session), and slot 2
  // renamed, refused too.
  {
    Seed s;
    s.integer(0, 1);
    std::vector<uint8_t> stream;
    SideRecord side{};
    side.attached = 1, side.epoch = 3, side.heartbeat = 42, side.pid = 4242, side.notify_mode = kNotifyFutex, side.mounted_at_ms = 1700000000000;
    put_string(side.host, "peer");
    encode(stream, side);
    EntryRecord e{};
    e.slot = 0, e.generation = 1, e.state = kLive, e.mode = 0600, e.uid = 7, e.gid = 8, e.ctime_ms = e.atime_ms = e.mtime_ms = 1700000000001;
    put_string(e.name, "c0");
    encode(stream, e);
    e.state = kUnlinked;
    encode(stream, e);
    EntryRecord n = e;
    n.slot = 2, n.generation = 4, n.state = kUnlinked;
    put_string(n.name, "x");
    n.head0 = n.tail0 = 5000, n.head1 = 900, n.tail1 = 100;
    encode(stream, n);
    encode(stream, TableRecord{9, 1700000000002});
    encode(stream, SyncEndRecord{0, 2, 9});
    e.state = kFree;
    encode(stream, e);
    n.state = kLive;
    encode(stream, n);
    put_string(n.name, "y");
    n.state = kUnlinked;
    encode(stream, n);
    s.step(0, stream);
    s.step(kTxScan, {}, 65535);
    write("b-entries", s);
  }

  // Side a, two channels: the peer's SIDE, its PRODUCER holding slot 0
  // open, TABLE_OP unlink of c0 (kept: b holds it), set_attributes on c1,
  // the PRODUCER that lets go (the sweep frees slot 0), a TABLE_OP create
  // that takes slot 0 again, then side b's sync dump opens for an ENTRY and
  // a scan runs.
  {
    Seed s;
    s.integer(kSideA | kTwoChannels, 1);
    std::vector<uint8_t> stream;
    SideRecord side{};
    side.attached = 1, side.epoch = 1, side.notify_mode = kNotifyPoll;
    put_string(side.host, "b");
    encode(stream, side);
    encode(stream, ProducerRecord{0, 1, 1, 0, 0, 0, 0, 0, 0});
    TableOpRecord op{};
    op.request_id = 1, op.op = kOpUnlink, op.now_ms = 1700000000000;
    put_string(op.name, "c0");
    encode(stream, op);
    op.request_id = 2, op.op = kOpSetAttributes, op.mode = 0640, op.uid = 5, op.gid = 6, op.atime_ms = 1, op.mtime_ms = 2, op.set_mask = kSetAll;
    put_string(op.name, "c1");
    encode(stream, op);
    encode(stream, ProducerRecord{0, 1, 0, 0, 0, 0, 0, 0, 0});
    op.request_id = 3, op.op = kOpCreate, op.mode = 0600, op.set_mask = 0;
    put_string(op.name, "again");
    encode(stream, op);
    s.step(0, stream);
    std::vector<uint8_t> dump;
    EntryRecord e{};
    e.slot = 1, e.generation = 1, e.state = kLive, e.flags = kEntrySync, e.mode = 0644;
    put_string(e.name, "c1");
    encode(dump, e);
    encode(dump, SyncEndRecord{0, 1, 3});
    s.step(kTxReplies | kToggleSyncDump, dump);
    s.step(kTxScan, {}, 65535);
    write("a-table-ops", s);
  }

  // Side a on a pristine set: side b's sync dump offers two channels (one
  // with 700 bytes a had sent, 300 of them consumed; a second of the same
  // name, skipped), SYNC_END; side a takes the first at b's positions, then
  // b's DATA for it and a scan (a's table and its POSITION go out).
  {
    Seed s;
    s.integer(kSideA | kSideAPristine, 1);
    std::vector<uint8_t> dump;
    EntryRecord e{};
    e.slot = 2, e.generation = 3, e.state = kLive, e.flags = kEntrySync, e.mode = 0600;
    put_string(e.name, "kept");
    e.head0 = 700, e.tail0 = 300, e.head1 = 64, e.tail1 = 0;
    encode(dump, e);
    e.slot = 3;
    encode(dump, e);
    encode(dump, SyncEndRecord{0, 2, 7});
    uint8_t bytes[64];
    for (int i = 0; i < 64; i++) bytes[i] = uint8_t(i + 1);
    encode_data(dump, DataRecord{2, 3, 0, sizeof(bytes), 0}, bytes);
    s.step(kToggleSyncDump, dump);
    s.step(kTxScan, {}, 65535);
    write("a-adopts", s);
  }

  // Side a, one channel whose ring from b holds 8000 bytes not yet read
  // (positions far out): DATA for 300 more is refused (a new session); our
  // engine reads the 8000 and the same DATA goes in across the ring's end.
  {
    Seed s;
    s.integer(kSideA | kPositions, 1);
    const uint64_t base_in = uint64_t(1) << 40;
    s.integer(1000, 8), s.integer(base_in, 8), s.integer(0, 2), s.integer(8000, 2);  // slot 0: base_out, base_in, out, in
    s.integer(0, 8), s.integer(0, 8), s.integer(0, 2), s.integer(0, 2);            // (a second channel's, unused)
    uint8_t bytes[300];
    for (int i = 0; i < 300; i++) bytes[i] = uint8_t(i * 3);
    std::vector<uint8_t> frame;
    encode_data(frame, DataRecord{0, 1, base_in + 8000, sizeof(bytes), 0}, bytes);
    s.step(0, frame);
    s.integer(kEngineRead, 1);
    s.integer(0, 1), s.integer(8000, 2);  // engine read: slot 0, 8000 bytes
    s.integer(frame.size(), 2);
    s.front.insert(s.front.end(), frame.begin(), frame.end());
    write("a-full-ring", s);
  }
  for (const auto &[name, s] : seeds) {
    fprintf(stderr, "seed %s\n", name.c_str());
    LLVMFuzzerTestOneInput(s.data(), s.size());
  }
  return 0;
}
#endif
