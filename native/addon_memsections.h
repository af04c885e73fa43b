// The addon's Memsections class: one mapped memsection set and the side a
// daemon serves on it (side.h). It only turns JavaScript values into Side
// calls and back; what each call does is said in side.h. Its methods are
// split by surface:
//   addon_memsections.cc  the side: attach, notifier, doorbell, engine hooks
//   addon_table.cc        the channel table: list, lookup, mknod, unlink, chmod
// What crosses the threads: table operations take the cross-peer lock, so
// they run on a libuv worker and resolve a Promise; the notifier and the
// engine's corruption report reach JavaScript through thread-safe functions.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "addon_errors.h"
#include "side.h"

namespace ivfs {

class Memsections : public Napi::ObjectWrap<Memsections> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The side behind a Memsections object (a TypeError for anything else).
  static std::shared_ptr<Side> side_arg(const Napi::CallbackInfo &info, size_t i);

  explicit Memsections(const Napi::CallbackInfo &info);
  ~Memsections() override;

 private:
  Side &side(Napi::Env env);
  void release_callbacks();

  // --- the side (addon_memsections.cc) ---
  Napi::Value Geometry_(const Napi::CallbackInfo &info);
  Napi::Value Attach(const Napi::CallbackInfo &info);
  Napi::Value Detach(const Napi::CallbackInfo &info);
  Napi::Value Heartbeat(const Napi::CallbackInfo &info);
  Napi::Value Sides(const Napi::CallbackInfo &info);
  Napi::Value SetPeerDead(const Napi::CallbackInfo &info);
  Napi::Value OpenDoorbell(const Napi::CallbackInfo &info);
  Napi::Value OpenPort(const Napi::CallbackInfo &info);
  Napi::Value PortState(const Napi::CallbackInfo &info);
  Napi::Value UseDoorbellHub(const Napi::CallbackInfo &info);
  Napi::Value TestDoorbell(const Napi::CallbackInfo &info);
  Napi::Value StartNotifier(const Napi::CallbackInfo &info);
  Napi::Value StopNotifier(const Napi::CallbackInfo &info);
  Napi::Value FuseHooks(const Napi::CallbackInfo &info);
  Napi::Value FuseLoopEnded(const Napi::CallbackInfo &info);
  Napi::Value AnswerNextGetattrAsFifo(const Napi::CallbackInfo &info);
  Napi::Value EngineState(const Napi::CallbackInfo &info);
  Napi::Value StopEngine(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);

  // --- the channel table (addon_table.cc) ---
  Napi::Value TableVersion(const Napi::CallbackInfo &info);
  Napi::Value TableChangedMs(const Napi::CallbackInfo &info);
  Napi::Value Channels(const Napi::CallbackInfo &info);
  Napi::Value LookupChannel(const Napi::CallbackInfo &info);
  Napi::Value CreateChannel(const Napi::CallbackInfo &info);
  Napi::Value UnlinkChannel(const Napi::CallbackInfo &info);
  Napi::Value SetChannelAttributes(const Napi::CallbackInfo &info);

  // Shared: the test harness (addon_engine_harness.cc) holds it too.
  std::shared_ptr<Side> side_;
  Napi::ThreadSafeFunction notifier_tsfn_;  // startNotifier's callback
  Napi::ThreadSafeFunction corrupt_tsfn_;   // attach's onCorrupt
};

// A geometry as JavaScript sees it (Memsections.geometry(), format, plan*).
Napi::Object geometry_object(Napi::Env env, const Geometry &g);

// Runs `f`, turning the native side's exceptions into JavaScript errors: a
// SetError into an Error with an EIVFS_ code, a SideUsage into an Error.
template <class F>
auto napi_guard(Napi::Env env, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const SetError &e) {
    throw set_error(env, e);
  } catch (const SideUsage &e) {
    throw Napi::Error::New(env, e.what());
  }
}

// The side's engine now (attach makes a new one); an Error before attach or
// after it stopped.
inline std::shared_ptr<FifoEngine> side_engine(Napi::Env env, const Side &side) {
  return napi_guard(env, [&] { return side.require_engine(); });
}

}  // namespace ivfs
