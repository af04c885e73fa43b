#include "side.h"

#include <cstring>

#include "timing.h"

namespace ivfs {

Side::Side(std::shared_ptr<MemsectionSet> set) : set_(std::move(set)) {
  table_ = std::make_shared<ChannelTable>(*set_, 0);
  names_ = std::make_shared<NameIndex>(*set_, table_);
}

Side::~Side() { close(); }

MemsectionSet &Side::set() const {
  if (!set_) throw SideUsage("memsection set is closed");
  return *set_;
}

// --- doorbell ----------------------------------------------------------------

uint32_t Side::open_doorbell(const std::string &bar0_path) {
  if (notifier_) throw SideUsage("openDoorbell after startNotifier");
  doorbell_.reset(Doorbell::ring_only(bar0_path));
  return doorbell_->own_id();
}

uint32_t Side::open_doorbell(const std::string &vfio_group, const std::string &bdf) {
  if (notifier_) throw SideUsage("openDoorbell after startNotifier");
  doorbell_.reset(Doorbell::vfio(vfio_group, bdf));
  return doorbell_->own_id();
}

void Side::use_hub(std::shared_ptr<DoorbellHub> hub) {
  if (notifier_ || attached_) throw SideUsage("useDoorbellHub before attach");
  hub_ = std::move(hub);
  doorbell_ = hub_->doorbell();
}

bool Side::test_doorbell(int timeout_ms) {
  if (!doorbell_ || !doorbell_->can_wait() || notifier_) throw SideUsage("testDoorbell needs an open doorbell device and no notifier");
  doorbell_->ring(doorbell_->own_id());
  return doorbell_->wait(timeout_ms);
}

void Side::require_doorbell_for(NotifyMode mode) const {
  if (mode == kNotifyDoorbell && !(doorbell_ && doorbell_->can_wait())) throw SideUsage("doorbell notifier without an open doorbell device");
}

// --- port transport ------------------------------------------------------------

void Side::open_port(const std::string &link) {
  if (port_ || attached_) throw SideUsage("openPort once, before attach");
  if (doorbell_) throw SideUsage("a port side has no doorbell: its transport wakes it");
  port_ = std::make_shared<port::PortTransport>(set_, port::open_link(link));
}

port::PortState Side::port_state() const {
  if (!port_) throw SideUsage("portState on a side without a port");
  return port_->state();
}

// --- the side ------------------------------------------------------------------

uint32_t Side::attach(SideClaim claim) {
  if (claim.side >= kSideCount) throw SideUsage("side must be 0 (a) or 1 (b)");
  require_doorbell_for(claim.notify);
  if (port_) {
    if (claim.notify == kNotifyDoorbell) throw SideUsage("a port side has no doorbell: use futex or poll");
    // Its link was closed by detach (BYE); refuse before anything changes.
    if (port_->started()) throw SideUsage("a port side attaches once: to attach again, open the set and its port anew");
  }
  SideState &s = set().header()->side[claim.side];
  stop_engine();
  engine_.reset();
  side_ = claim.side;
  notify_ = claim.notify;
  uint32_t epoch = load_acquire(&s.epoch) + 1;
  table_ = std::make_shared<ChannelTable>(*set_, side_);
  table_->set_epoch(epoch);
  names_ = std::make_shared<NameIndex>(*set_, table_);
  if (port_) port_->start(side_, table_);  // pins the peer's words before our engine runs
  reset_own_counts();  // descriptors of an earlier mount of this side are gone
  // doorbell_id before notify_mode: a peer that sees the mode finds the id.
  store_release(&s.doorbell_id, doorbell_ ? doorbell_->own_id() : 0u);
  store_release(&s.notify_mode, uint32_t(claim.notify));
  store_release(&s.pid, claim.pid);
  std::string host = claim.host.substr(0, sizeof(s.host) - 1);
  std::memset(s.host, 0, sizeof(s.host));
  std::memcpy(s.host, host.data(), host.size());
  store_release(&s.mounted_at_ms, claim.mounted_at_ms);
  store_release(&s.epoch, epoch);
  store_release(&s.attached, 1u);
  attached_ = true;
  claim.engine.side = side_;
  engine_ = std::make_shared<FifoEngine>(set_, table_, names_, doorbell_, claim.engine, claim.notify == kNotifyFutex);
  engine_->on_corrupt = std::move(claim.on_corrupt);
  // The one relay: the glue's pollers (fuse_hooks) or the library listen to it.
  engine_->on_readiness = [readiness = readiness_] { readiness->notify(); };
  ring_peer();
  return epoch;
}

void Side::detach() {
  if (!attached_ || !set_) return;
  stop_notifier();
  stop_engine();
  engine_.reset();
  reset_own_counts();
  store_release(&set_->header()->side[side_].attached, 0u);
  attached_ = false;
  table_->sweep();
  ring_peer();  // the peer's waiters re-check: our readers and writers are gone
  if (port_) port_->stop(/*flush=*/true);  // the same, across the port, then BYE
}

void Side::heartbeat() {
  if (attached_) add_release(&set().header()->side[side_].heartbeat, uint64_t(1));
}

std::array<SideSnapshot, kSideCount> Side::sides() const {
  std::array<SideSnapshot, kSideCount> out;
  for (uint32_t i = 0; i < kSideCount; i++) {
    const SideState &s = set().header()->side[i];
    SideSnapshot &o = out[i];
    o.attached = load_acquire(&s.attached) == 1;
    o.epoch = load_acquire(&s.epoch);
    o.heartbeat = load_acquire(&s.heartbeat);
    o.pid = load_acquire(&s.pid);
    o.notify_mode = load_acquire(&s.notify_mode);
    o.doorbell_id = load_acquire(&s.doorbell_id);
    o.mounted_at_ms = load_acquire(&s.mounted_at_ms);
    char host[sizeof(s.host)];
    std::memcpy(host, s.host, sizeof(s.host));  // once: the peer may rewrite it
    o.host.assign(host, strnlen(host, sizeof(host)));
    o.bells_rung = load_acquire(&s.bells_rung);
  }
  return out;
}

void Side::set_peer_dead(bool dead) {
  if (engine_) engine_->set_peer_dead(dead);
}

void Side::start_notifier(std::function<void()> also) {
  if (notifier_) throw SideUsage("notifier already running");
  if (!attached_) throw SideUsage("startNotifier before attach");
  // The engine hears every ring on the notifier thread, with no JavaScript.
  std::shared_ptr<FifoEngine> engine = engine_;
  // `also` asked to hear every ring: then the notifier never parks.
  std::shared_ptr<LocalInterest> interest = engine && !also ? engine->interest() : nullptr;
  notifier_ = std::make_unique<Notifier>(
      set().header()->side[side_], notify_, doorbell_.get(),
      [engine, also = std::move(also)]() {
        if (engine) engine->peer_rang();
        if (also) also();
      },
      hub_, std::move(interest));
}

void Side::stop_notifier() {
  if (notifier_) notifier_->stop();
  notifier_.reset();
}

// Our descriptors are gone (a new mount of the side, or its end). The caller
// rings the peer's bell after.
void Side::reset_own_counts() {
  SideState &p = set_->header()->side[peer()];
  for (uint32_t i = 0; i < set_->geometry().capacity; i++) {
    ChannelEntry *e = set_->entry(i);
    bool had_open = load_acquire(&e->side_open[side_]) != 0;
    store_release(&e->side_open[side_], 0u);
    store_release(&e->ring[side_].writers_open, 0u);
    store_release(&e->ring[side_].writers_closing, 0u);
    store_release(&e->ring[side_].producer_waiting, 0u);
    store_release(&e->ring[peer()].readers_open, 0u);
    store_release(&e->ring[peer()].readers_closing, 0u);
    store_release(&e->ring[peer()].consumer_waiting, 0u);
    // After the counts: the peer's waiters on a channel we had open wake to
    // end of file or EPIPE.
    if (had_open) move_channel_wake_words(p, *e, side_);
  }
}

void Side::ring_peer() { ring_bell(set_->header()->side[peer()], doorbell_.get()); }

// --- the engine ------------------------------------------------------------------

std::shared_ptr<FifoEngine> Side::require_engine() const {
  if (!engine_) throw SideUsage("no FIFO engine: attach() first (or it was stopped)");
  return engine_;
}

struct fuse_native_hooks *Side::fuse_hooks() {
  require_engine();
  if (!glue_) {
    std::lock_guard<std::mutex> g(readiness_->mu);
    if (readiness_->listener) throw SideUsage("fuseHooks on a side whose channels a program drives (SideChannels)");
    glue_ = FuseGlue::create(engine_, table_);
    FuseGlue *glue = glue_;  // never freed, so the listener may outlive stop_engine
    readiness_->listener = [glue] { glue->notify_pollers(); };
  }
  return glue_->hooks();
}

void Side::set_readiness_listener(std::function<void()> listener) {
  if (glue_) {
    if (listener) throw SideUsage("SideChannels on a side whose engine libfuse serves (fuseHooks)");
    return;  // the glue's listener is not ours to clear
  }
  set_listener(std::move(listener));
}

void Side::set_listener(std::function<void()> listener) {
  std::lock_guard<std::mutex> g(readiness_->mu);
  readiness_->listener = std::move(listener);
}

// Under the mutex: a listener being cleared waits for the call in progress.
// The listener only queues work for another thread, so it is short.
void Side::Readiness::notify() {
  std::lock_guard<std::mutex> g(mu);
  if (listener) listener();
}

void Side::answer_next_getattr_as_fifo(const std::string &name) {
  if (glue_) glue_->answer_next_getattr_as_fifo(name);
}

int Side::stop_engine() {
  int left = 0;
  if (glue_) left = glue_->close(kStopWaitMs);
  else if (engine_) engine_->stop();
  if (glue_) set_listener(nullptr);
  glue_ = nullptr;
  return left;
}

// --- the channel table -------------------------------------------------------------

Side::TableHold Side::table_hold() const {
  set();
  return TableHold{set_, table_};
}

std::vector<ChannelSnapshot> Side::channels() const {
  std::vector<ChannelSnapshot> out;
  for (ChannelInfo &c : table_hold().table->list()) {
    ChannelSnapshot s;
    const ChannelEntry *e = set_->entry(c.slot);
    for (uint32_t d = 0; d < kSideCount; d++) {
      s.side_open[d] = load_acquire(&e->side_open[d]);
      const RingState &r = e->ring[d];
      s.rings[d] = {load_acquire(&r.head), load_acquire(&r.tail), load_acquire(&r.write_ops), load_acquire(&r.read_ops),
                    load_acquire(&r.writers_open), load_acquire(&r.readers_open)};
    }
    s.info = std::move(c);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<ChannelInfo> Side::lookup(const std::string &name) const {
  set();
  return names_->find(name);
}

uint64_t Side::table_version() const { return load_acquire(&set().header()->table_version); }
uint64_t Side::table_changed_ms() const { return load_acquire(&set().header()->table_changed_ms); }

void Side::close() {
  port_.reset();
  stop_notifier();
  stop_engine();
  engine_.reset();
  doorbell_.reset();
  hub_.reset();
  names_.reset();
  table_.reset();
  set_.reset();
  attached_ = false;
}

}  // namespace ivfs
