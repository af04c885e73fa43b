// AreaRegistry for JavaScript: the registry of a region's areas (owner,
// size, mappings), and the region handle the area mount's pairs map through.
#include "addon_areas.h"

#include "addon_args.h"
#include "addon_errors.h"
#include "area_registry.h"

#include <tuple>

namespace ivfs {
namespace {

// The tag on the handle this file gives out (a region), so that a handle of
// another kind (or another addon's) is a TypeError, never a wrong cast.
constexpr napi_type_tag kRegionTag = {0x6976667265670000ull, 0x726567696f6e0001ull};

Napi::Object area_object(Napi::Env env, const AreaInfo &a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", a.index);
  o.Set("id", a.id);
  o.Set("size", double(a.size));
  o.Set("offset", double(a.offset));
  o.Set("pairSize", double(a.pair_size));
  o.Set("pairSlots", a.pair_slots);
  o.Set("channels", a.channels);
  o.Set("createdAtMs", double(a.created_at_ms));
  o.Set("owner", a.owner);
  o.Set("corrupt", a.corrupt);
  if (a.corrupt) o.Set("why", a.why);
  Napi::Array peers = Napi::Array::New(env, a.peers.size());
  for (size_t i = 0; i < a.peers.size(); i++) {
    const PeerInfo &p = a.peers[i];
    Napi::Object po = Napi::Object::New(env);
    po.Set("slot", p.slot);
    po.Set("epoch", p.epoch);
    po.Set("heartbeat", double(p.heartbeat));
    po.Set("pid", p.pid);
    po.Set("doorbellId", p.doorbell_id);
    po.Set("attachedAtMs", double(p.attached_at_ms));
    po.Set("name", p.name);
    po.Set("host", p.host);
    peers.Set(uint32_t(i), po);
  }
  o.Set("peers", peers);
  Napi::Array pairs = Napi::Array::New(env, a.pairs.size());
  for (size_t i = 0; i < a.pairs.size(); i++) {
    const PairInfo &q = a.pairs[i];
    Napi::Object qo = Napi::Object::New(env);
    qo.Set("slot", q.slot);
    qo.Set("generation", q.generation);
    Napi::Array names = Napi::Array::New(env, 2);
    names.Set(0u, q.names[0]);
    names.Set(1u, q.names[1]);
    qo.Set("names", names);
    qo.Set("regionOffset", double(q.region_offset));
    pairs.Set(uint32_t(i), qo);
  }
  o.Set("pairs", pairs);
  return o;
}

class AreaRegistryWrap : public Napi::ObjectWrap<AreaRegistryWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AreaRegistry",
                       {
                           StaticMethod("format", &AreaRegistryWrap::Format),
                           StaticMethod("isAreaRegion", &AreaRegistryWrap::IsAreaRegion),
                           StaticMethod("validPeerName", &AreaRegistryWrap::ValidPeerName),
                           InstanceMethod("regionSize", &AreaRegistryWrap::RegionSize),
                           InstanceMethod("version", &AreaRegistryWrap::Version),
                           InstanceMethod("changedMs", &AreaRegistryWrap::ChangedMs),
                           InstanceMethod("areas", &AreaRegistryWrap::Areas),
                           InstanceMethod("attach", &AreaRegistryWrap::Attach),
                           InstanceMethod("detach", &AreaRegistryWrap::Detach),
                           InstanceMethod("heartbeat", &AreaRegistryWrap::Heartbeat),
                           InstanceMethod("remove", &AreaRegistryWrap::Remove),
                           InstanceMethod("region", &AreaRegistryWrap::Region),
                           InstanceMethod("close", &AreaRegistryWrap::Close),
                       });
  }

  explicit AreaRegistryWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<AreaRegistryWrap>(info) {
    std::string path = args::string(info, 0, "region");
    try {
      reg_ = std::make_unique<AreaRegistry>(path);
    } catch (const SetError &e) {
      throw set_error(info.Env(), e);
    }
  }

 private:
  AreaRegistry &reg(Napi::Env env) {
    if (!reg_) throw Napi::Error::New(env, "area registry is closed");
    return *reg_;
  }
  template <typename F>
  static auto guarded(Napi::Env env, F f) {
    try {
      return f();
    } catch (const SetError &e) {
      throw set_error(env, e);
    }
  }

  static Napi::Value Format(const Napi::CallbackInfo &info) {
    std::string path = args::string(info, 0, "region");
    bool force = info[1].ToBoolean().Value();
    guarded(info.Env(), [&] {
      AreaRegistry::format(path, force);
      return 0;
    });
    return info.Env().Undefined();
  }
  static Napi::Value IsAreaRegion(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), AreaRegistry::is_area_region(args::string(info, 0, "region")));
  }
  static Napi::Value ValidPeerName(const Napi::CallbackInfo &info) {
    return Napi::Boolean::New(info.Env(), AreaRegistry::valid_peer_name(args::string(info, 0, "name")));
  }
  Napi::Value RegionSize(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), double(reg(info.Env()).region_size())); }
  Napi::Value Version(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), double(reg(info.Env()).version())); }
  Napi::Value ChangedMs(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), double(reg(info.Env()).changed_ms())); }

  Napi::Value Areas(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::vector<AreaInfo> list = reg(env).areas();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(uint32_t(i), area_object(env, list[i]));
    return out;
  }

  // attach({ id, peer, areaSize, pairSize, channels, host, pid, doorbellId, nowMs, takeOverHeartbeat })
  //   -> { area, peerSlot, epoch, created }
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "attach takes an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char *k) { return o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : 0.0; };
    auto str = [&](const char *k) { return o.Get(k).IsString() ? o.Get(k).As<Napi::String>().Utf8Value() : std::string(); };
    AttachRequest r;
    double id = num("id");
    r.id = id >= 1 && id <= double(kAreaIdMax) ? uint32_t(id) : (id > 0 ? kAreaIdMax + 1 : 0);  // out of range either way is refused, with the range
    r.peer = str("peer");
    r.area_size = uint64_t(num("areaSize"));
    r.pair_size = uint64_t(num("pairSize"));
    r.channels = uint32_t(num("channels"));
    r.host = str("host");
    r.pid = uint32_t(num("pid"));
    r.doorbell_id = uint32_t(num("doorbellId"));
    r.now_ms = uint64_t(num("nowMs"));
    if (o.Get("takeOverHeartbeat").IsNumber()) r.take_over_heartbeat = uint64_t(num("takeOverHeartbeat"));
    AttachResult res = guarded(env, [&] { return reg(env).attach(r); });
    Napi::Object out = Napi::Object::New(env);
    out.Set("area", area_object(env, res.area));
    out.Set("peerSlot", res.peer_slot);
    out.Set("epoch", res.epoch);
    out.Set("created", res.created);
    return out;
  }

  Napi::Value Detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      reg(env).detach(args::uint32(info, 0, "area index"), args::uint32(info, 1, "peer slot"), args::uint32(info, 2, "epoch"));
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value Heartbeat(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return Napi::Boolean::New(env, reg(env).heartbeat(args::uint32(info, 0, "area index"), args::uint32(info, 1, "peer slot"), args::uint32(info, 2, "epoch")));
  }

  Napi::Value Remove(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      reg(env).remove(args::uint32(info, 0, "area ID"), uint64_t(args::number(info, 1, "registry version")));
      return 0;
    });
    return env.Undefined();
  }

  // region(): a handle on the mapped region, for Memsections(region, offset, length).
  Napi::Value Region(const Napi::CallbackInfo &info) {
    region_ = reg(info.Env()).region();
    auto handle = Napi::External<std::shared_ptr<const Mapping>>::New(info.Env(), &region_);
    handle.TypeTag(&kRegionTag);
    return handle;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    reg_.reset();
    region_.reset();  // the sets made from it keep it mapped as long as they live
    return info.Env().Undefined();
  }

  std::unique_ptr<AreaRegistry> reg_;
  std::shared_ptr<const Mapping> region_;
};

}  // namespace

std::shared_ptr<const Mapping> shared_region_arg(const Napi::Value &handle) {
  if (!handle.IsExternal() || !handle.As<Napi::External<std::shared_ptr<const Mapping>>>().CheckTypeTag(&kRegionTag)) {
    throw Napi::TypeError::New(handle.Env(), "expected an AreaRegistry's region()");
  }
  auto *p = handle.As<Napi::External<std::shared_ptr<const Mapping>>>().Data();
  if (!p || !*p) throw Napi::Error::New(handle.Env(), "area registry is closed");
  return *p;
}

Napi::Function define_area_registry(Napi::Env env) { return AreaRegistryWrap::Define(env); }

}  // namespace ivfs
