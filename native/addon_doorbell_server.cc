// N-API surface of the doorbell server (doorbell_server.h):
//   new DoorbellServer(socketPath, shmPath, vectors, onEvent(kind, id, detail))
//   .shmSize  .close()
// The server runs on its own thread; events reach JavaScript through a
// thread-safe function, so nothing here blocks the event loop.
#include <napi.h>

#include <memory>

#include "addon_args.h"
#include "addon_doorbell_server.h"
#include "addon_errors.h"
#include "doorbell_server.h"
#include "memsection_set.h"

namespace ivfs {
namespace {

class DoorbellServerWrap : public Napi::ObjectWrap<DoorbellServerWrap> {
 public:
  explicit DoorbellServerWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DoorbellServerWrap>(info) {
    Napi::Env env = info.Env();
    std::string socket_path = args::string(info, 0, "socketPath"), shm_path = args::string(info, 1, "shmPath");
    uint32_t vectors = args::uint32(info, 2, "vectors");
    tsfn_ = Napi::ThreadSafeFunction::New(env, args::function(info, 3, "onEvent"), "intervmfs-doorbell-server", 0, 1);
    Napi::ThreadSafeFunction tsfn = tsfn_;
    try {
      server_ = std::make_unique<DoorbellServer>(
          socket_path, shm_path, vectors,
          [tsfn](const std::string &kind, int64_t id, const std::string &detail) mutable {
            tsfn.BlockingCall([kind, id, detail](Napi::Env env, Napi::Function js) {
              js.Call({Napi::String::New(env, kind), Napi::Number::New(env, double(id)), Napi::String::New(env, detail)});
            });
          });
    } catch (const SetError &e) {
      tsfn_.Release();
      throw set_error(env, e);
    }
    info.This().As<Napi::Object>().Set("shmSize", double(server_->shm_size()));
  }
  ~DoorbellServerWrap() override { Close(); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DoorbellServer", {InstanceMethod("close", &DoorbellServerWrap::CloseJs)});
  }

 private:
  void Close() {
    if (server_) server_->stop();
    server_.reset();
    if (tsfn_) {
      tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
    }
  }
  Napi::Value CloseJs(const Napi::CallbackInfo &info) {
    Close();
    return info.Env().Undefined();
  }

  std::unique_ptr<DoorbellServer> server_;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace

Napi::Function define_doorbell_server(Napi::Env env) { return DoorbellServerWrap::Define(env); }

}  // namespace ivfs
