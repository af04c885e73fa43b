// The registry of an area region: which areas exist (ID, size, owner),
// which peers have each attached (Xen's mappings), and which pair slots
// (a classic memsection set per two peers) are carved. Layout in layout.h,
// prose in docs/LAYOUT.md ("Area regions").
//
// Every peer of every area maps the same registry, so it is input from
// strangers: an entry is copied out once, validated as a whole, and only the
// copy is used; an entry that fails is reported corrupt and never used to
// decide where memory is touched. Changes are made under the registry lock
// (a token word; a token that has not changed for kStaleLockMs is taken
// over, since every holder keeps the lock for microseconds) and a refusal
// changes nothing. Plain C++, no Node: the fuzzer drives it directly.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "layout.h"
#include "memsection_set.h"
#include "timing.h"

namespace ivfs {

struct PeerInfo {
  uint32_t slot = 0;
  uint32_t epoch = 0;
  uint64_t heartbeat = 0;
  uint32_t pid = 0;
  uint32_t doorbell_id = 0;
  uint64_t attached_at_ms = 0;
  std::string name, host;
};

struct PairInfo {
  uint32_t slot = 0;
  uint32_t generation = 0;
  std::string names[kSideCount];  // side a, side b
  uint64_t region_offset = 0;     // where its memsection set starts in the region
};

struct AreaInfo {
  uint32_t index = 0;  // place in the registry's table
  uint32_t id = 0;
  uint64_t size = 0, offset = 0, pair_size = 0;
  uint32_t pair_slots = 0, channels = 0;
  uint64_t created_at_ms = 0;
  std::string owner;
  std::vector<PeerInfo> peers;  // attached ones only
  std::vector<PairInfo> pairs;  // carved ones only
  bool corrupt = false;
  std::string why;
};

struct AttachRequest {
  uint32_t id = 0;
  std::string peer;
  uint64_t area_size = 0;  // 0: not given (the area must exist)
  uint64_t pair_size = 0;  // 0: default, or as the area has it
  uint32_t channels = 0;   // 0: default, or as the area has it
  std::string host;
  uint32_t pid = 0;
  uint32_t doorbell_id = 0;
  uint64_t now_ms = 0;
  // The heartbeat this peer's name showed, unchanged for a liveness period:
  // the caller judged that holder dead and takes the name back.
  std::optional<uint64_t> take_over_heartbeat;
};

struct AttachResult {
  AreaInfo area;  // after the attach
  uint32_t peer_slot = 0;
  uint32_t epoch = 0;
  bool created = false;  // this attach created the area (its owner)
};

constexpr uint64_t kDefaultPairSize = 4ull << 20;
constexpr uint32_t kDefaultPairChannels = 16;

class AreaRegistry {
 public:
  // Maps the region and validates its registry header; throws SetError.
  explicit AreaRegistry(const std::string &path);
  ~AreaRegistry();
  AreaRegistry(const AreaRegistry &) = delete;
  AreaRegistry &operator=(const AreaRegistry &) = delete;

  // Writes an empty registry at the start of the region. Refuses a region
  // that holds a set or a registry already, unless `force`.
  static void format(const std::string &path, bool force);
  // Whether the file starts with an area registry's magic (any validity).
  static bool is_area_region(const std::string &path);
  // 1 to kPeerNameMax bytes of [A-Za-z0-9._-], not starting with '.' or '-'.
  static bool valid_peer_name(const std::string &name);

  uint64_t region_size() const { return size_; }
  uint64_t version() const;
  uint64_t changed_ms() const;
  std::vector<AreaInfo> areas() const;
  std::optional<AreaInfo> area(uint32_t id) const;

  // Attaches a peer to an area, creating the area first when its ID is new,
  // and carves a pair slot for the peer with every other attached peer.
  // Throws SetError (codes: usage, range, size-mismatch, no-area, no-space,
  // name-taken, full, corrupt, busy) with a message a user can act on;
  // nothing in the region changes then.
  AttachResult attach(const AttachRequest &r);
  // Ends a mapping (if it is still the one with that epoch).
  void detach(uint32_t index, uint32_t peer_slot, uint32_t epoch);
  // Bumps a mapping's heartbeat; false when the mapping is no longer ours.
  bool heartbeat(uint32_t index, uint32_t peer_slot, uint32_t epoch);
  // Removes an area. The caller has checked that no live peer holds it;
  // `expected_version` is the registry version it saw then, so an attach
  // since then refuses the removal.
  void remove(uint32_t id, uint64_t expected_version);

  uint32_t stale_lock_ms = kLockStaleMs;
  uint32_t give_up_ms = kLockGiveUpMs;

 private:
  class Lock;
  RegistryHeader *header() const { return reinterpret_cast<RegistryHeader *>(base_); }
  AreaEntry *entry(uint32_t index) const { return reinterpret_cast<AreaEntry *>(base_ + kAreaTableOffset) + index; }
 public:
  // The region as mapped, for the pairs' sets (MemsectionSet's window
  // constructor): one mapping for the registry and every set of a mount.
  const std::shared_ptr<const Mapping> &region() const { return region_; }
 private:
  AreaInfo read_area(uint32_t index) const;
  void changed(uint64_t now_ms);

  std::string path_;
  std::shared_ptr<const Mapping> region_;
  uint8_t *base_ = nullptr;
  uint64_t size_ = 0;  // the region as formatted: areas lie below it
  std::mutex local_;  // this process's threads one at a time, before the shared lock
};

}  // namespace ivfs
