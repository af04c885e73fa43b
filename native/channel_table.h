// The channel table: named channels created and removed by either side,
// guarded by a cross-peer lock that lives in the control memsection.
//
// The lock works between VMs (plain atomics, no kernel help) and recovers
// when its holder died: the owner word names the side and the epoch of the
// mount that took it, so a lock held by an earlier incarnation of a side, by
// a side that detached, or by a side whose heartbeat stopped, is taken over.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "memsection_set.h"
#include "timing.h"

namespace ivfs {

struct ChannelInfo {
  uint32_t slot;
  uint32_t generation;
  uint32_t state;
  uint32_t mode, uid, gid;
  uint64_t ctime_ms, atime_ms, mtime_ms;
  std::string name;
  bool corrupt;  // the entry could not be read safely; `why` says what
  std::string why;
};

// Result of a table operation: 0 or a negative errno (EEXIST, ENOSPC,
// ENOENT, ENAMETOOLONG, EINVAL, EBUSY when the lock cannot be had).
struct TableResult {
  int err = 0;
  uint32_t slot = 0;
  uint32_t generation = 0;
};

// What chmod, chown and utimensat change; an empty field stays as it is.
struct AttributeChange {
  std::optional<uint32_t> mode, uid, gid;
  std::optional<uint64_t> atime_ms, mtime_ms;
};

// A table change made elsewhere: side b of a port transport forwards its
// changes to side a, the table's only writer there.
struct TableOp {
  enum Kind { kCreate, kUnlink, kSetAttributes } kind = kCreate;
  std::string name;
  uint32_t mode = 0, uid = 0, gid = 0;
  AttributeChange change;
  uint64_t now_ms = 0;
};

inline uint64_t lock_owner(uint32_t side, uint32_t epoch) { return (uint64_t(epoch) << 8) | (side + 1); }

class ChannelTable {
 public:
  ChannelTable(MemsectionSet &set, uint32_t side) : set_(set), side_(side) {}

  void set_epoch(uint32_t epoch) { epoch_ = epoch; }

  // Validates a channel name: 1..kNameMax bytes, no '/', not "." or "..".
  static int check_name(const std::string &name);

  TableResult create(const std::string &name, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t now_ms);
  TableResult unlink(const std::string &name, uint64_t now_ms);
  // Changes a live channel's owner, permission bits or times, seen by both
  // sides at their next getattr; the change time becomes now_ms.
  TableResult set_attributes(const std::string &name, const AttributeChange &change, uint64_t now_ms);
  // Frees unlinked entries that no side holds open any more.
  int sweep();
  // A pristine copy (table version 0, every slot free) takes the channels of
  // another: `write_entries` writes them (the entries are free, nobody reads
  // them), under the lock; then the version becomes `version`. false, and
  // nothing written, unless pristine (a port's side a whose set is new,
  // taking side b's channels: port/mirror.h).
  bool adopt_if_pristine(uint64_t version, uint64_t now_ms, const std::function<void()> &write_entries);

  // Reads the whole table without the lock (entries are re-validated by
  // readers of each field); corrupt entries are returned flagged.
  std::vector<ChannelInfo> list() const;
  ChannelInfo read_entry(uint32_t slot) const;

  // When set, create, unlink and set_attributes (their names checked) are
  // answered by it instead of changing this copy, and sweep does nothing:
  // the copy follows a writer elsewhere (port/port_transport.h).
  std::function<TableResult(const TableOp &)> forward;
  // When set, called after every change this copy made, with the lock
  // released (a port sends it at once, and waits until the far copy has it).
  std::function<void()> changed;
  // When not 0, create() sets the peer's two waiting flags of the new entry
  // to this (a port's copy pins them: port/mirror.h).
  uint32_t peer_waiting_pin = 0;

  // Lock timing, exposed for tests: the peer is declared dead when its
  // heartbeat has not moved for `stale_ms`; acquisition gives up after
  // `give_up_ms`.
  uint32_t stale_ms = kLockStaleMs;
  uint32_t give_up_ms = kLockGiveUpMs;

 private:
  // The cross-peer lock, after this process's own threads: held while the
  // guard lives (held() false: it could not be had, EBUSY).
  class Locked {
   public:
    explicit Locked(ChannelTable &t) : t_(t), local_(t.local_), held_(t.acquire()) {}
    ~Locked() {
      if (held_) t_.release();
    }
    Locked(const Locked &) = delete;
    Locked &operator=(const Locked &) = delete;
    bool held() const { return held_; }

   private:
    ChannelTable &t_;
    std::lock_guard<std::mutex> local_;
    bool held_;
  };
  bool acquire();
  void release();
  // The operations' bodies, forwarded or under the lock; after_change runs
  // `changed` once the lock is free.
  TableResult change_create(const std::string &name, uint32_t mode, uint32_t uid, uint32_t gid, uint64_t now_ms);
  TableResult change_unlink(const std::string &name, uint64_t now_ms);
  TableResult change_set_attributes(const std::string &name, const AttributeChange &change, uint64_t now_ms);
  TableResult after_change(TableResult r);
  void sweep_locked();
  // The live entry of that name, or nullptr. Lock held.
  ChannelEntry *find_live_locked(const std::string &name);

  MemsectionSet &set_;
  uint32_t side_;
  uint32_t epoch_ = 0;
  std::mutex local_;  // serializes this process's own threads first
};

}  // namespace ivfs
