// N-API surface of the library's channels (src/lib): a Memsections' FIFO
// engine called on the JavaScript thread, which it never keeps waiting.
//   new SideChannels(memsections, onReady)
//   .open(name, flags) -> handle (> 0) or -errno
//   .read(handle, buffer, length) .write(handle, buffer, length)
//        -> a count, 0 (end of file) or -errno; -EAGAIN: not now
//   .poll(handle, arm) -> poll(2) events   .disarm(handle)
//   .flush(handle) .release(handle) -> 0 or -errno   .close()
// Every read and write is a Request with caller_waits (fifo_engine.h): where
// a blocking request would sleep the engine answers -EAGAIN at once, and the
// program waits in its event loop: poll(handle, true), then onReady.
// onReady runs on the JavaScript thread through one thread-safe function for
// the side, one call queued at a time (addon_coalesced.h), whenever the
// engine's readiness may have changed. It never holds the event loop open:
// the library does that itself while one of its streams waits.
// No on_corrupt here: the addon's reporter waits for the JavaScript thread,
// which is the one calling; the engine answers EIO anyway.
#include <napi.h>

#include <memory>

#include "addon_args.h"
#include "addon_channels.h"
#include "addon_coalesced.h"
#include "addon_memsections.h"

namespace ivfs {
namespace {

class SideChannels : public Napi::ObjectWrap<SideChannels> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SideChannels",
                       {
                           InstanceMethod("open", &SideChannels::Open),
                           InstanceMethod("read", &SideChannels::Read),
                           InstanceMethod("write", &SideChannels::Write),
                           InstanceMethod("poll", &SideChannels::Poll),
                           InstanceMethod("disarm", &SideChannels::Disarm),
                           InstanceMethod("flush", &SideChannels::Flush),
                           InstanceMethod("release", &SideChannels::Release),
                           InstanceMethod("close", &SideChannels::CloseJs),
                       });
  }

  explicit SideChannels(const Napi::CallbackInfo &info) : Napi::ObjectWrap<SideChannels>(info), side_(Memsections::side_arg(info, 0)) {
    Napi::Env env = info.Env();
    tsfn_ = Napi::ThreadSafeFunction::New(env, args::function(info, 1, "onReady"), "intervmfs-channels", 0, 1);
    tsfn_.Unref(env);
    try {
      napi_guard(env, [&] { side_->set_readiness_listener(coalesced_call(tsfn_)); });
    } catch (...) {
      tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
      throw;
    }
  }
  ~SideChannels() override { Close(); }

 private:
  std::shared_ptr<FifoEngine> engine(Napi::Env env) { return side_engine(env, *side_); }

  uint64_t handle(const Napi::CallbackInfo &info) { return args::uint53(info, 0, "handle"); }

  // open(name, flags): the flags of open(2) (O_RDONLY, O_WRONLY, O_RDWR).
  Napi::Value Open(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = args::string(info, 0, "name");
    int flags = args::int32(info, 1, "flags");
    return Napi::Number::New(env, double(engine(env)->open_name(name, flags)));
  }

  Napi::Value Read(const Napi::CallbackInfo &info) { return transfer(info, false); }
  Napi::Value Write(const Napi::CallbackInfo &info) { return transfer(info, true); }

  Napi::Value transfer(const Napi::CallbackInfo &info, bool writing) {
    Napi::Env env = info.Env();
    uint64_t h = handle(info);
    Napi::Buffer<uint8_t> buf = args::buffer(info, 1, "buffer");
    uint64_t len = args::uint53(info, 2, "length");
    if (len > buf.Length()) throw Napi::RangeError::New(env, "length (argument 3) is beyond the buffer's end");
    Request req;
    req.caller_waits = true;
    std::shared_ptr<FifoEngine> e = engine(env);
    int64_t r = writing ? e->write(h, buf.Data(), len, req) : e->read(h, buf.Data(), len, req);
    return Napi::Number::New(env, double(r));
  }

  Napi::Value Poll(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env)->poll(handle(info), args::boolean(info, 1, "arm")));
  }

  Napi::Value Disarm(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    engine(env)->disarm(handle(info));
    return env.Undefined();
  }

  Napi::Value Flush(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env)->flush(handle(info)));
  }

  Napi::Value Release(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, engine(env)->release(handle(info)));
  }

  // The listener goes first: once it is cleared nobody calls the function.
  void Close() {
    if (!tsfn_) return;
    side_->set_readiness_listener(nullptr);
    tsfn_.Release();
    tsfn_ = Napi::ThreadSafeFunction();
  }

  Napi::Value CloseJs(const Napi::CallbackInfo &info) {
    Close();
    return info.Env().Undefined();
  }

  std::shared_ptr<Side> side_;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace

Napi::Function define_side_channels(Napi::Env env) { return SideChannels::Define(env); }

}  // namespace ivfs
