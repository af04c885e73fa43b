// The port transport's mirror (docs/design/port-transport.md, sections 1-3
// and 5): one side's private copy of a memsection set kept in step with the
// far side's copy through wire frames (wire.h). Pure: no I/O and no threads
// of its own; the transport (port_transport.h) calls it from two.
//
// Every field keeps one writer per copy: our engine writes the fields
// LAYOUT.md gives our side, the RX thread (apply) writes the peer's, standing
// in for the peer's engine, and does locally what the peer's engine would
// have done to wake us. The TX thread (scan) reads our fields and sends what
// changed. The peer's waiting flags are pinned to "a poll is armed" and its
// notify mode to futex in our copy, so every read and write of our engine
// rings the futex word the TX thread sleeps on (side[peer].bell).
//
// Side a is the table's only writer: it sends ENTRY and TABLE frames; side b
// applies them and forwards its own table operations (TABLE_OP). At every
// session side b first offers its channels (ENTRY frames in its sync dump);
// a side a whose set is pristine (a guest restarted on fresh memory) takes
// them, at b's positions (design 5.2.5); side a's table goes out only then.
//
// What arrives is from a stranger: apply() reads each record once (the
// decoder's copy), checks every index against our own copy, and refuses
// what it cannot take whole, naming it ("DATA for slot 2 at 4096, our head
// is 0"). A frame for a generation we no longer have is a race, not a lie:
// it is ignored.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../channel_table.h"
#include "../memsection_set.h"
#include "wire.h"

namespace ivfs {
namespace port {

class Mirror {
 public:
  // `table`: the side's channel table; side a executes forwarded operations
  // on it and sweeps with it, side b only reads its copy.
  Mirror(MemsectionSet &set, uint32_t side, ChannelTable &table);

  // Pins the peer's waiting flags and notify mode in our copy (at open, and
  // again whenever an entry is rewritten). Any thread, before the others run.
  void pin();

  // --- RX thread, at establishment, before the session's first frame --------
  // Every channel we hold now waits for the peer's POSITION before its bytes
  // flow again; replies of the last session are dropped.
  void open_session();

  // --- TX thread ------------------------------------------------------------
  // A new session (after open_session): forget what was sent.
  void begin_session();
  // The sync dump: a POSITION per channel we hold, then SYNC_END.
  void sync_dump(std::vector<uint8_t> &out);
  // Appends a frame for every change since the last scan: our SIDE, the
  // table (side a), then per channel DATA, PRODUCER, CONSUMER. At most
  // `budget` bytes of DATA; true when bytes were left for the next scan.
  bool scan(std::vector<uint8_t> &out, size_t budget);

  // --- RX thread ------------------------------------------------------------
  // Applies one validated frame (not HELLO or BYE: the transport's): "" or
  // the violation, with nothing applied. Frames to answer (POSITION,
  // TABLE_RESULT) go to the reply queue.
  std::string apply(const Frame &f);
  // The link is gone: the peer counts as detached, its descriptors as
  // closed (our readers drain then see end of file, our writers EPIPE). The
  // bytes stay, as in shared memory.
  void disconnect_reset();
  // Frames the RX thread produced for the TX thread to send (after the
  // table diff of its next scan, so a TABLE_RESULT follows its ENTRY).
  void take_replies(std::vector<uint8_t> &out);

 private:
  struct SlotShadow {  // TX only: what the peer has of one slot
    uint32_t generation = 0;
    bool known = false;     // a generation is being tracked
    bool awaiting = false;  // session start: no DATA until the peer's POSITION
    uint64_t sent_head = 0;
    ProducerRecord producer{};
    ConsumerRecord consumer{};
    bool producer_sent = false, consumer_sent = false;
    bool data_sent = false;  // DATA went out for this generation in this session: a resume comes too late
  };
  struct Resume {  // RX -> TX: where the peer has our bytes up to
    uint32_t generation;
    uint64_t head;
  };

  ChannelEntry *entry(uint32_t slot) const { return set_.entry(slot); }
  uint32_t peer() const { return 1 - side_; }
  void scan_table(std::vector<uint8_t> &out);
  bool scan_slot(uint32_t slot, std::vector<uint8_t> &out, size_t &budget);
  // Where to resume a slot's bytes, if the RX thread said (POSITION, an
  // adopted channel): taken once, for the shadow's generation, before any
  // DATA of this session.
  void take_resume(uint32_t slot, SlotShadow &s);
  std::string apply_entry(const EntryRecord &r);
  std::string apply_data(const DataRecord &r, const uint8_t *bytes);
  std::string apply_producer(const ProducerRecord &r);
  std::string apply_consumer(const ConsumerRecord &r);
  std::string apply_position(const PositionRecord &r);
  std::string apply_side(const SideRecord &r);
  std::string apply_table(const TableRecord &r);
  std::string apply_table_op(const TableOpRecord &r);
  std::string apply_sync_end(const SyncEndRecord &r);
  // Side a: side b's offered channels into our pristine table.
  void adopt_offered(const SyncEndRecord &r);
  // Rewrites a free entry as `r`'s channel, its rings at these positions,
  // the peer's flags pinned; the caller publishes its state.
  void install(ChannelEntry &e, const EntryRecord &r, uint64_t head0, uint64_t tail0, uint64_t head1, uint64_t tail1);
  // Our ENTRY view of a slot: identity and both rings' positions.
  EntryRecord entry_record(uint32_t slot, const ChannelEntry &e, uint32_t state, uint32_t generation) const;
  // The same, never torn by a create that rewrites the entry meanwhile
  // (scan_table, and side b's offer in sync_dump).
  EntryRecord whole_entry_record(uint32_t slot, const ChannelEntry &e) const;
  // The live or unlinked entry of that generation, or nullptr (a race).
  ChannelEntry *current(uint32_t slot, uint32_t generation) const;
  void pin_entry(ChannelEntry &e);
  void wake_counts(ChannelEntry &e);
  template <class R>
  void reply(const R &r) {
    std::lock_guard<std::mutex> g(replies_mu_);
    encode(replies_, r);
  }

  MemsectionSet &set_;
  const uint32_t side_;
  ChannelTable &table_;
  const uint64_t ring_size_;
  const uint32_t capacity_;

  // RX -> TX: per slot, the generation whose POSITION we wait for (0: none),
  // which apply_position clears; and the generation held when the session
  // opened, which the TX thread's begin_session reads (a channel made since
  // is new to both sides and waits for nothing).
  std::unique_ptr<std::atomic<uint32_t>[]> awaiting_, opened_;
  // RX -> TX, side a: side b's sync dump has ended (its offer taken or not):
  // our table may go out.
  std::atomic<bool> peer_synced_{false};
  std::map<uint32_t, EntryRecord> offered_;  // RX, side a: side b's channels, by slot

  // TX only
  std::vector<SlotShadow> shadow_;
  uint32_t next_slot_ = 0;  // where the next scan starts: slots take turns at the budget
  bool table_known_ = false;
  uint64_t table_version_sent_ = 0;
  std::vector<EntryRecord> entries_sent_;
  SideRecord side_sent_{};
  bool side_known_ = false;

  // RX -> TX
  std::mutex replies_mu_;
  std::vector<uint8_t> replies_;
  std::map<uint32_t, Resume> resumes_;  // guarded by replies_mu_
};

}  // namespace port
}  // namespace ivfs
