// libFuzzer harness for the FIFO engine (engine/fifo_engine.h) facing an
// untrusted peer. One small memsection set is mapped twice, as sides a and b
// map it, each with its own channel table and engine (local wake word, no
// doorbell, 1 ms tick); the input is a sequence of opens, releases, reads,
// writes, polls, disarms, peer deaths, stops, unlinks and re-creates, and of
// the peer scribbling on a channel entry (indices, open counts, marks, waiting
// flags, state, generation) or on ring bytes. Requests are O_NONBLOCK or
// interrupted (at once or after one tick): none sleeps for long. Checks:
//  - a result is a count no larger than asked or -EAGAIN, -EINTR, -EIO,
//    -EPIPE, -EBADF, -ENOENT (-ENXIO only for O_WRONLY | O_NONBLOCK opens);
//    a write up to PIPE_BUF goes in whole; -EBADF exactly for handles not
//    open (for that); no request stays counted as waiting;
//  - while nobody scribbled: bytes read on one side are exactly the next bytes
//    written on the other, a read takes all it asked for that is there, and
//    open counts, waiting flags and fill levels in shared memory agree.
#include <fuzzer/FuzzedDataProvider.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../channel_table.h"
#include "../engine/fifo_engine.h"
#include "../memsection_set.h"
#include "scratch_set.h"

using namespace ivfs;

namespace {

constexpr uint32_t kCapacity = 4;
const char kName[] = "ch";

struct Fixture {
  std::shared_ptr<MemsectionSet> set[kSideCount];
  std::shared_ptr<ChannelTable> table[kSideCount];
  std::vector<uint8_t> pristine;  // the control memsection with the channel just created
  uint32_t slot, generation;
  uint64_t ring_size, data_size;

  Fixture() {
    Geometry g = scratch_set(kCapacity, [&](const std::vector<std::string> &paths) {
      for (uint32_t s = 0; s < kSideCount; s++) {
        set[s] = std::make_shared<MemsectionSet>(paths);
        table[s] = std::make_shared<ChannelTable>(*set[s], s);
        table[s]->stale_ms = 0, table[s]->give_up_ms = 50;  // nobody beats here
      }
    });
    TableResult r = table[0]->create(kName, 0644, 0, 0, 0);
    if (r.err != 0) abort();
    slot = r.slot, generation = r.generation;
    ring_size = g.ring_size, data_size = g.data_size;
    pristine.assign(control(), control() + g.control_size);
  }
  uint8_t *control() const { return set[0]->mappings()[0].addr; }
};

struct Handle {  // an open descriptor as the harness knows it
  uint32_t side, slot;
  uint64_t h;
  bool reading, writing, armed;
};

// A request that never sleeps for long: O_NONBLOCK, or interrupted at once or
// after one tick (the engine asks before every sleep and after it).
struct Req {
  int budget;
  Request r;
  explicit Req(FuzzedDataProvider &in) {
    budget = std::max(in.ConsumeIntegralInRange<int>(0, 7) - 5, 0);
    r.flags = in.ConsumeBool() ? O_NONBLOCK : in.ConsumeBool() ? 0 : -1;
    r.interrupted = [this] { return budget-- <= 0; };
  }
};

// Byte i of the stream one side writes to the other on a channel.
uint8_t stream_byte(uint64_t i) { return uint8_t(i + (i >> 8) * 7 + (i >> 16) * 13); }

void check_result(int64_t n, uint64_t len) {
  if (n >= 0 ? uint64_t(n) > len : n != -EAGAIN && n != -EINTR && n != -EIO && n != -EPIPE && n != -EBADF && n != -ENOENT) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Fixture f;  // one set for the whole run, reset before every input
  std::memcpy(f.control(), f.pristine.data(), f.pristine.size());
  for (uint32_t d = 0; d < kSideCount; d++) std::memset(f.set[0]->ring_bytes(d, 0), 0, f.data_size);
  std::unique_ptr<FifoEngine> eng[kSideCount];
  for (uint32_t s = 0; s < kSideCount; s++)  // a fresh name index, no doorbell, no futex (a word per channel in the process)
    eng[s] = std::make_unique<FifoEngine>(f.set[s], f.table[s], std::make_shared<NameIndex>(*f.set[s], f.table[s]), nullptr,
                                          EngineOptions{.side = s, .spin_us = 0, .tick_ms = 1, .closing_wait_ms = 0}, false);
  FuzzedDataProvider in(data, size);
  std::vector<Handle> handles;
  uint64_t written[kCapacity][kSideCount] = {}, taken[kCapacity][kSideCount] = {};  // per slot, per writing side
  uint32_t slot = f.slot, generation = f.generation;
  bool pristine = true;

  // A handle of either side, or now and then one that was never handed out.
  auto pick = [&](uint32_t &side, uint64_t &h) -> Handle * {
    size_t i = in.ConsumeIntegralInRange<size_t>(0, handles.size());
    if (i < handles.size()) return side = handles[i].side, h = handles[i].h, &handles[i];
    side = in.ConsumeIntegralInRange<uint32_t>(0, 1);
    h = in.ConsumeBool() ? 0 : uint64_t(1) << 40;
    return nullptr;
  };

  while (in.remaining_bytes() > 0) {
    uint32_t side;
    uint64_t h;
    const int op = in.ConsumeIntegralInRange<int>(0, 8);
    switch (op) {
      case 0: {  // open: the channel by slot, any slot and generation, or by name
        side = in.ConsumeIntegralInRange<uint32_t>(0, 1);
        const int modes[4] = {O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE};
        int mode = modes[in.ConsumeIntegralInRange<int>(0, 3)], flags = mode | (in.ConsumeBool() ? O_NONBLOCK : 0);
        uint32_t s = slot, g = generation;
        int how = in.ConsumeIntegralInRange<int>(0, 5);
        if (how == 4) s = in.ConsumeIntegralInRange<uint32_t>(0, kCapacity), g = in.ConsumeBool() ? g : in.ConsumeIntegral<uint32_t>();
        int64_t r = how == 5 ? eng[side]->open_name(in.ConsumeBool() ? kName : "nope", flags) : eng[side]->open(s, g, flags);
        if (r <= 0 && r != -EIO && r != -ENOENT && (r != -ENXIO || mode != O_WRONLY || !(flags & O_NONBLOCK))) abort();
        const ChannelEntry *e = s < kCapacity ? f.set[0]->entry(s) : nullptr;  // a channel that is there opens
        if (pristine && how < 5 && r < 0 && r != -ENXIO && !eng[side]->stopped() && e && e->generation == g && e->state != kFree) abort();
        if (r > 0) handles.push_back({side, s, uint64_t(r), mode != O_WRONLY, mode == O_WRONLY || mode == O_RDWR, false});
        break;
      }
      case 1: {  // release, or flush (close(2) begun: release still to come)
        Handle *hd = pick(side, h);
        if (in.ConsumeBool()) {
          if (eng[side]->flush(h) != (hd ? 0 : -EBADF)) abort();
          break;
        }
        int r = eng[side]->release(h);
        if (hd ? r != 0 : r != -EBADF) abort();
        if (hd) handles.erase(handles.begin() + (hd - handles.data()));
        break;
      }
      case 2:
      case 3: {  // read, or write bytes that continue this side's stream
        const bool reading = op == 2;
        Handle *hd = pick(side, h);
        uint64_t len = in.ConsumeIntegralInRange<uint64_t>(0, 3 * f.ring_size);
        Req q(in);
        std::unique_ptr<uint8_t[]> buf(new uint8_t[len]);  // exactly len: ASan catches a copy past it
        uint64_t &at = reading ? taken[hd ? hd->slot : 0][1 - side] : written[hd ? hd->slot : 0][side];
        for (uint64_t i = 0; !reading && i < len; i++) buf[i] = stream_byte(at + i);
        int64_t n = reading ? eng[side]->read(h, buf.get(), len, q.r) : eng[side]->write(h, buf.get(), len, q.r);
        check_result(n, len);
        if (!hd || !(reading ? hd->reading : hd->writing) ? n != -EBADF : n == -EBADF) abort();
        if (!reading && n > 0 && len <= kPipeBuf && uint64_t(n) != len) abort();  // PIPE_BUF atomicity
        if (!hd || n == -EBADF) break;
        if (pristine && !eng[side]->stopped()) {
          if (n == -EIO) abort();  // nothing is corrupt
          uint64_t there = written[hd->slot][1 - side] - at;
          if (reading && len > 0 && there > 0 && n != int64_t(std::min(len, there))) abort();
          for (int64_t i = 0; reading && i < n; i++)
            if (buf[i] != stream_byte(at + i)) abort();
        }
        if (n > 0) at += uint64_t(n);
        break;
      }
      case 4: {  // poll (arming or not), or disarm
        Handle *hd = pick(side, h);
        if (in.ConsumeBool()) {
          eng[side]->disarm(h);
          if (hd) hd->armed = false;
          break;
        }
        bool arm = in.ConsumeBool();
        unsigned ev = eng[side]->poll(h, arm);
        if (ev & ~unsigned(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLHUP | POLLERR)) abort();
        if (!hd && ev != POLLERR) abort();
        if (!hd || eng[side]->stopped()) break;
        hd->armed |= arm;
        if (pristine && hd->reading && written[hd->slot][1 - side] != taken[hd->slot][1 - side] && !(ev & POLLIN)) abort();
        break;
      }
      case 5:  // events from outside
        side = in.ConsumeIntegralInRange<uint32_t>(0, 1);
        switch (in.ConsumeIntegralInRange<int>(0, 3)) {
          case 0: eng[side]->set_peer_dead(in.ConsumeBool()); break;
          case 1: eng[side]->peer_rang(); break;
          case 2: eng[side]->wake_all(); break;
          default: eng[side]->stop(); break;
        }
        break;
      case 6: {  // a side unlinks the name, or creates it again
        side = in.ConsumeIntegralInRange<uint32_t>(0, 1);
        TableResult r = in.ConsumeBool() ? f.table[side]->unlink(kName, 0) : f.table[side]->create(kName, 0644, 0, 0, 0);
        if (r.err != 0 || load_acquire(&f.set[0]->entry(r.slot)->state) != kLive) break;
        slot = r.slot, generation = r.generation;
        for (uint32_t d = 0; d < kSideCount; d++) written[slot][d] = taken[slot][d] = 0;
        break;
      }
      default: {  // the peer scribbles on a channel entry (a value, or a small step) or on ring bytes
        pristine = false;
        uint32_t s = in.ConsumeIntegralInRange<uint32_t>(0, kCapacity - 1);
        if (in.ConsumeBool()) {
          uint8_t *p = reinterpret_cast<uint8_t *>(f.set[1]->entry(s));
          size_t width = size_t(1) << in.ConsumeIntegralInRange<int>(0, 3);
          size_t off = in.ConsumeIntegralInRange<size_t>(0, sizeof(ChannelEntry) / width - 1) * width;
          uint64_t v = 0;
          std::memcpy(&v, p + off, width);
          v = in.ConsumeBool() ? v + uint64_t(in.ConsumeIntegralInRange<int64_t>(-64, 64)) : in.ConsumeIntegral<uint64_t>();
          std::memcpy(p + off, &v, width);  // little-endian: the low bytes
        } else {
          uint32_t d = in.ConsumeIntegralInRange<uint32_t>(0, 1);
          f.set[1]->ring_bytes(d, s)[in.ConsumeIntegralInRange<uint64_t>(0, f.ring_size - 1)] = in.ConsumeIntegral<uint8_t>();
        }
        break;
      }
    }

    // No request still counted, the handles ours; unscribbled, shared memory agrees.
    for (uint32_t s = 0; s < kSideCount; s++) {
      if (eng[s]->waiting() != 0) abort();
      if (eng[s]->open_files() != size_t(std::count_if(handles.begin(), handles.end(), [s](const Handle &x) { return x.side == s; }))) abort();
    }
    for (uint32_t k = 0; k < kCapacity && pristine; k++) {
      const ChannelEntry *e = f.set[0]->entry(k);
      if (e->state == kFree) continue;
      for (uint32_t s = 0; s < kSideCount; s++) {
        uint32_t opens = 0, readers = 0, writers = 0, armed_in = 0, armed_out = 0;
        for (const Handle &x : handles)
          if (x.side == s && x.slot == k) opens++, readers += x.reading, writers += x.writing, armed_in += x.reading && x.armed, armed_out += x.writing && x.armed;
        if (e->side_open[s] != opens || e->ring[1 - s].readers_open != readers || e->ring[s].writers_open != writers) abort();
        if (e->ring[s].head - e->ring[s].tail != written[k][s] - taken[k][s]) abort();
        // No more descriptors closing than open; flags raised exactly while
        // a descriptor is armed (release disarms).
        if (e->ring[1 - s].readers_closing > readers || e->ring[s].writers_closing > writers) abort();
        // (No request sleeps here: only polls raise them.)
        if (e->ring[1 - s].consumer_waiting != (armed_in > 0 ? kWaitingPoll : 0u) || e->ring[s].producer_waiting != (armed_out > 0 ? kWaitingPoll : 0u)) abort();
      }
    }
  }
  return 0;
}
