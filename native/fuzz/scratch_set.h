// A formatted memsection set in three temporary files for a fuzz harness:
// the files exist only until the caller has mapped them (`map`), then they
// are removed, so nothing is left behind, even by a crash.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "../memsection_set.h"

namespace ivfs {

// Formats a set of `capacity` channels with the smallest rings and calls
// `map` with its paths; returns the set's geometry.
inline Geometry scratch_set(uint32_t capacity, const std::function<void(const std::vector<std::string> &)> &map) {
  char tmpl[] = "/tmp/intervmfs-fuzz-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  Geometry g = MemsectionSet::plan_files(capacity, uint64_t(capacity) * kMinRingSize);
  std::vector<std::string> paths = {dir + "/control", dir + "/data0", dir + "/data1"};
  uint64_t sizes[3] = {g.control_size, g.data_size, g.data_size};
  for (int i = 0; i < 3; i++) {
    int fd = open(paths[i].c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, off_t(sizes[i])) != 0) abort();
    close(fd);
  }
  MemsectionSet::format(paths, capacity, true);
  map(paths);
  for (auto &p : paths) unlink(p.c_str());
  rmdir(dir.c_str());
  return g;
}

}  // namespace ivfs
