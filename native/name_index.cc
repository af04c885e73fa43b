#include "name_index.h"

#include "ring.h"

namespace ivfs {

std::optional<ChannelInfo> NameIndex::find(const std::string &name) {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t version = load_acquire(&set_.header()->table_version);
  if (version != version_) {
    // Read the version first: a change during the rebuild bumps it again,
    // so the next find rebuilds once more instead of keeping a stale index.
    by_name_.clear();
    for (ChannelInfo &c : table_->list())
      if (c.state == kLive && !c.corrupt) by_name_.emplace(c.name, std::move(c));
    version_ = version;
  }
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ivfs
