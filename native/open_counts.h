// A side's open counts in a channel entry: the one place they change, for
// the FIFO engine. Each side writes only its own words (side_open[side], readers_open of
// the ring it consumes, writers_open of the ring it produces).
#pragma once

#include <cstdint>

#include "layout.h"
#include "ring.h"

namespace ivfs {

// v + delta, never below zero: a scribbled count does not wrap.
inline uint32_t clamp_add(uint32_t v, int delta) {
  if (delta < 0 && v < uint32_t(-delta)) return 0;
  return v + uint32_t(delta);
}

// One descriptor of `side` opened (delta 1) or closed (delta -1), reading
// and/or writing. Opens also count in reader_opens / writer_opens, which the
// EOF and EPIPE rules compare against.
inline void adjust_open_counts(ChannelEntry *e, uint32_t side, bool reading, bool writing, int delta) {
  store_release(&e->side_open[side], clamp_add(load_acquire(&e->side_open[side]), delta));
  if (reading) {
    RingState &in = e->ring[1 - side];
    store_release(&in.readers_open, clamp_add(load_acquire(&in.readers_open), delta));
    if (delta > 0) store_release(&in.reader_opens, load_acquire(&in.reader_opens) + 1);
  }
  if (writing) {
    RingState &out = e->ring[side];
    store_release(&out.writers_open, clamp_add(load_acquire(&out.writers_open), delta));
    if (delta > 0) store_release(&out.writer_opens, load_acquire(&out.writer_opens) + 1);
  }
}

}  // namespace ivfs
