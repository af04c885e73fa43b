// DoorbellHub for JavaScript: an area mount's ivshmem doorbell, shared by
// its sets through a tagged handle.
#include "addon_areas.h"

#include "addon_args.h"
#include "addon_errors.h"
#include "doorbell.h"

namespace ivfs {
namespace {

// The tag on the handle this file gives out (a hub), so that a handle of
// another kind (or another addon's) is a TypeError, never a wrong cast.
constexpr napi_type_tag kHubTag = {0x6976666875620000ull, 0x6875620000000001ull};

// DoorbellHub(vfioGroup, bdf) to ring and wait, or DoorbellHub(bar0Path) to
// ring only: an area mount's ivshmem doorbell, opened once for its sets.
class DoorbellHubWrap : public Napi::ObjectWrap<DoorbellHubWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DoorbellHub",
                       {
                           InstanceMethod("ownId", &DoorbellHubWrap::OwnId),
                           InstanceMethod("test", &DoorbellHubWrap::Test),
                           InstanceMethod("handle", &DoorbellHubWrap::Handle),
                           InstanceMethod("close", &DoorbellHubWrap::Close),
                       });
  }
  explicit DoorbellHubWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<DoorbellHubWrap>(info) {
    std::string first = args::string(info, 0, "doorbell path");
    try {
      std::shared_ptr<Doorbell> d(info.Length() > 1 ? Doorbell::vfio(first, args::string(info, 1, "PCI address")) : Doorbell::ring_only(first));
      hub_ = std::make_shared<std::shared_ptr<DoorbellHub>>(std::make_shared<DoorbellHub>(d));
    } catch (const SetError &e) {
      throw set_error(info.Env(), e);
    }
  }

 private:
  DoorbellHub &hub(Napi::Env env) {
    if (!hub_ || !*hub_) throw Napi::Error::New(env, "doorbell hub is closed");
    return **hub_;
  }
  Napi::Value OwnId(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), hub(info.Env()).doorbell()->own_id()); }
  // test(timeoutMs): rings our own id; whether the interrupt came back. Before any set subscribes.
  Napi::Value Test(const Napi::CallbackInfo &info) {
    Doorbell &d = *hub(info.Env()).doorbell();
    if (!d.can_wait()) throw Napi::Error::New(info.Env(), "a ring-only doorbell cannot be tested");
    d.ring(d.own_id());
    return Napi::Boolean::New(info.Env(), d.wait(int(args::uint32(info, 0, "timeout"))));
  }
  Napi::Value Handle(const Napi::CallbackInfo &info) {
    hub(info.Env());
    auto handle = Napi::External<std::shared_ptr<DoorbellHub>>::New(info.Env(), hub_.get());
    handle.TypeTag(&kHubTag);
    return handle;
  }
  // The sets that use it keep it until they close; this only lets go of ours.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (hub_) hub_->reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<std::shared_ptr<DoorbellHub>> hub_;
};

}  // namespace

std::shared_ptr<DoorbellHub> doorbell_hub_arg(const Napi::Value &handle) {
  if (!handle.IsExternal() || !handle.As<Napi::External<std::shared_ptr<DoorbellHub>>>().CheckTypeTag(&kHubTag)) {
    throw Napi::TypeError::New(handle.Env(), "expected a DoorbellHub's handle()");
  }
  std::shared_ptr<DoorbellHub> *p = handle.As<Napi::External<std::shared_ptr<DoorbellHub>>>().Data();
  if (!p || !*p) throw Napi::Error::New(handle.Env(), "doorbell hub is closed");
  return *p;
}

Napi::Function define_doorbell_hub(Napi::Env env) { return DoorbellHubWrap::Define(env); }

}  // namespace ivfs
