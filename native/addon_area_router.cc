// AreaRouter for JavaScript: one hook table for an area mount over its
// pairs' hook tables (area_router.h), and the tagged hook-table handle that
// fuse-native's `nativeHooks` and AreaRouter.add take.
#include "addon_areas.h"

#include "addon_args.h"
#include "area_router.h"

namespace ivfs {
namespace {

// The tag on the handle this file gives out (a hook table), so that a handle of
// another kind (or another addon's) is a TypeError, never a wrong cast.
constexpr napi_type_tag kHooksTag = {0x6976666873000000ull, 0x686f6f6b73000001ull};

class AreaRouterWrap : public Napi::ObjectWrap<AreaRouterWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AreaRouter",
                       {
                           InstanceMethod("add", &AreaRouterWrap::Add),
                           InstanceMethod("fuseHooks", &AreaRouterWrap::FuseHooks),
                           InstanceMethod("fuseLoopEnded", &AreaRouterWrap::FuseLoopEnded),
                       });
  }
  explicit AreaRouterWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<AreaRouterWrap>(info), router_(AreaRouter::create()) {}

 private:
  // add(peer, hooks): hooks is a Memsections' fuseHooks() external.
  Napi::Value Add(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string peer = args::string(info, 0, "peer");
    if (!info[1].IsExternal() || !info[1].As<Napi::External<struct fuse_native_hooks>>().CheckTypeTag(&kHooksTag)) {
      throw Napi::TypeError::New(env, "hooks must be the fuseHooks() of a Memsections");
    }
    auto *sub = info[1].As<Napi::External<struct fuse_native_hooks>>().Data();
    return Napi::Boolean::New(env, router_->add(peer, sub));
  }
  Napi::Value FuseHooks(const Napi::CallbackInfo &info) { return hooks_handle(info.Env(), router_->hooks()); }
  Napi::Value FuseLoopEnded(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), router_->loop_ended()); }

  AreaRouter *router_;  // never freed: libfuse's threads may call it after unmount
};

}  // namespace

Napi::Value hooks_handle(Napi::Env env, struct fuse_native_hooks *hooks) {
  auto handle = Napi::External<struct fuse_native_hooks>::New(env, hooks);
  handle.TypeTag(&kHooksTag);
  return handle;
}

Napi::Function define_area_router(Napi::Env env) { return AreaRouterWrap::Define(env); }

}  // namespace ivfs
