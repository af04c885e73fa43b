// Byte-ring copies between a local buffer and one channel's ring slice.
//
// One producer side and one consumer side per ring (a mount serializes its
// local openers), so the data path needs no lock: the producer publishes
// `head` with release ordering after copying the bytes in, the consumer
// publishes `tail` with release ordering after copying them out, and each
// reads the other's index with acquire ordering before touching the bytes.
//
// The peer is untrusted: both indices are read once, and a fill level that is
// impossible (more than the ring holds) is reported as corruption instead of
// being used. Offsets into the slice are computed from the locally cached,
// validated ring size, so no value from shared memory can move a copy
// outside the slice.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "layout.h"

namespace ivfs {

// Shared words are plain integers in the mapped layout; std::atomic_ref gives
// them C++ atomic operations with explicit ordering (they are naturally
// aligned, which layout.h asserts).
template <typename T>
inline std::atomic_ref<T> shared(const T *p) {
  return std::atomic_ref<T>(*const_cast<T *>(p));
}
template <typename T>
inline T load_acquire(const T *p) {
  return shared(p).load(std::memory_order_acquire);
}
template <typename T>
inline T load_relaxed(const T *p) {
  return shared(p).load(std::memory_order_relaxed);
}
template <typename T>
inline void store_release(T *p, T v) {
  shared(p).store(v, std::memory_order_release);
}
template <typename T>
inline void store_relaxed(T *p, T v) {
  shared(p).store(v, std::memory_order_relaxed);
}
template <typename T>
inline T add_release(T *p, T v) {
  return shared(p).fetch_add(v, std::memory_order_release) + v;
}
template <typename T>
inline T add_relaxed(T *p, T v) {
  return shared(p).fetch_add(v, std::memory_order_relaxed) + v;
}
// Compare-and-swap that acquires on success (taking a lock).
template <typename T>
inline bool cas_acquire(T *p, T &expected, T desired) {
  return shared(p).compare_exchange_strong(expected, desired, std::memory_order_acquire, std::memory_order_relaxed);
}
// Compare-and-swap that releases on success (giving a lock back).
template <typename T>
inline bool cas_release(T *p, T &expected, T desired) {
  return shared(p).compare_exchange_strong(expected, desired, std::memory_order_release, std::memory_order_relaxed);
}

// Dekker-style handshake between "publish index, then look at the waiting
// flag" and "set the waiting flag, then look at the index": a full fence on
// both sides guarantees that at least one of them sees the other, so a
// wake-up is never lost.
inline void full_fence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

constexpr int64_t kRingCorrupt = -1;

struct RingView {
  RingState *state;  // shared ring indices
  uint8_t *bytes;    // start of this ring's slice in its data memsection
  uint64_t size;     // validated slice size (local copy)
};

// Fill level of the ring, or kRingCorrupt when the indices are impossible.
inline int64_t ring_fill(const RingView &r) {
  uint64_t head = load_acquire(&r.state->head);
  uint64_t tail = load_acquire(&r.state->tail);
  uint64_t fill = head - tail;  // free-running counters: wrap is arithmetic
  if (fill > r.size) return kRingCorrupt;
  return int64_t(fill);
}

// Copies up to `len` bytes out of the ring into `dst`. Returns the count
// (0 when empty) or kRingCorrupt. Consumer side only.
inline int64_t ring_consume(const RingView &r, uint8_t *dst, uint64_t len) {
  uint64_t head = load_acquire(&r.state->head);  // peer's: pairs with its release
  uint64_t tail = load_relaxed(&r.state->tail);  // ours, but it sits in shared memory
  uint64_t fill = head - tail;
  if (fill > r.size) return kRingCorrupt;
  uint64_t n = fill < len ? fill : len;
  if (n == 0) return 0;
  uint64_t off = tail % r.size;
  uint64_t first = r.size - off < n ? r.size - off : n;
  std::memcpy(dst, r.bytes + off, first);
  std::memcpy(dst + first, r.bytes, n - first);
  // Release: the copies above complete before the producer may reuse the space.
  store_release(&r.state->tail, tail + n);
  return int64_t(n);
}

// Copies `len` bytes into the ring if at least `min_len` of them fit, as many
// as fit (up to len). Returns the count, 0 when fewer than min_len fit, or
// kRingCorrupt. Producer side only.
inline int64_t ring_produce(const RingView &r, const uint8_t *src, uint64_t len, uint64_t min_len) {
  uint64_t tail = load_acquire(&r.state->tail);  // peer's: its copies out are done
  uint64_t head = load_relaxed(&r.state->head);
  uint64_t fill = head - tail;
  if (fill > r.size) return kRingCorrupt;
  uint64_t space = r.size - fill;
  if (space < min_len || space == 0) return 0;
  uint64_t n = space < len ? space : len;
  if (n == 0) return 0;  // a zero-length write: nothing to copy (src may be null)
  uint64_t off = head % r.size;
  uint64_t first = r.size - off < n ? r.size - off : n;
  std::memcpy(r.bytes + off, src, first);
  std::memcpy(r.bytes, src + first, n - first);
  // Release: the bytes are visible before the consumer can see the new head.
  store_release(&r.state->head, head + n);
  return int64_t(n);
}

}  // namespace ivfs
