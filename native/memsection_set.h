// Mapping a memsection set and validating its header.
//
// A set is either three files (control, data0, data1) or one region carved
// into three by the offsets in its header (an ivshmem BAR, or any file).
// Everything here is plain C++ with no Node dependency, so the native tests
// and the fuzzer use it directly.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "layout.h"

namespace ivfs {

// An error a user can act on. `code` is a stable identifier that the
// TypeScript side maps to exit codes and tests match on.
struct SetError : std::runtime_error {
  std::string code;
  SetError(std::string c, const std::string &msg) : std::runtime_error(msg), code(std::move(c)) {}
};

struct Mapping {
  uint8_t *addr = nullptr;
  uint64_t size = 0;
  std::string path;
};

// Maps a file shared (all of it, or `length` bytes at page-aligned `offset`);
// throws SetError naming `role` and the path.
Mapping map_memsection(const std::string &path, const std::string &role, uint64_t offset = 0, uint64_t length = 0);
void unmap_memsection(Mapping &m);
// A whole file mapped once and unmapped with its last user.
std::shared_ptr<const Mapping> map_shared_region(const std::string &path);

// Validated copy of the immutable header, taken once at open. Everything
// that decides where memory is touched comes from here, never from the
// shared header again.
struct Geometry {
  uint32_t capacity = 0;
  uint64_t control_size = 0;
  uint64_t data_size = 0;
  uint64_t ring_size = 0;
  uint64_t data_offset[kSideCount] = {0, 0};
  uint64_t formatted_at_ms = 0;
};

class MemsectionSet {
 public:
  // Maps `paths` (1 region or 3 files) and validates the header. Throws
  // SetError naming the memsection at fault.
  // With a window, the one region is the bytes [offset, offset + length) of
  // its file (a pair's set inside an area region).
  explicit MemsectionSet(const std::vector<std::string> &paths, uint64_t window_offset = 0, uint64_t window_length = 0);
  // A one-region set in the window [offset, offset + length) of a region
  // mapped once for several sets (an area mount's pairs): no mapping of its
  // own, `region` stays mapped while the set lives. Throws SetError.
  MemsectionSet(std::shared_ptr<const Mapping> region, uint64_t offset, uint64_t length);
  ~MemsectionSet();
  MemsectionSet(const MemsectionSet &) = delete;
  MemsectionSet &operator=(const MemsectionSet &) = delete;

  // Writes a fresh header and an empty channel table. `data_size` is used for
  // three files (which must already have the sizes of the plan); a single
  // region is carved by its own size. Refuses a formatted set unless `force`.
  static Geometry format(const std::vector<std::string> &paths, uint32_t capacity, bool force);

  // Writes a fresh header and an empty channel table at `control` for the
  // geometry `g` (its formatted_at_ms is set); the data is left as it is.
  static void write_header(uint8_t *control, Geometry &g);

  // Layout of a fresh set: sizes for three files, or the carving of a region.
  static Geometry plan_files(uint32_t capacity, uint64_t data_size);
  static Geometry plan_region(uint32_t capacity, uint64_t region_size);

  ControlHeader *header() const { return reinterpret_cast<ControlHeader *>(control_); }
  ChannelEntry *entry(uint32_t slot) const {
    return reinterpret_cast<ChannelEntry *>(control_ + kTableOffset) + slot;
  }
  uint8_t *ring_bytes(uint32_t direction, uint32_t slot) const {
    return data_[direction] + uint64_t(slot) * geo_.ring_size;
  }
  const Geometry &geometry() const { return geo_; }
  const std::vector<Mapping> &mappings() const { return maps_; }

 private:
  void carve_region(uint8_t *base, uint64_t size, const std::string &path);

  std::vector<Mapping> maps_;
  std::shared_ptr<const Mapping> shared_region_;  // the window's region, when the set has no mapping of its own
  uint8_t *control_ = nullptr;
  uint8_t *data_[kSideCount] = {nullptr, nullptr};
  Geometry geo_;
};

// Validates a header against the sizes actually mapped; throws SetError.
Geometry validate_header(const ControlHeader &h, const std::string &control_path, uint64_t control_bytes);

}  // namespace ivfs
