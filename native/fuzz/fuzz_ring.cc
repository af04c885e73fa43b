// libFuzzer harness for the byte ring (ring.h). The input drives a sequence
// of produce and consume calls against a ring slice of exactly its size (so
// AddressSanitizer catches any access past it), with the "peer" scribbling
// arbitrary values into the shared indices in between. Checks:
//  - no access outside the slice, whatever the indices say;
//  - a call returns kRingCorrupt or a count no larger than asked;
//  - while nobody scribbled, bytes come out exactly as they went in.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <deque>
#include <vector>

#include "../ring.h"

using namespace ivfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  const bool pow2 = in.ConsumeBool();
  const uint64_t ring_size = pow2 ? kMinRingSize << in.ConsumeIntegralInRange<int>(0, 3) : kMinRingSize + 64 * in.ConsumeIntegralInRange<uint64_t>(1, 64);
  std::vector<uint8_t> slice(ring_size);  // exactly the slice: ASan guards both ends
  RingState state{};
  // Counters may start anywhere. Only a power-of-two ring keeps its byte
  // positions continuous when they pass 2^64 (16 EiB after format: never, in
  // practice, unless a peer sets them there, which it may; that garbles its
  // own bytes but cannot move a copy outside the slice, which is what the
  // scribbling below checks).
  const uint64_t start = in.ConsumeIntegral<uint64_t>();
  state.head = state.tail = pow2 ? start : start >> 2;
  RingView r{&state, slice.data(), ring_size};
  std::deque<uint8_t> model;  // what the ring must hold while untouched by the peer
  bool pristine = true;
  uint8_t next = 0;
  std::vector<uint8_t> buf;

  while (in.remaining_bytes() > 0) {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {  // produce
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 2 * ring_size);
        uint64_t min_len = in.ConsumeBool() ? len : in.ConsumeIntegralInRange<uint64_t>(0, len);
        buf.resize(len);
        for (auto &b : buf) b = next++;
        int64_t n = ring_produce(r, buf.data(), len, min_len);
        if (n == kRingCorrupt) break;
        if (n < 0 || uint64_t(n) > len) abort();
        if (n > 0 && uint64_t(n) < min_len) abort();
        if (pristine) model.insert(model.end(), buf.begin(), buf.begin() + n);
        next = uint8_t(next - (len - uint64_t(n)));  // unused bytes will be offered again
        break;
      }
      case 1: {  // consume
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 2 * ring_size);
        buf.resize(len);
        int64_t n = ring_consume(r, buf.data(), len);
        if (n == kRingCorrupt) break;
        if (n < 0 || uint64_t(n) > len) abort();
        if (pristine) {
          if (uint64_t(n) != std::min<uint64_t>(len, model.size())) abort();
          for (int64_t i = 0; i < n; i++) {
            if (buf[i] != model.front()) abort();
            model.pop_front();
          }
        }
        break;
      }
      case 2: {  // the peer writes its index (or ours) with anything
        uint64_t v = in.ConsumeIntegral<uint64_t>();
        if (in.ConsumeBool()) state.head = v; else state.tail = v;
        pristine = false;
        break;
      }
      case 3: {  // fill level is never used when impossible
        int64_t f = ring_fill(r);
        if (f != kRingCorrupt && (f < 0 || uint64_t(f) > ring_size)) abort();
        break;
      }
    }
  }
  return 0;
}
