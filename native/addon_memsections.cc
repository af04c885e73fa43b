// Memsections, the side's surface: construction, attach and detach, the
// notifier, the doorbell and the engine's hooks (addon_memsections.h).
#include "addon_memsections.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "addon_areas.h"
#include "addon_args.h"
#include "addon_coalesced.h"
#include "timing.h"

namespace ivfs {
namespace {

// Tags a Memsections object, so that side_arg never unwraps anything else.
constexpr napi_type_tag kMemsectionsTag = {0x6976666d656d7365ull, 0x6374696f6e732d31ull};

NotifyMode notify_mode(const Napi::CallbackInfo &info, size_t i) {
  std::string name = args::string(info, i, "notify");
  if (name == "futex") return kNotifyFutex;
  if (name == "poll") return kNotifyPoll;
  if (name == "doorbell") return kNotifyDoorbell;
  throw Napi::RangeError::New(info.Env(), "unknown notifier " + name + " (futex, poll or doorbell)");
}

const char *notify_name(uint32_t mode) {
  return mode == kNotifyFutex ? "futex" : mode == kNotifyDoorbell ? "doorbell" : mode == kNotifyPoll ? "poll" : "unknown";
}

// onCorrupt runs on the JavaScript thread; the request that found the damage
// waits (up to kStopWaitMs) until it has run, so the reason is in the log
// before the program sees EIO.
std::function<void(uint32_t, uint32_t, const char *)> corrupt_reporter(Napi::ThreadSafeFunction tsfn) {
  return [tsfn](uint32_t slot, uint32_t generation, const char *during) mutable {
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

}  // namespace

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

Napi::Function Memsections::Define(Napi::Env env) {
  return DefineClass(env, "Memsections",
                     {
                         InstanceMethod("geometry", &Memsections::Geometry_),
                         InstanceMethod("attach", &Memsections::Attach),
                         InstanceMethod("detach", &Memsections::Detach),
                         InstanceMethod("heartbeat", &Memsections::Heartbeat),
                         InstanceMethod("sides", &Memsections::Sides),
                         InstanceMethod("setPeerDead", &Memsections::SetPeerDead),
                         InstanceMethod("openDoorbell", &Memsections::OpenDoorbell),
                         InstanceMethod("openPort", &Memsections::OpenPort),
                         InstanceMethod("portState", &Memsections::PortState),
                         InstanceMethod("useDoorbellHub", &Memsections::UseDoorbellHub),
                         InstanceMethod("testDoorbell", &Memsections::TestDoorbell),
                         InstanceMethod("startNotifier", &Memsections::StartNotifier),
                         InstanceMethod("stopNotifier", &Memsections::StopNotifier),
                         InstanceMethod("fuseHooks", &Memsections::FuseHooks),
                         InstanceMethod("fuseLoopEnded", &Memsections::FuseLoopEnded),
                         InstanceMethod("answerNextGetattrAsFifo", &Memsections::AnswerNextGetattrAsFifo),
                         InstanceMethod("engineState", &Memsections::EngineState),
                         InstanceMethod("stopEngine", &Memsections::StopEngine),
                         InstanceMethod("close", &Memsections::Close),
                         InstanceMethod("tableVersion", &Memsections::TableVersion),
                         InstanceMethod("tableChangedMs", &Memsections::TableChangedMs),
                         InstanceMethod("channels", &Memsections::Channels),
                         InstanceMethod("lookupChannel", &Memsections::LookupChannel),
                         InstanceMethod("createChannel", &Memsections::CreateChannel),
                         InstanceMethod("unlinkChannel", &Memsections::UnlinkChannel),
                         InstanceMethod("setChannelAttributes", &Memsections::SetChannelAttributes),
                     });
}

// Memsections(paths[, windowOffset, windowLength]), or
// Memsections(registry.region(), offset, length): a pair's set in an area region.
Memsections::Memsections(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Memsections>(info) {
  Napi::Env env = info.Env();
  uint64_t offset = info[1].IsUndefined() ? 0 : args::uint53(info, 1, "offset");
  uint64_t length = info[2].IsUndefined() ? 0 : args::uint53(info, 2, "length");
  std::shared_ptr<MemsectionSet> set = napi_guard(env, [&] {
    if (info[0].IsExternal()) return std::make_shared<MemsectionSet>(shared_region_arg(info[0]), offset, length);
    return std::make_shared<MemsectionSet>(args::strings(info, 0, "paths"), offset, length);
  });
  side_ = std::make_shared<Side>(std::move(set));
  info.This().As<Napi::Object>().TypeTag(&kMemsectionsTag);
}

Memsections::~Memsections() {
  if (side_) side_->close();
  release_callbacks();
}

std::shared_ptr<Side> Memsections::side_arg(const Napi::CallbackInfo &info, size_t i) {
  if (!info[i].IsObject() || !info[i].As<Napi::Object>().CheckTypeTag(&kMemsectionsTag)) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + " must be a Memsections");
  }
  return Unwrap(info[i].As<Napi::Object>())->side_;
}

Side &Memsections::side(Napi::Env env) {
  if (!side_) throw Napi::Error::New(env, "memsection set is closed");
  return *side_;
}

void Memsections::release_callbacks() {
  if (notifier_tsfn_) notifier_tsfn_.Release();
  notifier_tsfn_ = Napi::ThreadSafeFunction();
  if (corrupt_tsfn_) corrupt_tsfn_.Release();
  corrupt_tsfn_ = Napi::ThreadSafeFunction();
}

Napi::Value Memsections::Geometry_(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  return geometry_object(env, napi_guard(env, [&] { return side(env).geometry(); }));
}

// attach(side, notify, pid, host, nowMs[, { spinUs, trace, closingWaitMs,
// tickMs, onCorrupt(slot, generation, during) }]) -> epoch
Napi::Value Memsections::Attach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  SideClaim c;
  c.side = args::uint32(info, 0, "side");
  if (c.side >= kSideCount) throw Napi::RangeError::New(env, "side must be 0 (a) or 1 (b)");
  c.notify = notify_mode(info, 1);
  c.pid = args::uint32(info, 2, "pid");
  c.host = args::string(info, 3, "host");
  c.mounted_at_ms = args::uint53(info, 4, "nowMs");
  if (!info[5].IsUndefined()) {
    Napi::Object o = args::object(info, 5, "engine options");
    c.engine.spin_us = uint32_t(args::option_number(info, o, "spinUs", c.engine.spin_us));
    c.engine.trace = o.Get("trace").ToBoolean().Value();
    c.engine.closing_wait_ms = long(args::option_number(info, o, "closingWaitMs", double(c.engine.closing_wait_ms)));
    c.engine.tick_ms = std::max(1L, long(args::option_number(info, o, "tickMs", double(c.engine.tick_ms))));
    if (o.Get("onCorrupt").IsFunction()) {
      if (corrupt_tsfn_) corrupt_tsfn_.Release();
      corrupt_tsfn_ = Napi::ThreadSafeFunction::New(env, o.Get("onCorrupt").As<Napi::Function>(), "intervmfs-corrupt", 0, 1);
      corrupt_tsfn_.Unref(env);
      c.on_corrupt = corrupt_reporter(corrupt_tsfn_);
    }
  }
  return Napi::Number::New(env, napi_guard(env, [&] { return side(env).attach(std::move(c)); }));
}

Napi::Value Memsections::Detach(const Napi::CallbackInfo &info) {
  if (side_) side_->detach();
  release_callbacks();
  return info.Env().Undefined();
}

Napi::Value Memsections::Heartbeat(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  napi_guard(env, [&] { side(env).heartbeat(); });
  return env.Undefined();
}

Napi::Value Memsections::Sides(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto sides = napi_guard(env, [&] { return side(env).sides(); });
  Napi::Array out = Napi::Array::New(env, kSideCount);
  for (uint32_t i = 0; i < kSideCount; i++) {
    const SideSnapshot &s = sides[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("attached", s.attached);
    o.Set("epoch", s.epoch);
    o.Set("heartbeat", double(s.heartbeat));
    o.Set("pid", s.pid);
    o.Set("notify", notify_name(s.notify_mode));
    o.Set("doorbellId", s.doorbell_id);
    o.Set("mountedAtMs", double(s.mounted_at_ms));
    o.Set("host", s.host);
    o.Set("bellsRung", double(s.bells_rung));
    out.Set(i, o);
  }
  return out;
}

Napi::Value Memsections::SetPeerDead(const Napi::CallbackInfo &info) {
  side(info.Env()).set_peer_dead(args::boolean(info, 0, "dead"));
  return info.Env().Undefined();
}

// openDoorbell(bar0Path) or openDoorbell(vfioGroupPath, bdf) -> our ivshmem
// peer id: ringing only, or ringing and waiting through VFIO.
Napi::Value Memsections::OpenDoorbell(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string first = args::string(info, 0, "path");
  uint32_t id = napi_guard(env, [&] {
    return info.Length() > 1 ? side(env).open_doorbell(first, args::string(info, 1, "bdf")) : side(env).open_doorbell(first);
  });
  return Napi::Number::New(env, id);
}

// openPort(link): the set is a private copy kept in step over the link.
Napi::Value Memsections::OpenPort(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string link = args::string(info, 0, "link");
  napi_guard(env, [&] { side(env).open_port(link); });
  return env.Undefined();
}

// portState() -> { state, lastError, framesIn, bytesIn, bytesOut }
Napi::Value Memsections::PortState(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  port::PortState s = napi_guard(env, [&] { return side(env).port_state(); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", s.state);
  o.Set("lastError", s.last_error);
  o.Set("framesIn", double(s.frames_in));
  o.Set("bytesIn", double(s.bytes_in));
  o.Set("bytesOut", double(s.bytes_out));
  return o;
}

// useDoorbellHub(hub.handle()): ring and sleep through an area mount's device.
Napi::Value Memsections::UseDoorbellHub(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::shared_ptr<DoorbellHub> hub = doorbell_hub_arg(info[0]);
  napi_guard(env, [&] { side(env).use_hub(std::move(hub)); });
  return env.Undefined();
}

// testDoorbell(timeoutMs) -> whether ringing our own id raised our interrupt.
Napi::Value Memsections::TestDoorbell(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int timeout_ms = args::int32(info, 0, "timeoutMs");
  return Napi::Boolean::New(env, napi_guard(env, [&] { return side(env).test_doorbell(timeout_ms); }));
}

// startNotifier([onRing]): the notifier of the attach's mode. onRing (tests,
// tracing) runs on the JavaScript thread; rings that come while one call is
// queued add nothing.
Napi::Value Memsections::StartNotifier(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::function<void()> to_js;
  Napi::ThreadSafeFunction tsfn;
  if (!info[0].IsUndefined()) {
    tsfn = Napi::ThreadSafeFunction::New(env, args::function(info, 0, "onRing"), "intervmfs-notifier", 0, 1);
    to_js = coalesced_call(tsfn);
  }
  try {
    napi_guard(env, [&] { side(env).start_notifier(std::move(to_js)); });
  } catch (...) {
    if (tsfn) tsfn.Release();
    throw;
  }
  if (notifier_tsfn_) notifier_tsfn_.Release();
  notifier_tsfn_ = tsfn;
  return env.Undefined();
}

Napi::Value Memsections::StopNotifier(const Napi::CallbackInfo &info) {
  if (side_) side_->stop_notifier();
  if (notifier_tsfn_) notifier_tsfn_.Release();
  notifier_tsfn_ = Napi::ThreadSafeFunction();
  return info.Env().Undefined();
}

// fuseHooks() -> an external for fuse-native's `nativeHooks` mount option.
Napi::Value Memsections::FuseHooks(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  return hooks_handle(env, napi_guard(env, [&] { return side(env).fuse_hooks(); }));
}

// fuseLoopEnded() -> whether the kernel connection of the mount has ended
Napi::Value Memsections::FuseLoopEnded(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), side_ && side_->fuse_loop_ended());
}

// answerNextGetattrAsFifo(name): see FuseGlue::answer_next_getattr_as_fifo.
Napi::Value Memsections::AnswerNextGetattrAsFifo(const Napi::CallbackInfo &info) {
  side(info.Env()).answer_next_getattr_as_fifo(args::string(info, 0, "name"));
  return info.Env().Undefined();
}

// engineState() -> { waiting, openFiles, notifierParked, stats }, or null without an engine
Napi::Value Memsections::EngineState(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<FifoEngine> engine = side_ ? side_->engine() : nullptr;
  if (!engine) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("waiting", engine->waiting());
  o.Set("openFiles", engine->open_files());
  o.Set("notifierParked", engine->interest()->parked());
  const EngineStats &st = engine->stats();
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

// stopEngine() -> requests still inside the engine after a 1 s wait (0 normally)
Napi::Value Memsections::StopEngine(const Napi::CallbackInfo &info) {
  int left = side_ ? side_->stop_engine() : 0;
  if (corrupt_tsfn_) corrupt_tsfn_.Release();
  corrupt_tsfn_ = Napi::ThreadSafeFunction();
  return Napi::Number::New(info.Env(), left);
}

Napi::Value Memsections::Close(const Napi::CallbackInfo &info) {
  if (side_) side_->close();
  release_callbacks();
  return info.Env().Undefined();
}

}  // namespace ivfs
