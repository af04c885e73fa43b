#include "memsection_set.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ring.h"
#include "timing.h"

namespace ivfs {
namespace {

const char *kRoleNames[3] = {"control", "data0", "data1"};

std::string describe(const std::string &role, const std::string &path) {
  return "memsection " + role + " (" + path + ")";
}

// Maps a whole file, or the window [offset, offset + length) of it (a pair's
// set inside an area region; offset page-aligned, checked by the caller).
Mapping map_file(const std::string &path, const std::string &role, uint64_t offset = 0, uint64_t length = 0) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) throw SetError("missing", describe(role, path) + " does not exist; create the set with `intervmfs format`");
    throw SetError("unreadable", describe(role, path) + " cannot be opened read-write: " + std::strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    throw SetError("too-small", describe(role, path) + " is empty");
  }
  uint64_t size = length ? length : uint64_t(st.st_size);
  if (length && (offset % kPage != 0 || offset > uint64_t(st.st_size) || length > uint64_t(st.st_size) - offset)) {
    ::close(fd);
    throw SetError("too-small", describe(role, path) + " of " + std::to_string(st.st_size) + " bytes has no window of " + std::to_string(length) +
                                    " bytes at " + std::to_string(offset));
  }
  void *addr = mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(offset));
  int e = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (addr == MAP_FAILED) throw SetError("unmappable", describe(role, path) + " cannot be mapped shared: " + std::strerror(e));
  return Mapping{static_cast<uint8_t *>(addr), size, path};
}

void unmap_all(std::vector<Mapping> &maps) {
  for (auto &m : maps) munmap(m.addr, m.size);
  maps.clear();
}

uint64_t ring_size_for(uint64_t data_size, uint32_t capacity) {
  return data_size / capacity / kPage * kPage;
}

void check_capacity(uint32_t capacity) {
  if (capacity < 1 || capacity > kMaxChannels)
    throw SetError("range", "channel capacity must be between 1 and " + std::to_string(kMaxChannels) + ", got " + std::to_string(capacity));
}

void check_ring(uint64_t ring_size, uint32_t capacity, uint64_t data_size) {
  if (ring_size < kMinRingSize)
    throw SetError("too-small", "data memsections of " + std::to_string(data_size) + " bytes give each of " + std::to_string(capacity) +
                                    " channels a ring of " + std::to_string(ring_size) + " bytes; at least " + std::to_string(kMinRingSize) +
                                    " are needed (fewer channels or bigger memsections)");
}

}  // namespace

Mapping map_memsection(const std::string &path, const std::string &role, uint64_t offset, uint64_t length) {
  return map_file(path, role, offset, length);
}

void unmap_memsection(Mapping &m) {
  if (m.addr) munmap(m.addr, m.size);
  m = Mapping{};
}

std::shared_ptr<const Mapping> map_shared_region(const std::string &path) {
  return std::shared_ptr<const Mapping>(new Mapping(map_file(path, "region")), [](const Mapping *m) {
    munmap(m->addr, m->size);
    delete m;
  });
}

Geometry validate_header(const ControlHeader &h, const std::string &path, uint64_t control_bytes) {
  const std::string who = describe("control", path);
  if (control_bytes < kTableOffset) throw SetError("too-small", who + " has " + std::to_string(control_bytes) + " bytes, less than a header");
  ControlHeader local;
  std::memcpy(&local, &h, sizeof(local));  // read once: the peer may be scribbling
  if (local.magic == 0) throw SetError("unformatted", who + " is not formatted; run `intervmfs format`");
  if (local.magic != kMagic) throw SetError("corrupt", who + " does not hold an intervmfs header (bad magic)");
  if (local.layout_version != kLayoutVersion)
    throw SetError("version", who + " has layout version " + std::to_string(local.layout_version) + ", this intervmfs understands " +
                                  std::to_string(kLayoutVersion) + "; reformat it or use a matching intervmfs");
  if (local.header_check != header_checksum(local)) throw SetError("corrupt", who + " header is corrupt (checksum mismatch)");
  Geometry g;
  g.capacity = local.channel_capacity;
  g.control_size = local.control_size;
  g.data_size = local.data_size;
  g.ring_size = local.ring_size;
  g.data_offset[0] = local.data_offset[0];
  g.data_offset[1] = local.data_offset[1];
  g.formatted_at_ms = local.formatted_at_ms;
  if (g.capacity < 1 || g.capacity > kMaxChannels) throw SetError("corrupt", who + " header has an impossible channel capacity");
  if (g.control_size != control_size_for(g.capacity)) throw SetError("corrupt", who + " header has an impossible control size");
  if (control_bytes < g.control_size)
    throw SetError("too-small", who + " has " + std::to_string(control_bytes) + " bytes, the header needs " + std::to_string(g.control_size));
  if (g.ring_size < kMinRingSize || g.ring_size % 64 != 0 || g.ring_size > g.data_size / g.capacity)
    throw SetError("corrupt", who + " header has an impossible ring size");
  return g;
}

MemsectionSet::MemsectionSet(const std::vector<std::string> &paths, uint64_t window_offset, uint64_t window_length) {
  if (paths.size() != 1 && paths.size() != 3) throw SetError("usage", "a memsection set is one region or three files");
  if (window_length && paths.size() != 1) throw SetError("usage", "only a one-region set can sit in a window of its file");
  try {
    if (paths.size() == 3) {
      for (int i = 0; i < 3; i++) maps_.push_back(map_file(paths[i], kRoleNames[i]));
      if (maps_[1].size != maps_[2].size)
        throw SetError("mismatch", "data memsections differ in size: " + maps_[1].path + " has " + std::to_string(maps_[1].size) + " bytes, " +
                                       maps_[2].path + " has " + std::to_string(maps_[2].size));
      geo_ = validate_header(*reinterpret_cast<ControlHeader *>(maps_[0].addr), maps_[0].path, maps_[0].size);
      if (geo_.data_offset[0] != 0 || geo_.data_offset[1] != 0)
        throw SetError("corrupt", describe("control", paths[0]) + " was formatted as one region, not three files");
      for (int i = 1; i < 3; i++)
        if (maps_[i].size != geo_.data_size)
          throw SetError(maps_[i].size < geo_.data_size ? "too-small" : "mismatch",
                         describe(kRoleNames[i], maps_[i].path) + " has " + std::to_string(maps_[i].size) + " bytes, the header says " +
                             std::to_string(geo_.data_size));
      control_ = maps_[0].addr;
      data_[0] = maps_[1].addr;
      data_[1] = maps_[2].addr;
    } else {
      maps_.push_back(map_file(paths[0], "region", window_offset, window_length));
      carve_region(maps_[0].addr, maps_[0].size, maps_[0].path);
    }
  } catch (...) {
    unmap_all(maps_);
    throw;
  }
}

MemsectionSet::MemsectionSet(std::shared_ptr<const Mapping> region, uint64_t offset, uint64_t length) : shared_region_(std::move(region)) {
  const Mapping &m = *shared_region_;
  if (offset % kPage != 0 || offset > m.size || length > m.size - offset || length == 0)
    throw SetError("too-small", describe("region", m.path) + " of " + std::to_string(m.size) + " bytes has no window of " + std::to_string(length) +
                                    " bytes at " + std::to_string(offset));
  carve_region(m.addr + offset, length, m.path + "@" + std::to_string(offset));
}

// One region: control at its start, data0 and data1 where its (validated) header says.
void MemsectionSet::carve_region(uint8_t *base, uint64_t size, const std::string &path) {
  geo_ = validate_header(*reinterpret_cast<ControlHeader *>(base), path, size);
  uint64_t d0 = geo_.data_offset[0], d1 = geo_.data_offset[1], ds = geo_.data_size;
  bool fits = d0 >= geo_.control_size && d0 % kPage == 0 && d1 % kPage == 0 && d1 >= d0 + ds && d1 <= size && ds <= size - d1;
  if (!fits) throw SetError("too-small", describe("region", path) + " of " + std::to_string(size) + " bytes cannot hold the layout its header describes");
  control_ = base;
  data_[0] = base + d0;
  data_[1] = base + d1;
}

MemsectionSet::~MemsectionSet() { unmap_all(maps_); }

Geometry MemsectionSet::plan_files(uint32_t capacity, uint64_t data_size) {
  check_capacity(capacity);
  Geometry g;
  g.capacity = capacity;
  g.control_size = control_size_for(capacity);
  g.data_size = data_size;
  g.ring_size = ring_size_for(data_size, capacity);
  check_ring(g.ring_size, capacity, data_size);
  return g;
}

Geometry MemsectionSet::plan_region(uint32_t capacity, uint64_t region_size) {
  check_capacity(capacity);
  Geometry g;
  g.capacity = capacity;
  g.control_size = control_size_for(capacity);
  if (region_size < g.control_size + 2 * kMinRingSize * capacity)
    throw SetError("too-small", "a region of " + std::to_string(region_size) + " bytes is too small for " + std::to_string(capacity) + " channels");
  g.data_size = (region_size - g.control_size) / 2 / kPage * kPage;
  g.ring_size = ring_size_for(g.data_size, capacity);
  check_ring(g.ring_size, capacity, g.data_size);
  g.data_offset[0] = g.control_size;
  g.data_offset[1] = g.control_size + g.data_size;
  return g;
}

void MemsectionSet::write_header(uint8_t *control, Geometry &g) {
  ControlHeader *h = reinterpret_cast<ControlHeader *>(control);
  store_release(&h->magic, uint64_t(0));  // a half-written header reads as unformatted
  std::memset(control, 0, g.control_size);
  h->layout_version = kLayoutVersion;
  h->channel_capacity = g.capacity;
  h->control_size = g.control_size;
  h->data_size = g.data_size;
  h->ring_size = g.ring_size;
  h->data_offset[0] = g.data_offset[0];
  h->data_offset[1] = g.data_offset[1];
  h->formatted_at_ms = g.formatted_at_ms = wall_ms();
  h->table_changed_ms = g.formatted_at_ms;  // the empty directory dates from the format
  h->magic = kMagic;
  h->header_check = header_checksum(*h);
  full_fence();
}

Geometry MemsectionSet::format(const std::vector<std::string> &paths, uint32_t capacity, bool force) {
  if (paths.size() != 1 && paths.size() != 3) throw SetError("usage", "a memsection set is one region or three files");
  std::vector<Mapping> maps;
  try {
    for (size_t i = 0; i < paths.size(); i++) maps.push_back(map_file(paths[i], paths.size() == 1 ? "region" : kRoleNames[i]));
    Geometry g;
    if (maps.size() == 3) {
      if (maps[1].size != maps[2].size)
        throw SetError("mismatch", "data memsections differ in size: " + maps[1].path + " has " + std::to_string(maps[1].size) + " bytes, " +
                                       maps[2].path + " has " + std::to_string(maps[2].size));
      g = plan_files(capacity, maps[1].size);
      if (maps[0].size < g.control_size)
        throw SetError("too-small", describe("control", maps[0].path) + " has " + std::to_string(maps[0].size) + " bytes, " +
                                        std::to_string(capacity) + " channels need " + std::to_string(g.control_size));
    } else {
      g = plan_region(capacity, maps[0].size);
    }
    ControlHeader *h = reinterpret_cast<ControlHeader *>(maps[0].addr);
    uint64_t magic = load_acquire(&h->magic);
    if (magic != 0 && !force)
      throw SetError("formatted", describe(maps.size() == 1 ? "region" : "control", maps[0].path) +
                                      " is already formatted; add --force to erase its channels and format it again");
    write_header(maps[0].addr, g);
    for (auto &m : maps) msync(m.addr, m.size < g.control_size ? m.size : g.control_size, MS_SYNC);
    unmap_all(maps);
    return g;
  } catch (...) {
    unmap_all(maps);
    throw;
  }
}

}  // namespace ivfs
