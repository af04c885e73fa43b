// libFuzzer harness for the port transport's stream decoder (port/wire.h)
// facing a hostile or confused peer. The input is a byte stream cut into
// chunks of input-chosen sizes, fed to a decoder of side a or b, resyncing or
// established, with the owner's moves in between (open or close b's sync
// dump, establish, reset), as the RX thread will make them. Checks:
//  - no crash, no undefined behaviour, no read past a chunk (ASan, UBSan);
//  - every frame delivered re-encodes to exactly the bytes it came from, and
//    every HELLO has a good check (before establishment nothing else comes);
//  - after an error nothing is taken or delivered until reset(); a feed with
//    bytes takes some unless it fails; never more than one frame buffered;
//  - round trip (the config's top bit): a random valid frame of any type,
//    encoded and fed in two pieces, comes out as one frame of the same bytes;
//    with one byte changed it is refused whole or comes out as those bytes.
// The seeds in corpus/wire (stale bytes then a HELLO, HELLO+DATA,
// HELLO+ENTRY) are written by this file built as a program:
//   clang++ -std=c++20 -DIVFS_WIRE_SEEDS -Inative native/fuzz/fuzz_wire.cc native/port/wire.cc \
//     native/channel_table.cc native/memsection_set.cc -o /tmp/wire-seeds && /tmp/wire-seeds native/fuzz/corpus/wire
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../memsection_set.h"
#include "../port/wire.h"

using namespace ivfs;
using namespace ivfs::port;

namespace {

// The last input byte (FuzzedDataProvider reads integers from the end).
constexpr uint8_t kSideB = 1, kStartEstablished = 0x10, kEstablishOnHello = 0x20, kStartSyncDump = 0x40, kRoundTrip = 0x80;
uint32_t capacity_of(uint8_t config) { return 1 + ((config >> 1) & 7); }

template <class R>
void again_as(const Frame &f, std::vector<uint8_t> &out) {
  encode(out, f.as<R>().value());  // value(): a type mismatch throws, which libFuzzer reports
}

void reencode(const Frame &f, std::vector<uint8_t> &out) {
  out.clear();
  switch (f.type) {
    case FrameType::kHello: return again_as<HelloRecord>(f, out);
    case FrameType::kSide: return again_as<SideRecord>(f, out);
    case FrameType::kEntry: return again_as<EntryRecord>(f, out);
    case FrameType::kTable: return again_as<TableRecord>(f, out);
    case FrameType::kData:
      if (!encode_data(out, f.as<DataRecord>().value(), f.data_bytes())) abort();
      return;
    case FrameType::kProducer: return again_as<ProducerRecord>(f, out);
    case FrameType::kConsumer: return again_as<ConsumerRecord>(f, out);
    case FrameType::kPosition: return again_as<PositionRecord>(f, out);
    case FrameType::kSyncEnd: return again_as<SyncEndRecord>(f, out);
    case FrameType::kTableOp: return again_as<TableOpRecord>(f, out);
    case FrameType::kTableResult: return again_as<TableResultRecord>(f, out);
    case FrameType::kBye: return again_as<ByeRecord>(f, out);
    case FrameType::kTableAck: return again_as<TableAckRecord>(f, out);
  }
  abort();  // a type the decoder should never have let through
}

void run_stream(FuzzedDataProvider &in, uint8_t config) {
  const uint32_t side = config & kSideB;
  Geometry mine;
  mine.capacity = capacity_of(config);
  mine.ring_size = kMinRingSize;
  mine.data_size = mine.capacity * kMinRingSize;
  Decoder d(side, mine.capacity);
  if (config & kStartEstablished) d.establish();
  d.set_peer_sync_dump(config & kStartSyncDump);
  std::vector<uint8_t> stream, again;  // every byte the decoder took; a frame's re-encoding
  while (in.remaining_bytes() > 0) {
    const uint8_t move = in.ConsumeIntegral<uint8_t>();
    if (move & 1) d.set_peer_sync_dump(move & 2);
    if ((move & 0x1c) == 0x1c) d.reset();
    if ((move & 0x60) == 0x60) d.establish();  // at any moment, even mid-frame
    const std::vector<uint8_t> chunk = in.ConsumeBytes<uint8_t>(in.ConsumeIntegral<uint16_t>());
    size_t off = 0;
    while (off < chunk.size()) {
      const bool failed = d.error() != nullptr;
      const size_t used = d.feed(chunk.data() + off, chunk.size() - off);
      if (failed) {
        if (used != 0 || d.frame() != nullptr) abort();  // nothing after an error without a reset
        break;
      }
      if (used == 0 || used > chunk.size() - off) abort();
      if (d.buffered() > kMaxFrameBytes) abort();
      stream.insert(stream.end(), chunk.data() + off, chunk.data() + off + used);
      off += used;
      const Frame *f = d.frame();
      if (f == nullptr) continue;
      if (d.error() != nullptr) abort();
      reencode(*f, again);
      if (again.size() > stream.size() || std::memcmp(again.data(), stream.data() + stream.size() - again.size(), again.size()) != 0) abort();
      if (auto h = f->as<HelloRecord>()) {
        if (h->check != hello_check(*h)) abort();
        (void)check_hello(*h, side, mine);  // any message, never a crash
        if ((config & kEstablishOnHello) && !d.established()) d.establish();
      } else if (!d.established()) {
        abort();  // resync lets only HELLOs through
      }
    }
  }
}

// A name check_name accepts, from the input.
std::string valid_name(FuzzedDataProvider &in) {
  std::string s = in.ConsumeRandomLengthString(kNameMax - 1);
  for (char &c : s) c = (c == '/' || c == '\0') ? '_' : c;
  return s.empty() || s == "." || s == ".." ? "c" + s : s;
}

template <class R>
R filled(FuzzedDataProvider &in) {
  std::vector<uint8_t> b = in.ConsumeBytes<uint8_t>(sizeof(R));
  b.resize(sizeof(R));
  R r;
  std::memcpy(&r, b.data(), sizeof(R));
  return r;
}

// Every field from the input, then made valid by section 4's rules (stated
// here a second time, independently of the decoder's checks).
void run_round_trip(FuzzedDataProvider &in, uint8_t config) {
  const uint32_t capacity = capacity_of(config);
  const auto type = FrameType(in.ConsumeIntegralInRange<uint16_t>(1, kLastFrameType));
  uint32_t side = config & kSideB;  // the receiver: the sender's peer
  if (type == FrameType::kTable || type == FrameType::kTableResult) side = 1;
  if (type == FrameType::kTableOp || type == FrameType::kTableAck) side = 0;
  std::vector<uint8_t> bytes, again;
  switch (type) {
    case FrameType::kHello: { auto r = filled<HelloRecord>(in); r.magic = kPortMagic; r.check = hello_check(r); encode(bytes, r); break; }
    case FrameType::kSide: { auto r = filled<SideRecord>(in); r.attached &= 1; r.notify_mode %= 3; r.host[31] = 0; encode(bytes, r); break; }
    case FrameType::kEntry: {
      auto r = filled<EntryRecord>(in);
      r.slot %= capacity, r.state %= 3, r.flags = (r.flags & kEntrySync) | (side == 0 ? kEntrySync : 0), r.mode &= 07777, r.zero = 0;
      put_string(r.name, valid_name(in));
      encode(bytes, r);
      break;
    }
    case FrameType::kTable: encode(bytes, filled<TableRecord>(in)); break;
    case FrameType::kData: {
      auto r = filled<DataRecord>(in);
      r.slot %= capacity, r.zero = 0, r.n = 1 + r.n % kMaxData;
      std::vector<uint8_t> b = in.ConsumeBytes<uint8_t>(r.n);
      b.resize(r.n);
      if (!encode_data(bytes, r, b.data())) abort();
      break;
    }
    case FrameType::kProducer: {
      auto r = filled<ProducerRecord>(in);
      r.slot %= capacity, r.zero = 0, r.side_open %= kMaxOpenCount + 1, r.writers_open %= kMaxOpenCount + 1, r.writers_closing %= kMaxOpenCount + 1;
      encode(bytes, r);
      break;
    }
    case FrameType::kConsumer: {
      auto r = filled<ConsumerRecord>(in);
      r.slot %= capacity, r.readers_open %= kMaxOpenCount + 1, r.readers_closing %= kMaxOpenCount + 1;
      encode(bytes, r);
      break;
    }
    case FrameType::kPosition: { auto r = filled<PositionRecord>(in); r.slot %= capacity; encode(bytes, r); break; }
    case FrameType::kSyncEnd: { auto r = filled<SyncEndRecord>(in); r.pristine &= 1, r.entries %= capacity + 1; encode(bytes, r); break; }
    case FrameType::kTableOp: {
      auto r = filled<TableOpRecord>(in);
      r.op = 1 + r.op % 3, r.mode &= 07777, r.set_mask &= kSetAll;
      put_string(r.name, valid_name(in));
      encode(bytes, r);
      break;
    }
    case FrameType::kTableResult: {
      static const int32_t kErrs[] = {0, -EEXIST, -ENOSPC, -ENOENT, -ENAMETOOLONG, -EINVAL, -EBUSY};
      auto r = filled<TableResultRecord>(in);
      r.err = kErrs[uint32_t(r.err) % 7], r.slot %= capacity;
      encode(bytes, r);
      break;
    }
    case FrameType::kBye: { auto r = filled<ByeRecord>(in); r.reason &= 1, r.zero = 0; encode(bytes, r); break; }
    case FrameType::kTableAck: encode(bytes, filled<TableAckRecord>(in)); break;
  }
  Decoder d(side, capacity);
  d.establish();
  d.set_peer_sync_dump(true);
  const size_t cut = in.ConsumeIntegralInRange<size_t>(0, bytes.size() - 1);
  if (d.feed(bytes.data(), cut) != cut || d.frame() != nullptr || d.error() != nullptr) abort();
  if (d.feed(bytes.data() + cut, bytes.size() - cut) != bytes.size() - cut || d.frame() == nullptr) abort();
  reencode(*d.frame(), again);
  if (again != bytes) abort();
  Geometry mine;
  mine.capacity = capacity, mine.ring_size = kMinRingSize, mine.data_size = capacity * kMinRingSize;
  if (auto h = d.frame()->as<HelloRecord>()) (void)check_hello(*h, side, mine);

  // One byte changed: the frame is refused whole, or delivered as exactly
  // those bytes (each field's rule is reached from a frame otherwise valid).
  bytes[in.ConsumeIntegralInRange<size_t>(0, bytes.size() - 1)] ^= in.ConsumeIntegralInRange<uint8_t>(1, 255);
  Decoder e(side, capacity);
  e.establish();
  e.set_peer_sync_dump(in.ConsumeBool());
  const size_t used = e.feed(bytes.data(), bytes.size());
  if (e.error() != nullptr) {
    if (e.frame() != nullptr || e.feed(bytes.data(), bytes.size()) != 0) abort();
  } else if (const Frame *f = e.frame()) {
    reencode(*f, again);
    if (used != bytes.size() || again != bytes) abort();
  } else if (used != bytes.size()) {
    abort();  // a longer length: waiting for more is all it may do
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t config = in.ConsumeIntegral<uint8_t>();
  if (config & kRoundTrip) run_round_trip(in, config);
  else run_stream(in, config);
  return 0;
}

#ifdef IVFS_WIRE_SEEDS
// Each seed: a stream for side b (capacity 4, establishing after the first
// HELLO) as one chunk, then the bytes run_stream reads from the end; each
// also goes through the harness once.
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  Geometry g;
  g.capacity = 4, g.ring_size = kMinRingSize, g.data_size = 4 * kMinRingSize;
  std::vector<uint8_t> hello;
  encode(hello, make_hello(0, g, 0x5eed, 0, "seed"));
  auto write = [&](const char *name, std::vector<uint8_t> s) {
    s.insert(s.end(), {0xff, 0xff, 0x00, uint8_t(kSideB | (3 << 1) | kEstablishOnHello)});  // chunk size, no move, config
    FILE *f = fopen((std::string(argv[1]) + "/" + name).c_str(), "wb");
    if (f == nullptr || fwrite(s.data(), 1, s.size(), f) != s.size() || fclose(f) != 0) exit(1);
    LLVMFuzzerTestOneInput(s.data(), s.size());
  };
  std::vector<uint8_t> stale = {0x13, 0x01, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 'I', 'I', 'V'};  // a cut-off HELLO of an earlier session
  stale.insert(stale.end(), hello.begin(), hello.end());
  write("hello", stale);
  std::vector<uint8_t> data = hello;
  uint8_t bytes[100];
  for (int i = 0; i < 100; i++) bytes[i] = uint8_t(i);
  encode_data(data, DataRecord{1, 1, 0, sizeof(bytes), 0}, bytes);
  write("hello-data", data);
  std::vector<uint8_t> entry = hello;
  EntryRecord e{};
  e.slot = 2, e.generation = 1, e.state = kLive, e.flags = kEntrySync, e.mode = 0644, e.ctime_ms = e.atime_ms = e.mtime_ms = 1700000000000;
  put_string(e.name, "chan");
  encode(entry, e);
  encode(entry, TableRecord{1, 1700000000000});
  write("hello-entry", entry);
  return 0;
}
#endif
