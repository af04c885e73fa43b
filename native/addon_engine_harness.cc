// Test build only (the intervmfs_test addon, binding.gyp): the FIFO engine of
// a Memsections' side driven from JavaScript as libfuse drives it, for the
// unit tests (test/unit/engine-side.ts). Each read or write runs on a thread
// of its own and may sleep there; interrupt(id) plays FUSE_INTERRUPT.
//   new EngineHarness(memsections)
//   .open(slot, generation, flags) | .open(name, flags) -> handle or -errno
//   .release(handle) .flush(handle) -> 0 or -errno
//   .read(handle, buffer, length, flags, onDone(result)) -> request id
//   .write(handle, buffer, length, flags, onDone(result)) -> request id
//   .interrupt(id)   .poll(handle, arm) -> poll(2) events
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <unordered_map>

#include "addon_args.h"
#include "addon_engine_harness.h"
#include "addon_memsections.h"

namespace ivfs {
namespace {

class EngineHarness : public Napi::ObjectWrap<EngineHarness> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "EngineHarness",
                       {
                           InstanceMethod("open", &EngineHarness::Open),
                           InstanceMethod("release", &EngineHarness::Release),
                           InstanceMethod("flush", &EngineHarness::Flush),
                           InstanceMethod("read", &EngineHarness::Read),
                           InstanceMethod("write", &EngineHarness::Write),
                           InstanceMethod("interrupt", &EngineHarness::Interrupt),
                           InstanceMethod("poll", &EngineHarness::Poll),
                       });
  }

  explicit EngineHarness(const Napi::CallbackInfo &info) : Napi::ObjectWrap<EngineHarness>(info), side_(Memsections::side_arg(info, 0)) {}

 private:
  std::shared_ptr<FifoEngine> engine(Napi::Env env) { return side_engine(env, *side_); }

  Napi::Value Open(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info[0].IsString()) return Napi::Number::New(env, double(engine(env)->open_name(args::string(info, 0, "name"), args::int32(info, 1, "flags"))));
    return Napi::Number::New(env, double(engine(env)->open(args::uint32(info, 0, "slot"), args::uint32(info, 1, "generation"), args::int32(info, 2, "flags"))));
  }

  Napi::Value Release(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), engine(info.Env())->release(args::uint53(info, 0, "handle")));
  }

  Napi::Value Flush(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), engine(info.Env())->flush(args::uint53(info, 0, "handle")));
  }

  Napi::Value Read(const Napi::CallbackInfo &info) { return call(info, false); }
  Napi::Value Write(const Napi::CallbackInfo &info) { return call(info, true); }

  Napi::Value call(const Napi::CallbackInfo &info, bool writing) {
    Napi::Env env = info.Env();
    std::shared_ptr<FifoEngine> eng = engine(env);
    uint64_t handle = args::uint53(info, 0, "handle");
    Napi::Buffer<uint8_t> buf = args::buffer(info, 1, "buffer");
    uint64_t len = std::min<uint64_t>(args::uint53(info, 2, "length"), buf.Length());
    int flags = args::int32(info, 3, "flags");
    Napi::Function on_done = args::function(info, 4, "onDone");
    uint64_t id = ++next_call_;
    auto interrupted = std::make_shared<std::atomic<bool>>(false);
    (*calls_)[id] = interrupted;
    std::shared_ptr<CallMap> calls = calls_;
    // The buffer stays referenced until the callback has run.
    auto *keep = new Napi::Reference<Napi::Buffer<uint8_t>>(Napi::Persistent(buf));
    auto tsfn = Napi::ThreadSafeFunction::New(env, on_done, "intervmfs-engine-call", 0, 1, keep,
                                              [](Napi::Env, Napi::Reference<Napi::Buffer<uint8_t>> *ref) { delete ref; });
    uint8_t *data = buf.Data();
    std::thread([eng, tsfn, interrupted, calls, id, handle, data, len, flags, writing]() mutable {
      Request req;
      req.interrupted = [interrupted] { return interrupted->load(); };
      req.flags = flags;
      int64_t r = writing ? eng->write(handle, data, len, req) : eng->read(handle, data, len, req);
      // The map is touched on the JavaScript thread only: here, and in Interrupt.
      tsfn.BlockingCall([r, calls, id](Napi::Env env, Napi::Function js) {
        calls->erase(id);
        js.Call({Napi::Number::New(env, double(r))});
      });
      tsfn.Release();
    }).detach();
    return Napi::Number::New(env, double(id));
  }

  // interrupt(id): the kernel's FUSE_INTERRUPT, for a request of read or write.
  Napi::Value Interrupt(const Napi::CallbackInfo &info) {
    auto it = calls_->find(args::uint53(info, 0, "id"));
    if (it != calls_->end()) {
      it->second->store(true);
      calls_->erase(it);
      if (std::shared_ptr<FifoEngine> e = side_->engine()) e->wake_all();
    }
    return info.Env().Undefined();
  }

  // poll(handle, arm) -> poll(2) event mask
  Napi::Value Poll(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), engine(info.Env())->poll(args::uint53(info, 0, "handle"), args::boolean(info, 1, "arm")));
  }

  std::shared_ptr<Side> side_;
  uint64_t next_call_ = 0;
  // Requests in flight, by id: their interrupt flags.
  using CallMap = std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>>;
  std::shared_ptr<CallMap> calls_ = std::make_shared<CallMap>();
};

}  // namespace

// socketPair() -> [fd, fd]: a connected pair for two port sides in one test.
static Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw Napi::Error::New(env, std::string("socketpair: ") + strerror(errno));
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

void export_engine_harness(Napi::Env env, Napi::Object exports) {
  exports.Set("EngineHarness", EngineHarness::Define(env));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
}

}  // namespace ivfs
