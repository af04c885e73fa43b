// N-API surface of the addon: a handful of coarse calls over one mapped
// memsection set (map, format, table operations, ring copies, open counts,
// waiting flags, notifier). Threading:
//   - every call here runs on the JavaScript thread and never blocks, except
//     table operations, which take the cross-peer lock and so run on a libuv
//     worker thread (AsyncWorker) and resolve a Promise;
//   - the notifier runs on its own thread and reaches JavaScript only through
//     a thread-safe function, coalesced so a burst of rings is one callback.
#include <napi.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <thread>
#include <unordered_map>

#include "addon_areas.h"
#include "addon_doorbell_server.h"
#include "addon_errors.h"
#include "channel_table.h"
#include "doorbell.h"
#include "engine/fifo_engine.h"
#include "fuse_glue.h"
#include "memsection_set.h"
#include "name_index.h"
#include "notifier.h"
#include "open_counts.h"
#include "ring.h"
#include "timing.h"

namespace ivfs {
namespace {

std::vector<std::string> string_array(const Napi::Value &v) {
  std::vector<std::string> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

Napi::Object geometry_object(Napi::Env env, const Geometry &g) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("capacity", g.capacity);
  o.Set("controlSize", double(g.control_size));
  o.Set("dataSize", double(g.data_size));
  o.Set("ringSize", double(g.ring_size));
  o.Set("data0Offset", double(g.data_offset[0]));
  o.Set("data1Offset", double(g.data_offset[1]));
  o.Set("formattedAtMs", double(g.formatted_at_ms));
  return o;
}

NotifyMode notify_mode(Napi::Env env, const std::string &name) {
  if (name == "futex") return kNotifyFutex;
  if (name == "poll") return kNotifyPoll;
  if (name == "doorbell") return kNotifyDoorbell;
  throw Napi::RangeError::New(env, "unknown notifier " + name + " (futex, poll or doorbell)");
}

const char *notify_name(uint32_t mode) {
  return mode == kNotifyFutex ? "futex" : mode == kNotifyDoorbell ? "doorbell" : mode == kNotifyPoll ? "poll" : "unknown";
}

class TableWorker : public Napi::AsyncWorker {
 public:
  using Op = std::function<TableResult()>;
  TableWorker(Napi::Env env, Op op) : Napi::AsyncWorker(env), op_(std::move(op)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { result_ = op_(); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", result_.err);  // negative, as everywhere (ARCHITECTURE.md, "Errors")
    o.Set("slot", result_.slot);
    o.Set("generation", result_.generation);
    deferred_.Resolve(o);
  }

 private:
  Op op_;
  Napi::Promise::Deferred deferred_;
  TableResult result_;
};

class Memsections : public Napi::ObjectWrap<Memsections> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Memsections",
                       {
                           InstanceMethod("geometry", &Memsections::Geometry_),
                           InstanceMethod("attach", &Memsections::Attach),
                           InstanceMethod("detach", &Memsections::Detach),
                           InstanceMethod("heartbeat", &Memsections::Heartbeat),
                           InstanceMethod("sides", &Memsections::Sides),
                           InstanceMethod("tableVersion", &Memsections::TableVersion),
                           InstanceMethod("channels", &Memsections::Channels),
                           InstanceMethod("lookupChannel", &Memsections::LookupChannel),
                           InstanceMethod("createChannel", &Memsections::CreateChannel),
                           InstanceMethod("unlinkChannel", &Memsections::UnlinkChannel),
                           InstanceMethod("sweep", &Memsections::Sweep),
                           InstanceMethod("setChannelAttributes", &Memsections::SetChannelAttributes),
                           InstanceMethod("tableChangedMs", &Memsections::TableChangedMs),
                           InstanceMethod("consume", &Memsections::Consume),
                           InstanceMethod("produce", &Memsections::Produce),
                           InstanceMethod("endpointState", &Memsections::EndpointState),
                           InstanceMethod("adjustOpen", &Memsections::AdjustOpen),
                           InstanceMethod("markEnd", &Memsections::MarkEnd),
                           InstanceMethod("engineOpen", &Memsections::EngineOpen),
                           InstanceMethod("engineRelease", &Memsections::EngineRelease),
                           InstanceMethod("engineFlush", &Memsections::EngineFlush),
                           InstanceMethod("engineRead", &Memsections::EngineRead),
                           InstanceMethod("engineWrite", &Memsections::EngineWrite),
                           InstanceMethod("engineInterrupt", &Memsections::EngineInterrupt),
                           InstanceMethod("enginePoll", &Memsections::EnginePoll),
                           InstanceMethod("engineState", &Memsections::EngineState),
                           InstanceMethod("setPeerDead", &Memsections::SetPeerDead),
                           InstanceMethod("fuseHooks", &Memsections::FuseHooks),
                           InstanceMethod("stopEngine", &Memsections::StopEngine),
                           InstanceMethod("fuseLoopEnded", &Memsections::FuseLoopEnded),
                           InstanceMethod("answerNextGetattrAsFifo", &Memsections::AnswerNextGetattrAsFifo),
                           InstanceMethod("openDoorbell", &Memsections::OpenDoorbell),
                           InstanceMethod("useDoorbellHub", &Memsections::UseDoorbellHub),
                           InstanceMethod("testDoorbell", &Memsections::TestDoorbell),
                           InstanceMethod("startNotifier", &Memsections::StartNotifier),
                           InstanceMethod("stopNotifier", &Memsections::StopNotifier),
                           InstanceMethod("close", &Memsections::Close),
                       });
  }

  explicit Memsections(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Memsections>(info) {
    try {
      // Memsections(paths[, windowOffset, windowLength]), or
      // Memsections(registry.region(), offset, length): a pair's set in an area region.
      uint64_t offset = info[1].IsNumber() ? uint64_t(info[1].As<Napi::Number>().Int64Value()) : 0;
      uint64_t length = info[2].IsNumber() ? uint64_t(info[2].As<Napi::Number>().Int64Value()) : 0;
      if (info[0].IsExternal()) set_ = std::make_shared<MemsectionSet>(shared_region_arg(info[0]), offset, length);
      else set_ = std::make_shared<MemsectionSet>(string_array(info[0]), offset, length);
    } catch (const SetError &e) {
      throw set_error(info.Env(), e);
    }
    table_ = std::make_shared<ChannelTable>(*set_, 0);
    names_ = std::make_shared<NameIndex>(*set_, table_);
  }

  ~Memsections() override {
    shutdown();
    if (glue_) glue_->close(kStopWaitMs);
    else if (engine_) engine_->stop();
  }

 private:
  // --- helpers -----------------------------------------------------------
  MemsectionSet &set(Napi::Env env) {
    if (!set_) throw Napi::Error::New(env, "memsection set is closed");
    return *set_;
  }
  ControlHeader *header(Napi::Env env) { return set(env).header(); }
  // What a worker thread needs: the table and the mapping it points into.
  struct WorkerTable {
    std::shared_ptr<MemsectionSet> set;
    std::shared_ptr<ChannelTable> table;
  };
  WorkerTable table_for_worker(Napi::Env env) {
    set(env);
    return WorkerTable{set_, table_};
  }
  uint32_t peer() const { return 1 - side_; }

  // Entry for an open descriptor, or nullptr when the slot no longer holds
  // the channel that was opened (only a corrupt or hostile peer does that).
  ChannelEntry *entry_for(Napi::Env env, const Napi::Value &slot_v, const Napi::Value &gen_v) {
    uint32_t slot = slot_v.As<Napi::Number>().Uint32Value();
    uint32_t gen = gen_v.As<Napi::Number>().Uint32Value();
    if (slot >= set(env).geometry().capacity) return nullptr;
    ChannelEntry *e = set_->entry(slot);
    uint32_t state = load_acquire(&e->state);
    if (load_acquire(&e->generation) != gen || (state != kLive && state != kUnlinked)) return nullptr;
    return e;
  }
  RingView ring(uint32_t direction, uint32_t slot, ChannelEntry *e) const {
    return RingView{&e->ring[direction], set_->ring_bytes(direction, slot), set_->geometry().ring_size};
  }
  void ring_peer() { ring_bell(set_->header()->side[peer()], doorbell_.get()); }
  // A notifier name from JavaScript; doorbell only once a doorbell that can
  // wait is open (openDoorbell with a VFIO group).
  NotifyMode notify_mode_arg(Napi::Env env, const Napi::Value &v) {
    NotifyMode mode = notify_mode(env, v.As<Napi::String>().Utf8Value());
    if (mode == kNotifyDoorbell && !(doorbell_ && doorbell_->can_wait())) throw Napi::Error::New(env, "doorbell notifier without an open doorbell device");
    return mode;
  }
  // Our descriptors are gone (a new mount of the side, or its end). The
  // caller rings the peer's bell after.
  void reset_own_counts() {
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
      // After the counts: the peer's waiters on a channel we had open wake
      // to end of file or EPIPE.
      if (had_open) move_channel_wake_words(p, *e, side_);
    }
  }
  void shutdown() {
    if (notifier_) notifier_->stop();
    notifier_.reset();
    if (tsfn_) {
      tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
    }
  }
  // Answers every request waiting in the engine, and waits (bounded) until
  // no libfuse thread is inside it. The engine stays until detach or close,
  // answering every later request EIO.
  int stop_engine() {
    int left = 0;
    if (glue_) left = glue_->close(kStopWaitMs);
    else if (engine_) engine_->stop();
    glue_ = nullptr;
    if (corrupt_tsfn_) {
      corrupt_tsfn_.Release();
      corrupt_tsfn_ = Napi::ThreadSafeFunction();
    }
    return left;
  }
  FifoEngine &engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "no FIFO engine: attach() first (or it was stopped)");
    return *engine_;
  }

  // --- geometry and sides -------------------------------------------------
  Napi::Value Geometry_(const Napi::CallbackInfo &info) { return geometry_object(info.Env(), set(info.Env()).geometry()); }

  // attach(side, notify, pid, host) -> epoch. Claims a side; the caller has
  // already checked that no live daemon serves it.
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    uint32_t side = info[0].As<Napi::Number>().Uint32Value();
    if (side >= kSideCount) throw Napi::RangeError::New(env, "side must be 0 (a) or 1 (b)");
    NotifyMode mode = notify_mode_arg(env, info[1]);
    SideState &s = header(env)->side[side];
    side_ = side;
    epoch_ = load_acquire(&s.epoch) + 1;
    table_ = std::make_shared<ChannelTable>(*set_, side_);
    table_->set_epoch(epoch_);
    names_ = std::make_shared<NameIndex>(*set_, table_);
    reset_own_counts();  // descriptors of an earlier mount of this side are gone
    // doorbell_id before notify_mode: a peer that sees the mode finds the id.
    store_release(&s.doorbell_id, doorbell_ ? doorbell_->own_id() : 0u);
    store_release(&s.notify_mode, uint32_t(mode));
    store_release(&s.pid, info[2].As<Napi::Number>().Uint32Value());
    std::string host = info[3].As<Napi::String>().Utf8Value().substr(0, sizeof(s.host) - 1);
    std::memset(s.host, 0, sizeof(s.host));
    std::memcpy(s.host, host.data(), host.size());
    store_release(&s.mounted_at_ms, uint64_t(info[4].As<Napi::Number>().DoubleValue()));
    store_release(&s.epoch, epoch_);
    store_release(&s.attached, 1u);
    attached_ = true;
    make_engine(env, s, mode, info[5]);
    ring_peer();
    return Napi::Number::New(env, epoch_);
  }

  // options: { spinUs, trace, closingWaitMs, tickMs, onCorrupt(slot, generation, during) }.
  // onCorrupt runs on the JavaScript thread; the request that found the
  // damage waits (up to a second) until it has run, so the reason is in the
  // log before the program sees EIO.
  void make_engine(Napi::Env env, SideState &s, NotifyMode mode, const Napi::Value &options) {
    stop_engine();
    engine_.reset();
    EngineOptions o;
    o.side = side_;
    Napi::Function on_corrupt;
    if (options.IsObject()) {
      Napi::Object opt = options.As<Napi::Object>();
      if (opt.Get("spinUs").IsNumber()) o.spin_us = opt.Get("spinUs").As<Napi::Number>().Uint32Value();
      o.trace = opt.Get("trace").ToBoolean().Value();
      if (opt.Get("closingWaitMs").IsNumber()) o.closing_wait_ms = opt.Get("closingWaitMs").As<Napi::Number>().Int64Value();
      if (opt.Get("tickMs").IsNumber()) o.tick_ms = std::max<int64_t>(1, opt.Get("tickMs").As<Napi::Number>().Int64Value());
      if (opt.Get("onCorrupt").IsFunction()) on_corrupt = opt.Get("onCorrupt").As<Napi::Function>();
    }
    engine_ = std::make_shared<FifoEngine>(set_, table_, names_, doorbell_, o, mode == kNotifyFutex);
    if (!on_corrupt.IsEmpty()) {
      corrupt_tsfn_ = Napi::ThreadSafeFunction::New(env, on_corrupt, "intervmfs-corrupt", 0, 1);
      corrupt_tsfn_.Unref(env);
      Napi::ThreadSafeFunction tsfn = corrupt_tsfn_;
      engine_->on_corrupt = [tsfn](uint32_t slot, uint32_t generation, const char *during) mutable {
        struct Done {
          std::mutex mu;
          std::condition_variable cv;
          bool done = false;
        };
        auto done = std::make_shared<Done>();
        std::string what(during);
        napi_status st = tsfn.BlockingCall([slot, generation, what, done](Napi::Env, Napi::Function js) {
          js.Call({Napi::Number::New(js.Env(), slot), Napi::Number::New(js.Env(), generation), Napi::String::New(js.Env(), what)});
          std::lock_guard<std::mutex> g(done->mu);
          done->done = true;
          done->cv.notify_all();
        });
        if (st != napi_ok) return;
        std::unique_lock<std::mutex> lk(done->mu);
        done->cv.wait_for(lk, std::chrono::milliseconds(kStopWaitMs), [&] { return done->done; });
      };
    }
  }

  Napi::Value Detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!attached_ || !set_) return env.Undefined();
    stop_engine();
    engine_.reset();
    reset_own_counts();
    store_release(&header(env)->side[side_].attached, 0u);
    attached_ = false;
    table_->sweep();
    ring_peer();  // the peer's waiters re-check: our readers and writers are gone
    return env.Undefined();
  }

  Napi::Value Heartbeat(const Napi::CallbackInfo &info) {
    if (!attached_) return info.Env().Undefined();
    add_release(&header(info.Env())->side[side_].heartbeat, uint64_t(1));
    return info.Env().Undefined();
  }

  Napi::Value Sides(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, kSideCount);
    for (uint32_t i = 0; i < kSideCount; i++) {
      const SideState &s = header(env)->side[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("attached", load_acquire(&s.attached) == 1);
      o.Set("epoch", load_acquire(&s.epoch));
      o.Set("heartbeat", double(load_acquire(&s.heartbeat)));
      o.Set("pid", load_acquire(&s.pid));
      o.Set("notify", notify_name(load_acquire(&s.notify_mode)));
      o.Set("doorbellId", load_acquire(&s.doorbell_id));
      o.Set("mountedAtMs", double(load_acquire(&s.mounted_at_ms)));
      char host[sizeof(s.host) + 1] = {0};
      std::memcpy(host, s.host, sizeof(s.host));
      o.Set("host", std::string(host, strnlen(host, sizeof(s.host))));
      o.Set("bellsRung", double(load_acquire(&s.bells_rung)));
      out.Set(i, o);
    }
    return out;
  }

  // --- channel table ------------------------------------------------------
  Napi::Value TableVersion(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), double(load_acquire(&header(info.Env())->table_version)));
  }

  Napi::Value Channels(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    set(env);
    std::vector<ChannelInfo> list = table_->list();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) {
      const ChannelInfo &c = list[i];
      const ChannelEntry *e = set(env).entry(c.slot);
      Napi::Object o = Napi::Object::New(env);
      o.Set("slot", c.slot);
      o.Set("generation", c.generation);
      o.Set("state", c.state == kLive ? "live" : c.state == kUnlinked ? "unlinked" : "corrupt");
      o.Set("name", c.name);
      o.Set("mode", c.mode);
      o.Set("uid", c.uid);
      o.Set("gid", c.gid);
      o.Set("ctimeMs", double(c.ctime_ms));
      o.Set("atimeMs", double(c.atime_ms));
      o.Set("mtimeMs", double(c.mtime_ms));
      o.Set("corrupt", c.corrupt);
      if (c.corrupt) o.Set("why", c.why);
      Napi::Array open = Napi::Array::New(env, kSideCount);
      Napi::Array rings = Napi::Array::New(env, kSideCount);
      for (uint32_t d = 0; d < kSideCount; d++) {
        open.Set(d, load_acquire(&e->side_open[d]));
        const RingState &r = e->ring[d];
        Napi::Object ro = Napi::Object::New(env);
        ro.Set("head", double(load_acquire(&r.head)));
        ro.Set("tail", double(load_acquire(&r.tail)));
        ro.Set("writersOpen", load_acquire(&r.writers_open));
        ro.Set("readersOpen", load_acquire(&r.readers_open));
        ro.Set("writeOps", double(load_acquire(&r.write_ops)));
        ro.Set("readOps", double(load_acquire(&r.read_ops)));
        rings.Set(d, ro);
      }
      o.Set("sideOpen", open);
      o.Set("rings", rings);
      out.Set(i, o);
    }
    return out;
  }

  // lookupChannel(name) -> { slot, generation, name, mode, uid, gid, ctimeMs }
  // of the live channel of that name, or undefined. One hash probe between
  // table changes (name_index.h): getattr does not scan the table.
  Napi::Value LookupChannel(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    set(env);
    std::optional<ChannelInfo> c = names_->find(info[0].As<Napi::String>().Utf8Value());
    if (!c) return env.Undefined();
    Napi::Object o = Napi::Object::New(env);
    o.Set("slot", c->slot);
    o.Set("generation", c->generation);
    o.Set("name", c->name);
    o.Set("mode", c->mode);
    o.Set("uid", c->uid);
    o.Set("gid", c->gid);
    o.Set("ctimeMs", double(c->ctime_ms));
    o.Set("atimeMs", double(c->atime_ms));
    o.Set("mtimeMs", double(c->mtime_ms));
    return o;
  }

  Napi::Value CreateChannel(const Napi::CallbackInfo &info) {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    uint32_t mode = info[1].As<Napi::Number>().Uint32Value();
    uint32_t uid = info[2].As<Napi::Number>().Uint32Value();
    uint32_t gid = info[3].As<Napi::Number>().Uint32Value();
    uint64_t now = uint64_t(info[4].As<Napi::Number>().DoubleValue());
    auto *w = new TableWorker(info.Env(), [t = table_for_worker(info.Env()), name, mode, uid, gid, now] {
      return t.table->create(name, mode, uid, gid, now);
    });
    w->Queue();
    return w->promise();
  }

  // unlinkChannel(name, nowMs)
  Napi::Value UnlinkChannel(const Napi::CallbackInfo &info) {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    uint64_t now = info[1].IsNumber() ? uint64_t(info[1].As<Napi::Number>().DoubleValue()) : 0;
    auto *w = new TableWorker(info.Env(), [t = table_for_worker(info.Env()), name, now] { return t.table->unlink(name, now); });
    w->Queue();
    return w->promise();
  }

  // setChannelAttributes(name, { mode?, uid?, gid? }, nowMs): chmod and chown.
  Napi::Value SetChannelAttributes(const Napi::CallbackInfo &info) {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    Napi::Object o = info[1].As<Napi::Object>();
    AttributeChange change;
    if (o.Get("mode").IsNumber()) change.mode = o.Get("mode").As<Napi::Number>().Uint32Value();
    if (o.Get("uid").IsNumber()) change.uid = o.Get("uid").As<Napi::Number>().Uint32Value();
    if (o.Get("gid").IsNumber()) change.gid = o.Get("gid").As<Napi::Number>().Uint32Value();
    uint64_t now = uint64_t(info[2].As<Napi::Number>().DoubleValue());
    auto *w = new TableWorker(info.Env(), [t = table_for_worker(info.Env()), name, change, now] { return t.table->set_attributes(name, change, now); });
    w->Queue();
    return w->promise();
  }

  // tableChangedMs() -> when a channel was last made or removed (the directory's mtime)
  Napi::Value TableChangedMs(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), double(load_acquire(&header(info.Env())->table_changed_ms)));
  }

  Napi::Value Sweep(const Napi::CallbackInfo &info) {
    auto *w = new TableWorker(info.Env(), [t = table_for_worker(info.Env())] { return TableResult{t.table->sweep()}; });
    w->Queue();
    return w->promise();
  }

  // --- data path ------------------------------------------------------------
  // consume(slot, gen, buffer, length) -> bytes copied (0 when empty) or -EIO.
  // `buffer` is the FUSE request buffer itself: the bytes go from the ring
  // straight into it, with no copy through JavaScript.
  Napi::Value Consume(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ChannelEntry *e = entry_for(env, info[0], info[1]);
    if (!e) return Napi::Number::New(env, -EIO);
    Napi::Buffer<uint8_t> buf = info[2].As<Napi::Buffer<uint8_t>>();
    uint64_t len = std::min<uint64_t>(info[3].As<Napi::Number>().Int64Value(), buf.Length());
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    RingState &r = e->ring[peer()];
    int64_t n = ring_consume(ring(peer(), slot, e), buf.Data(), len);
    if (n < 0) return Napi::Number::New(env, -EIO);
    if (n > 0) {
      store_relaxed(&r.read_ops, load_relaxed(&r.read_ops) + 1);
      full_fence();
      wake_ring_waiters(set_->header()->side[peer()], load_relaxed(&r.producer_waiting), &r.producer_wake, doorbell_.get());
    }
    return Napi::Number::New(env, double(n));
  }

  // produce(slot, gen, buffer, length, minLength) -> bytes copied (0 when
  // fewer than minLength fit) or -EIO.
  Napi::Value Produce(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ChannelEntry *e = entry_for(env, info[0], info[1]);
    if (!e) return Napi::Number::New(env, -EIO);
    Napi::Buffer<uint8_t> buf = info[2].As<Napi::Buffer<uint8_t>>();
    uint64_t len = std::min<uint64_t>(info[3].As<Napi::Number>().Int64Value(), buf.Length());
    uint64_t min_len = info[4].As<Napi::Number>().Int64Value();
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    RingState &r = e->ring[side_];
    int64_t n = ring_produce(ring(side_, slot, e), buf.Data(), len, min_len);
    if (n < 0) return Napi::Number::New(env, -EIO);
    if (n > 0) {
      store_relaxed(&r.write_ops, load_relaxed(&r.write_ops) + 1);
      full_fence();
      wake_ring_waiters(set_->header()->side[peer()], load_relaxed(&r.consumer_waiting), &r.consumer_wake, doorbell_.get());
    }
    return Napi::Number::New(env, double(n));
  }

  // endpointState(slot, gen, out: Float64Array(9)) -> true, or false when the
  // slot no longer holds the channel or its indices are corrupt. Fills:
  // [inFill, writersOpen, writerOpens, eofMark, outSpace, readersOpen,
  //  readerOpens, epipeMark, peerAttached]. A typed array keeps this
  // allocation-free on the wait path.
  Napi::Value EndpointState(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ChannelEntry *e = entry_for(env, info[0], info[1]);
    if (!e) return Napi::Boolean::New(env, false);
    Napi::Float64Array out = info[2].As<Napi::Float64Array>();
    if (out.ElementLength() < 9) throw Napi::RangeError::New(env, "endpointState needs 9 slots");
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    const RingState &in = e->ring[peer()], &outr = e->ring[side_];
    // Open counts first, ring indices after: the peer publishes its last
    // bytes before it lowers its count, so with acquire loads in this order a
    // zero count is never paired with a fill level older than those bytes
    // (which would turn data still in flight into a false EOF).
    out[1] = load_acquire(&in.writers_open);
    out[2] = load_acquire(&in.writer_opens);
    out[3] = load_acquire(&in.eof_mark);
    out[5] = load_acquire(&outr.readers_open);
    out[6] = load_acquire(&outr.reader_opens);
    out[7] = load_acquire(&outr.epipe_mark);
    out[8] = load_acquire(&set_->header()->side[peer()].attached);
    int64_t in_fill = ring_fill(ring(peer(), slot, e));
    int64_t out_fill = ring_fill(ring(side_, slot, e));
    if (in_fill < 0 || out_fill < 0) return Napi::Boolean::New(env, false);
    out[0] = double(in_fill);
    out[4] = double(set_->geometry().ring_size - uint64_t(out_fill));
    return Napi::Boolean::New(env, true);
  }

  // adjustOpen(slot, gen, reading, writing, delta): this side's open counts.
  Napi::Value AdjustOpen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ChannelEntry *e = entry_for(env, info[0], info[1]);
    if (!e) return Napi::Boolean::New(env, false);
    bool reading = info[2].As<Napi::Boolean>(), writing = info[3].As<Napi::Boolean>();
    int delta = info[4].As<Napi::Number>().Int32Value();
    adjust_open_counts(e, side_, reading, writing, delta);
    move_channel_wake_words(header(env)->side[peer()], *e, side_);  // opens and closes decide the peer's EOF and EPIPE
    ring_peer();
    return Napi::Boolean::New(env, true);
  }

  // markEnd(slot, gen, eofMark, epipeMark): records, in this side's fields,
  // the open counters at which our readers saw EOF and our writers EPIPE, so
  // that later openers wait for a new peer instead of ending at once.
  Napi::Value MarkEnd(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ChannelEntry *e = entry_for(env, info[0], info[1]);
    if (!e) return Napi::Boolean::New(env, false);
    if (!info[2].IsUndefined()) store_release(&e->ring[peer()].eof_mark, info[2].As<Napi::Number>().Uint32Value());
    if (!info[3].IsUndefined()) store_release(&e->ring[side_].epipe_mark, info[3].As<Napi::Number>().Uint32Value());
    return Napi::Boolean::New(env, true);
  }

  // --- FIFO engine (native/engine) ---------------------------------------------
  // The daemon hands fuseHooks() to fuse-native, which then serves open,
  // read, write, release and poll from libfuse's threads. The engine* methods
  // below are the same engine for the unit tests: engineRead and engineWrite
  // run the request on a thread of their own, as libfuse would, and call back
  // with the result.

  // engineOpen(slot, generation, flags) or engineOpen(name, flags) -> handle or -errno
  Napi::Value EngineOpen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info[0].IsString()) return Napi::Number::New(env, double(engine(env).open_name(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value())));
    return Napi::Number::New(env, double(engine(env).open(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
                                                          info[2].As<Napi::Number>().Int32Value())));
  }

  Napi::Value EngineRelease(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env).release(uint64_t(info[0].As<Napi::Number>().Int64Value())));
  }

  Napi::Value EngineFlush(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env).flush(uint64_t(info[0].As<Napi::Number>().Int64Value())));
  }

  // engineRead(handle, buffer, length, flags, onDone(result)) -> request id
  Napi::Value EngineRead(const Napi::CallbackInfo &info) { return engine_call(info, false); }
  Napi::Value EngineWrite(const Napi::CallbackInfo &info) { return engine_call(info, true); }

  Napi::Value engine_call(const Napi::CallbackInfo &info, bool writing) {
    Napi::Env env = info.Env();
    std::shared_ptr<FifoEngine> eng = engine_;
    if (!eng) throw Napi::Error::New(env, "no FIFO engine: attach() first (or it was stopped)");
    uint64_t handle = uint64_t(info[0].As<Napi::Number>().Int64Value());
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    uint64_t len = std::min<uint64_t>(info[2].As<Napi::Number>().Int64Value(), buf.Length());
    int flags = info[3].As<Napi::Number>().Int32Value();
    uint64_t id = ++next_call_;
    auto interrupted = std::make_shared<std::atomic<bool>>(false);
    (*calls_)[id] = interrupted;
    std::shared_ptr<CallMap> calls = calls_;
    // The buffer stays referenced until the callback has run.
    auto *keep = new Napi::Reference<Napi::Buffer<uint8_t>>(Napi::Persistent(buf));
    auto tsfn = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "intervmfs-engine-call", 0, 1, keep,
                                              [](Napi::Env, Napi::Reference<Napi::Buffer<uint8_t>> *ref) { delete ref; });
    uint8_t *data = buf.Data();
    std::thread([eng, tsfn, interrupted, calls, id, handle, data, len, flags, writing]() mutable {
      Request req;
      req.interrupted = [interrupted] { return interrupted->load(); };
      req.flags = flags;
      int64_t r = writing ? eng->write(handle, data, len, req) : eng->read(handle, data, len, req);
      // The map is touched on the JavaScript thread only: here, and below.
      tsfn.BlockingCall([r, calls, id](Napi::Env env, Napi::Function js) {
        calls->erase(id);
        js.Call({Napi::Number::New(env, double(r))});
      });
      tsfn.Release();
    }).detach();
    return Napi::Number::New(env, double(id));
  }

  // engineInterrupt(id): the kernel's FUSE_INTERRUPT, for a test request.
  Napi::Value EngineInterrupt(const Napi::CallbackInfo &info) {
    uint64_t id = uint64_t(info[0].As<Napi::Number>().Int64Value());
    auto it = calls_->find(id);
    if (it != calls_->end()) {
      it->second->store(true);
      calls_->erase(it);
      if (engine_) engine_->wake_all();
    }
    return info.Env().Undefined();
  }

  // enginePoll(handle, arm) -> poll(2) event mask
  Napi::Value EnginePoll(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env).poll(uint64_t(info[0].As<Napi::Number>().Int64Value()), info[1].ToBoolean().Value()));
  }

  // engineState() -> { waiting, openFiles, stats } (status, tracing, tests)
  Napi::Value EngineState(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!engine_) return env.Null();
    o.Set("waiting", engine_->waiting());
    o.Set("openFiles", engine_->open_files());
    const EngineStats &st = engine_->stats();
    Napi::Object s = Napi::Object::New(env);
    s.Set("reads", double(st.reads.load()));
    s.Set("writes", double(st.writes.load()));
    s.Set("readBytes", double(st.read_bytes.load()));
    s.Set("writeBytes", double(st.write_bytes.load()));
    s.Set("waits", double(st.waits.load()));
    s.Set("waitNs", double(st.wait_ns.load()));
    s.Set("copyNs", double(st.copy_ns.load()));
    o.Set("stats", s);
    return o;
  }

  Napi::Value SetPeerDead(const Napi::CallbackInfo &info) {
    if (engine_) engine_->set_peer_dead(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  // fuseHooks() -> an external for fuse-native's `nativeHooks` mount option.
  Napi::Value FuseHooks(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!glue_) glue_ = FuseGlue::create(engine_ ? engine_ : throw Napi::Error::New(env, "no FIFO engine: attach() first"), table_);
    return Napi::External<struct fuse_native_hooks>::New(env, glue_->hooks());
  }

  // answerNextGetattrAsFifo(name): see FuseGlue::answer_next_getattr_as_fifo.
  Napi::Value AnswerNextGetattrAsFifo(const Napi::CallbackInfo &info) {
    if (glue_) glue_->answer_next_getattr_as_fifo(info[0].As<Napi::String>().Utf8Value());
    return info.Env().Undefined();
  }

  // fuseLoopEnded() -> whether the kernel connection of the mount has ended
  Napi::Value FuseLoopEnded(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), glue_ && glue_->loop_ended()); }

  // stopEngine() -> requests still inside the engine after a 1 s wait (0 normally)
  Napi::Value StopEngine(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), stop_engine()); }

  // --- notifier ---------------------------------------------------------------
  // openDoorbell(bar0Path) or openDoorbell(vfioGroupPath, bdf) -> our
  // ivshmem peer id. The first opens the registers for ringing only (a poll
  // side ringing a doorbell peer); the second also for waiting, through VFIO.
  // useDoorbellHub(hub.handle()): this set rings and (notify doorbell) sleeps
  // through the device an area mount opened once for all its sets.
  Napi::Value UseDoorbellHub(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (notifier_ || attached_) throw Napi::Error::New(env, "useDoorbellHub before attach");
    hub_ = doorbell_hub_arg(info[0]);
    doorbell_ = hub_->doorbell();
    return env.Undefined();
  }

  Napi::Value OpenDoorbell(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (notifier_) throw Napi::Error::New(env, "openDoorbell after startNotifier");
    try {
      std::string first = info[0].As<Napi::String>().Utf8Value();
      doorbell_.reset(info.Length() > 1 ? Doorbell::vfio(first, info[1].As<Napi::String>().Utf8Value()) : Doorbell::ring_only(first));
    } catch (const SetError &e) {
      throw set_error(env, e);
    }
    return Napi::Number::New(env, doorbell_->own_id());
  }

  // testDoorbell(timeoutMs) -> whether ringing our own id raised our
  // interrupt. A device without a doorbell server (ivshmem-plain, or a
  // server that never answered) ignores the ring. Blocks up to timeoutMs;
  // called once at mount, before the notifier starts.
  Napi::Value TestDoorbell(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!doorbell_ || !doorbell_->can_wait() || notifier_) throw Napi::Error::New(env, "testDoorbell needs an open doorbell device and no notifier");
    int timeout_ms = info[0].As<Napi::Number>().Int32Value();
    doorbell_->ring(doorbell_->own_id());
    return Napi::Boolean::New(env, doorbell_->wait(timeout_ms));
  }

  Napi::Value StartNotifier(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (notifier_) throw Napi::Error::New(env, "notifier already running");
    NotifyMode mode = notify_mode_arg(env, info[0]);
    // The engine hears every ring on this thread (no JavaScript involved);
    // an optional JavaScript callback (tests, tracing) hears them too.
    std::shared_ptr<FifoEngine> engine = engine_;
    std::function<void()> to_js;
    if (info[1].IsFunction()) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "intervmfs-notifier", 0, 1);
      queued_ = std::make_shared<std::atomic<bool>>(false);
      auto queued = queued_;
      Napi::ThreadSafeFunction tsfn = tsfn_;
      to_js = [tsfn, queued]() mutable {
        // One callback in flight at a time: further rings before it runs add nothing.
        if (queued->exchange(true)) return;
        tsfn.NonBlockingCall([queued](Napi::Env, Napi::Function js) {
          queued->store(false);
          js.Call({});
        });
      };
    }
    notifier_ = std::make_unique<Notifier>(
        header(env)->side[side_], mode, doorbell_.get(),
        [engine, to_js]() {
          if (engine) engine->peer_rang();
          if (to_js) to_js();
        },
        hub_);
    return env.Undefined();
  }

  Napi::Value StopNotifier(const Napi::CallbackInfo &info) {
    shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    shutdown();
    stop_engine();
    engine_.reset();
    doorbell_.reset();
    hub_.reset();
    names_.reset();
    table_.reset();
    set_.reset();
    return info.Env().Undefined();
  }

  // Shared so that a table operation running on a worker thread keeps the
  // mapping alive when JavaScript closes or re-attaches meanwhile.
  std::shared_ptr<MemsectionSet> set_;
  std::shared_ptr<ChannelTable> table_;
  std::shared_ptr<NameIndex> names_;
  // Declared before notifier_: the notifier thread uses it, so it must be
  // destroyed after the notifier (members are destroyed in reverse order).
  std::shared_ptr<Doorbell> doorbell_;
  std::shared_ptr<DoorbellHub> hub_;  // an area mount's device, shared by its sets
  std::unique_ptr<Notifier> notifier_;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<std::atomic<bool>> queued_;
  std::shared_ptr<FifoEngine> engine_;
  FuseGlue *glue_ = nullptr;  // never freed (fuse_glue.h); one per engine
  Napi::ThreadSafeFunction corrupt_tsfn_;
  uint64_t next_call_ = 0;
  // Test requests in flight, by id: their interrupt flags.
  using CallMap = std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>>;
  std::shared_ptr<CallMap> calls_ = std::make_shared<CallMap>();
  uint32_t side_ = 0;
  uint32_t epoch_ = 0;
  bool attached_ = false;
};

// format(paths, capacity, force) -> geometry
Napi::Value Format(const Napi::CallbackInfo &info) {
  try {
    return geometry_object(info.Env(), MemsectionSet::format(string_array(info[0]), info[1].As<Napi::Number>().Uint32Value(),
                                                             info[2].As<Napi::Boolean>().Value()));
  } catch (const SetError &e) {
    throw set_error(info.Env(), e);
  }
}

// planFiles(capacity, dataSize) / planRegion(capacity, regionSize) -> geometry
Napi::Value PlanFiles(const Napi::CallbackInfo &info) {
  try {
    return geometry_object(info.Env(), MemsectionSet::plan_files(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value()));
  } catch (const SetError &e) {
    throw set_error(info.Env(), e);
  }
}
Napi::Value PlanRegion(const Napi::CallbackInfo &info) {
  try {
    return geometry_object(info.Env(), MemsectionSet::plan_region(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value()));
  } catch (const SetError &e) {
    throw set_error(info.Env(), e);
  }
}

Napi::Value CheckName(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), ChannelTable::check_name(info[0].As<Napi::String>().Utf8Value()));
}

}  // namespace
}  // namespace ivfs

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ivfs;
  exports.Set("Memsections", Memsections::Define(env));
  exports.Set("DoorbellServer", define_doorbell_server(env));
  exports.Set("AreaRegistry", define_area_registry(env));
  exports.Set("AreaRouter", define_area_router(env));
  exports.Set("DoorbellHub", define_doorbell_hub(env));
  exports.Set("format", Napi::Function::New(env, Format));
  exports.Set("planFiles", Napi::Function::New(env, PlanFiles));
  exports.Set("planRegion", Napi::Function::New(env, PlanRegion));
  exports.Set("checkName", Napi::Function::New(env, CheckName));
  Napi::Object c = Napi::Object::New(env);
  c.Set("layoutVersion", kLayoutVersion);
  c.Set("nameMax", kNameMax);
  c.Set("pipeBuf", kPipeBuf);
  c.Set("minRingSize", kMinRingSize);
  c.Set("maxChannels", kMaxChannels);
  exports.Set("constants", c);
  // Field offsets, for the tests that scribble on a control memsection and
  // for `intervmfs check`: nobody outside this addon hard-codes an offset.
  Napi::Object l = Napi::Object::New(env);
  l.Set("tableOffset", double(kTableOffset));
  l.Set("entrySize", double(sizeof(ChannelEntry)));
  l.Set("magic", double(offsetof(ControlHeader, magic)));
  l.Set("layoutVersion", double(offsetof(ControlHeader, layout_version)));
  l.Set("channelCapacity", double(offsetof(ControlHeader, channel_capacity)));
  l.Set("headerCheck", double(offsetof(ControlHeader, header_check)));
  l.Set("tableLock", double(offsetof(ControlHeader, table_lock)));
  l.Set("sideState", double(offsetof(ControlHeader, side)));
  l.Set("sideStateSize", double(sizeof(SideState)));
  l.Set("sideAttached", double(offsetof(SideState, attached)));
  l.Set("sideEpoch", double(offsetof(SideState, epoch)));
  l.Set("sideHeartbeat", double(offsetof(SideState, heartbeat)));
  l.Set("sideNotifyMode", double(offsetof(SideState, notify_mode)));
  l.Set("sideDoorbellId", double(offsetof(SideState, doorbell_id)));
  l.Set("entryState", double(offsetof(ChannelEntry, state)));
  l.Set("entryGeneration", double(offsetof(ChannelEntry, generation)));
  l.Set("entryName", double(offsetof(ChannelEntry, name)));
  l.Set("entrySideOpen", double(offsetof(ChannelEntry, side_open)));
  l.Set("entryRing", double(offsetof(ChannelEntry, ring)));
  l.Set("ringStateSize", double(sizeof(RingState)));
  l.Set("ringHead", double(offsetof(RingState, head)));
  l.Set("ringTail", double(offsetof(RingState, tail)));
  l.Set("ringWritersOpen", double(offsetof(RingState, writers_open)));
  l.Set("ringReadersOpen", double(offsetof(RingState, readers_open)));
  export_area_layout(env, c, l);
  exports.Set("layout", l);
  return exports;
}

NODE_API_MODULE(intervmfs, Init)
