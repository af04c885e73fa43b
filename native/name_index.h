// Channel names to table slots, for open and lookup without scanning the
// table every time. The table bumps table_version (under its lock) at every
// change, so the index is rebuilt once per change, when next asked, and
// a lookup between changes is one hash probe. Shared by the engine (open on
// libfuse's threads) and the JavaScript namespace (getattr): thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "channel_table.h"

namespace ivfs {

class NameIndex {
 public:
  NameIndex(const MemsectionSet &set, std::shared_ptr<ChannelTable> table) : set_(set), table_(std::move(table)) {}
  // The live channel of that name, as the table held it at the last change.
  std::optional<ChannelInfo> find(const std::string &name);

 private:
  const MemsectionSet &set_;
  std::shared_ptr<ChannelTable> table_;
  std::mutex mu_;
  uint64_t version_ = UINT64_MAX;
  std::unordered_map<std::string, ChannelInfo> by_name_;
};

}  // namespace ivfs
