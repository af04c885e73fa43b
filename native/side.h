// One mounted side of a memsection set, with no Node in it.
//
// A Side owns what serving one side takes, and starts and stops it in the one
// right order: the mapping, the channel table (which takes the cross-peer
// lock in this side's name) and its name index, the ivshmem doorbell (its own
// or an area mount's hub), the FIFO engine, the FUSE glue that hands the
// engine to libfuse, and the notifier thread that hears the peer's bell.
// The addon's Memsections only turns JavaScript values into these calls; a
// library on the same rings can drive a side the same way.
//
// Order of use:
//   open_doorbell or use_hub   (optional, before attach)
//   attach                     claims the side, starts its engine
//   fuse_hooks (a mount) or set_readiness_listener (the library), start_notifier
//   stop_engine                every waiting request answered (unmount)
//   detach, close              (the destructor does what is left)
// All calls come from one thread; the engine and the notifier run their own.
// Misuse (a call out of order) throws SideUsage; mapping errors SetError.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "channel_table.h"
#include "doorbell.h"
#include "doorbell_hub.h"
#include "engine/fifo_engine.h"
#include "fuse_glue.h"
#include "memsection_set.h"
#include "name_index.h"
#include "notifier.h"
#include "port/port_transport.h"

namespace ivfs {

// A call out of order (a programming error of the caller, not bad input).
struct SideUsage : std::logic_error {
  using std::logic_error::logic_error;
};

// What claiming a side records in shared memory, and how it is served.
struct SideClaim {
  uint32_t side = 0;  // 0 (a) or 1 (b)
  NotifyMode notify = kNotifyFutex;
  uint32_t pid = 0;
  std::string host;
  uint64_t mounted_at_ms = 0;
  EngineOptions engine;  // its `side` is set from ours
  // Called on the request's thread when a channel's shared state is
  // impossible; the request is answered EIO after it returns.
  std::function<void(uint32_t slot, uint32_t generation, const char *during)> on_corrupt;
};

// One side's shared state, read once (status, liveness checks).
struct SideSnapshot {
  bool attached = false;
  uint32_t epoch = 0, pid = 0, notify_mode = 0, doorbell_id = 0;
  uint64_t heartbeat = 0, mounted_at_ms = 0, bells_rung = 0;
  std::string host;
};

// A channel as listed: its entry, and its open counts and rings as read.
struct ChannelSnapshot {
  ChannelInfo info;
  uint32_t side_open[kSideCount] = {0, 0};
  struct Ring {
    uint64_t head = 0, tail = 0, write_ops = 0, read_ops = 0;
    uint32_t writers_open = 0, readers_open = 0;
  } rings[kSideCount];
};

class Side {
 public:
  explicit Side(std::shared_ptr<MemsectionSet> set);
  ~Side();
  Side(const Side &) = delete;
  Side &operator=(const Side &) = delete;

  const Geometry &geometry() const { return set().geometry(); }

  // --- doorbell, before attach ------------------------------------------
  // The registers of BAR 0 (ringing only: a poll side ringing a doorbell
  // peer), or the device through VFIO (ringing and waiting). -> our ivshmem
  // peer id. Throws SetError.
  uint32_t open_doorbell(const std::string &bar0_path);
  uint32_t open_doorbell(const std::string &vfio_group, const std::string &bdf);
  // The device an area mount opened once for all its sets.
  void use_hub(std::shared_ptr<DoorbellHub> hub);
  // Whether ringing our own id raises our interrupt (a device without a
  // doorbell server ignores it). Blocks up to timeout_ms.
  bool test_doorbell(int timeout_ms);

  // --- port transport, before attach ----------------------------------------
  // Our set is a private copy kept in step with the far side's over
  // `link` (port/link.h: unix:PATH, unix-listen:PATH, fd:N, a virtio port's
  // /dev/vportNpM): attach starts the transport, detach sends our last
  // state and stops it (port/port_transport.h). Not with a doorbell.
  // Throws SetError when the link cannot be opened.
  void open_port(const std::string &link);
  // SideUsage without a port.
  port::PortState port_state() const;

  // --- the side -----------------------------------------------------------
  // Claims the side (the caller has checked that nobody alive serves it)
  // and starts its engine. -> the side's new epoch.
  uint32_t attach(SideClaim claim);
  // Stops the engine and the notifier, and gives the side up: our open
  // counts are cleared and the peer's waiters re-check.
  void detach();
  bool attached() const { return attached_; }
  void heartbeat();
  std::array<SideSnapshot, kSideCount> sides() const;
  // The peer's mount died without detaching (its heartbeat stopped).
  void set_peer_dead(bool dead);

  // The notifier thread, in the notify mode of attach. `also` (tests,
  // tracing) hears every ring too, on the notifier thread.
  void start_notifier(std::function<void()> also);
  void stop_notifier();

  // --- the engine ---------------------------------------------------------
  // The hook table for fuse-native (made once per engine). Refused on a side
  // with a readiness listener: the glue owns the engine's readiness then.
  struct fuse_native_hooks *fuse_hooks();
  // A side driven from an event loop (the library, src/lib) instead of
  // libfuse: `listener` hears every possible change of a descriptor's
  // readiness (the engine's on_readiness), on the notifier thread or, at a
  // peer's death, on the caller's. Set before or after attach, by any
  // engine attach makes; nullptr clears it, and once that returns no call of
  // the old one runs or will start. Refused on a side with FUSE glue.
  void set_readiness_listener(std::function<void()> listener);
  bool fuse_loop_ended() const { return glue_ && glue_->loop_ended(); }
  void answer_next_getattr_as_fifo(const std::string &name);
  // Answers every request waiting in the engine and waits (bounded) until
  // no libfuse thread is inside it; later requests get EIO. -> the requests
  // still inside after the wait (0 normally).
  int stop_engine();
  // The engine, or nullptr before attach and after detach.
  const std::shared_ptr<FifoEngine> &engine() const { return engine_; }
  // The engine, or SideUsage before attach and after detach.
  std::shared_ptr<FifoEngine> require_engine() const;

  // --- the channel table --------------------------------------------------
  // The table and the mapping it points into, for a table operation on a
  // worker thread: they stay alive even if the side closes meanwhile.
  struct TableHold {
    std::shared_ptr<MemsectionSet> set;
    std::shared_ptr<ChannelTable> table;
  };
  TableHold table_hold() const;
  std::vector<ChannelSnapshot> channels() const;
  // The live channel of that name, by one hash probe (name_index.h).
  std::optional<ChannelInfo> lookup(const std::string &name) const;
  uint64_t table_version() const;
  uint64_t table_changed_ms() const;

  // Stops everything and lets the mapping go; any later call but close()
  // throws SideUsage.
  void close();

 private:
  MemsectionSet &set() const;
  uint32_t peer() const { return 1 - side_; }
  void ring_peer();
  void reset_own_counts();
  void require_doorbell_for(NotifyMode mode) const;
  void set_listener(std::function<void()> listener);

  // Relays the engine's on_readiness, the one slot, to the listener of the
  // moment (the glue's pollers or the library's); a mutex, since the
  // listener changes while the notifier thread calls it.
  struct Readiness {
    std::mutex mu;
    std::function<void()> listener;
    void notify();
  };

  // Shared: a table operation on a worker thread keeps them alive.
  std::shared_ptr<MemsectionSet> set_;
  std::shared_ptr<ChannelTable> table_;
  std::shared_ptr<NameIndex> names_;
  // Declared before notifier_: the notifier thread uses it, so it must be
  // destroyed after the notifier (members are destroyed in reverse order).
  std::shared_ptr<Doorbell> doorbell_;
  std::shared_ptr<DoorbellHub> hub_;
  std::unique_ptr<Notifier> notifier_;
  std::shared_ptr<FifoEngine> engine_;
  // After set_ and table_, which its threads use: destroyed before them.
  std::shared_ptr<port::PortTransport> port_;
  FuseGlue *glue_ = nullptr;  // never freed (fuse_glue.h); one per engine
  // Shared with the engine's on_readiness, which may outlive a detach.
  std::shared_ptr<Readiness> readiness_ = std::make_shared<Readiness>();
  uint32_t side_ = 0;
  NotifyMode notify_ = kNotifyFutex;
  bool attached_ = false;
};

}  // namespace ivfs
