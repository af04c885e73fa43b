#include "addon_areas.h"

#include "addon_args.h"
#include "addon_errors.h"
#include "area_registry.h"
#include "area_router.h"
#include "doorbell.h"

#include <tuple>

namespace ivfs {
namespace {

// Tags on the handles this file gives out, so that a handle of another kind
// (or another addon's) is a TypeError and never cast to the wrong type.
constexpr napi_type_tag kRegionTag = {0x6976667265670000ull, 0x726567696f6e0001ull};
constexpr napi_type_tag kHubTag = {0x6976666875620000ull, 0x6875620000000001ull};
constexpr napi_type_tag kHooksTag = {0x6976666873000000ull, 0x686f6f6b73000001ull};

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

Napi::Value hooks_handle(Napi::Env env, struct fuse_native_hooks *hooks) {
  auto handle = Napi::External<struct fuse_native_hooks>::New(env, hooks);
  handle.TypeTag(&kHooksTag);
  return handle;
}

std::shared_ptr<const Mapping> shared_region_arg(const Napi::Value &handle) {
  if (!handle.IsExternal() || !handle.As<Napi::External<std::shared_ptr<const Mapping>>>().CheckTypeTag(&kRegionTag)) {
    throw Napi::TypeError::New(handle.Env(), "expected an AreaRegistry's region()");
  }
  auto *p = handle.As<Napi::External<std::shared_ptr<const Mapping>>>().Data();
  if (!p || !*p) throw Napi::Error::New(handle.Env(), "area registry is closed");
  return *p;
}

std::shared_ptr<DoorbellHub> doorbell_hub_arg(const Napi::Value &handle) {
  if (!handle.IsExternal() || !handle.As<Napi::External<std::shared_ptr<DoorbellHub>>>().CheckTypeTag(&kHubTag)) {
    throw Napi::TypeError::New(handle.Env(), "expected a DoorbellHub's handle()");
  }
  std::shared_ptr<DoorbellHub> *p = handle.As<Napi::External<std::shared_ptr<DoorbellHub>>>().Data();
  if (!p || !*p) throw Napi::Error::New(handle.Env(), "doorbell hub is closed");
  return *p;
}

Napi::Function define_doorbell_hub(Napi::Env env) { return DoorbellHubWrap::Define(env); }
Napi::Function define_area_registry(Napi::Env env) { return AreaRegistryWrap::Define(env); }
Napi::Function define_area_router(Napi::Env env) { return AreaRouterWrap::Define(env); }

namespace {
// { field: [offset, size] } of one struct, as the compiler laid it out: the
// test that checks docs/LAYOUT.md's tables against it reads this.
struct FieldTable {
  Napi::Env env;
  Napi::Object o = Napi::Object::New(env);
  void add(const char *name, size_t offset, size_t size) {
    Napi::Array a = Napi::Array::New(env, 2);
    a.Set(0u, double(offset));
    a.Set(1u, double(size));
    o.Set(name, a);
  }
};
#define IVFS_FIELD(t, T, f) t.add(#f, offsetof(T, f), sizeof(static_cast<T *>(nullptr)->f))

Napi::Object layout_fields(Napi::Env env) {
  FieldTable h{env}, a{env}, m{env}, q{env};
  IVFS_FIELD(h, RegistryHeader, magic);
  IVFS_FIELD(h, RegistryHeader, registry_version);
  IVFS_FIELD(h, RegistryHeader, area_capacity);
  IVFS_FIELD(h, RegistryHeader, region_size);
  IVFS_FIELD(h, RegistryHeader, registry_size);
  IVFS_FIELD(h, RegistryHeader, formatted_at_ms);
  IVFS_FIELD(h, RegistryHeader, header_check);
  IVFS_FIELD(h, RegistryHeader, lock);
  IVFS_FIELD(h, RegistryHeader, version);
  IVFS_FIELD(h, RegistryHeader, changed_ms);
  IVFS_FIELD(a, AreaEntry, state);
  IVFS_FIELD(a, AreaEntry, id);
  IVFS_FIELD(a, AreaEntry, size);
  IVFS_FIELD(a, AreaEntry, offset);
  IVFS_FIELD(a, AreaEntry, pair_size);
  IVFS_FIELD(a, AreaEntry, pair_slots);
  IVFS_FIELD(a, AreaEntry, channels);
  IVFS_FIELD(a, AreaEntry, created_at_ms);
  IVFS_FIELD(a, AreaEntry, owner);
  a.add("peers[16]", offsetof(AreaEntry, peers), sizeof(AreaEntry::peers));
  a.add("pairs[120]", offsetof(AreaEntry, pairs), sizeof(AreaEntry::pairs));
  IVFS_FIELD(m, PeerMapping, state);
  IVFS_FIELD(m, PeerMapping, epoch);
  IVFS_FIELD(m, PeerMapping, heartbeat);
  IVFS_FIELD(m, PeerMapping, pid);
  IVFS_FIELD(m, PeerMapping, doorbell_id);
  IVFS_FIELD(m, PeerMapping, attached_at_ms);
  IVFS_FIELD(m, PeerMapping, name);
  IVFS_FIELD(m, PeerMapping, host);
  IVFS_FIELD(q, PairSlot, state);
  IVFS_FIELD(q, PairSlot, generation);
  q.add("names[0]", offsetof(PairSlot, names[0]), sizeof(PairSlot::names[0]));
  q.add("names[1]", offsetof(PairSlot, names[1]), sizeof(PairSlot::names[1]));
  FieldTable ch{env}, tl{env}, ss{env}, ce{env}, rs{env};
  IVFS_FIELD(ch, ControlHeader, magic);
  IVFS_FIELD(ch, ControlHeader, layout_version);
  IVFS_FIELD(ch, ControlHeader, channel_capacity);
  IVFS_FIELD(ch, ControlHeader, control_size);
  IVFS_FIELD(ch, ControlHeader, data_size);
  IVFS_FIELD(ch, ControlHeader, ring_size);
  ch.add("data_offset[2]", offsetof(ControlHeader, data_offset), sizeof(ControlHeader::data_offset));
  IVFS_FIELD(ch, ControlHeader, formatted_at_ms);
  IVFS_FIELD(ch, ControlHeader, header_check);
  IVFS_FIELD(tl, ControlHeader, table_lock);
  IVFS_FIELD(tl, ControlHeader, table_version);
  IVFS_FIELD(tl, ControlHeader, table_changed_ms);
  IVFS_FIELD(ss, SideState, attached);
  IVFS_FIELD(ss, SideState, epoch);
  IVFS_FIELD(ss, SideState, heartbeat);
  IVFS_FIELD(ss, SideState, pid);
  IVFS_FIELD(ss, SideState, notify_mode);
  IVFS_FIELD(ss, SideState, mounted_at_ms);
  IVFS_FIELD(ss, SideState, host);
  IVFS_FIELD(ss, SideState, bell);
  IVFS_FIELD(ss, SideState, bells_rung);
  IVFS_FIELD(ss, SideState, doorbell_id);
  IVFS_FIELD(ce, ChannelEntry, state);
  IVFS_FIELD(ce, ChannelEntry, generation);
  IVFS_FIELD(ce, ChannelEntry, mode);
  IVFS_FIELD(ce, ChannelEntry, uid);
  IVFS_FIELD(ce, ChannelEntry, gid);
  IVFS_FIELD(ce, ChannelEntry, ctime_ms);
  IVFS_FIELD(ce, ChannelEntry, name);
  ce.add("side_open[2]", offsetof(ChannelEntry, side_open), sizeof(ChannelEntry::side_open));
  IVFS_FIELD(ce, ChannelEntry, atime_ms);
  IVFS_FIELD(ce, ChannelEntry, mtime_ms);
  ce.add("ring[0]", offsetof(ChannelEntry, ring[0]), sizeof(RingState));
  ce.add("ring[1]", offsetof(ChannelEntry, ring[1]), sizeof(RingState));
  for (auto [name, off, size] : std::initializer_list<std::tuple<const char *, size_t, size_t>>{
           {"head", offsetof(RingState, head), 8},
           {"writers_open", offsetof(RingState, writers_open), 4},
           {"writer_opens", offsetof(RingState, writer_opens), 4},
           {"producer_waiting", offsetof(RingState, producer_waiting), 4},
           {"epipe_mark", offsetof(RingState, epipe_mark), 4},
           {"write_ops", offsetof(RingState, write_ops), 8},
           {"writers_closing", offsetof(RingState, writers_closing), 4},
           {"consumer_wake", offsetof(RingState, consumer_wake), 4},
           {"tail", offsetof(RingState, tail), 8},
           {"readers_open", offsetof(RingState, readers_open), 4},
           {"reader_opens", offsetof(RingState, reader_opens), 4},
           {"consumer_waiting", offsetof(RingState, consumer_waiting), 4},
           {"eof_mark", offsetof(RingState, eof_mark), 4},
           {"read_ops", offsetof(RingState, read_ops), 8},
           {"readers_closing", offsetof(RingState, readers_closing), 4},
           {"producer_wake", offsetof(RingState, producer_wake), 4},
       })
    rs.add(name, off, size);
  Napi::Object o = Napi::Object::New(env);
  o.Set("Header", ch.o);
  o.Set("Table lock", tl.o);
  o.Set("Side states", ss.o);
  o.Set("Channel table", ce.o);
  o.Set("Ring state", rs.o);
  o.Set("Registry header", h.o);
  o.Set("Area entry", a.o);
  o.Set("Peer mapping", m.o);
  o.Set("Pair slot", q.o);
  return o;
}
#undef IVFS_FIELD
}  // namespace

void export_area_layout(Napi::Env env, Napi::Object c, Napi::Object l) {
  l.Set("fields", layout_fields(env));
  c.Set("registryVersion", kRegistryVersion);
  c.Set("areaCapacity", kAreaCapacity);
  c.Set("areaPeersMax", kAreaPeersMax);
  c.Set("areaIdMax", kAreaIdMax);
  c.Set("peerNameMax", kPeerNameMax);
  c.Set("registrySize", double(kRegistrySize));
  l.Set("areaTableOffset", double(kAreaTableOffset));
  l.Set("areaEntrySize", double(sizeof(AreaEntry)));
  l.Set("registryLock", double(offsetof(RegistryHeader, lock)));
  l.Set("registryHeaderCheck", double(offsetof(RegistryHeader, header_check)));
  l.Set("areaState", double(offsetof(AreaEntry, state)));
  l.Set("areaId", double(offsetof(AreaEntry, id)));
  l.Set("areaSize", double(offsetof(AreaEntry, size)));
  l.Set("areaOffset", double(offsetof(AreaEntry, offset)));
  l.Set("areaPairSize", double(offsetof(AreaEntry, pair_size)));
  l.Set("areaPeers", double(offsetof(AreaEntry, peers)));
  l.Set("areaPairs", double(offsetof(AreaEntry, pairs)));
  l.Set("peerMappingSize", double(sizeof(PeerMapping)));
  l.Set("peerState", double(offsetof(PeerMapping, state)));
  l.Set("peerHeartbeat", double(offsetof(PeerMapping, heartbeat)));
  l.Set("peerName", double(offsetof(PeerMapping, name)));
  l.Set("pairSlotSize", double(sizeof(PairSlot)));
  l.Set("pairState", double(offsetof(PairSlot, state)));
  l.Set("pairNames", double(offsetof(PairSlot, names)));
}

}  // namespace ivfs
