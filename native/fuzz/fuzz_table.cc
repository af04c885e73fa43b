// libFuzzer harness for the control memsection as a hostile peer leaves it:
// the input patches arbitrary bytes anywhere in a formatted control
// memsection (header, lock, side states, entries, rings), then drives the
// channel table (list, read every entry, create, unlink, sweep) and header
// validation over it. Nothing may crash, read or write outside the
// mappings (AddressSanitizer), or wait for long.
#include <fuzzer/FuzzedDataProvider.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../channel_table.h"
#include "../memsection_set.h"
#include "scratch_set.h"

using namespace ivfs;

namespace {

constexpr uint32_t kCapacity = 4;

struct Fixture {
  MemsectionSet *set = nullptr;
  std::vector<uint8_t> pristine;  // the control memsection just after format

  Fixture() {
    Geometry g = scratch_set(kCapacity, [&](const std::vector<std::string> &paths) { set = new MemsectionSet(paths); });
    pristine.assign(set->mappings()[0].addr, set->mappings()[0].addr + g.control_size);
  }
};

Fixture &fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Fixture &f = fixture();
  uint8_t *control = f.set->mappings()[0].addr;
  const uint64_t control_size = f.pristine.size();
  std::memcpy(control, f.pristine.data(), control_size);

  FuzzedDataProvider in(data, size);
  // Patches: (offset, bytes) anywhere in the control memsection.
  int patches = in.ConsumeIntegralInRange<int>(0, 16);
  for (int i = 0; i < patches && in.remaining_bytes() > 0; i++) {
    uint64_t off = in.ConsumeIntegralInRange<uint64_t>(0, control_size - 1);
    std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(1, 16));
    size_t n = std::min<uint64_t>(bytes.size(), control_size - off);
    if (n > 0) std::memcpy(control + off, bytes.data(), n);
  }

  // The header as mount would see it: accepted or refused, never a crash.
  try {
    validate_header(*f.set->header(), "fuzz", control_size);
  } catch (const SetError &) {
  }

  ChannelTable table(*f.set, in.ConsumeIntegralInRange<uint32_t>(0, 1));
  table.set_epoch(in.ConsumeIntegral<uint32_t>());
  table.stale_ms = 0;  // nobody beats here: take a held lock over at once
  table.give_up_ms = 50;
  for (uint32_t s = 0; s < kCapacity; s++) {
    ChannelInfo c = table.read_entry(s);
    if (!c.corrupt && c.name.size() > kNameMax) abort();
  }
  while (in.remaining_bytes() > 0) {
    std::string name = in.ConsumeRandomLengthString(80);
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: table.create(name, 0644, 0, 0, 0); break;
      case 1: table.unlink(name, 0); break;
      case 2: table.sweep(); break;
      case 3:
        for (const ChannelInfo &c : table.list()) {
          if (c.slot >= kCapacity) abort();
        }
        break;
    }
  }
  return 0;
}
