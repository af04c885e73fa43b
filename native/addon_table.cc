// Memsections, the channel table's surface (addon_memsections.h): listing and
// lookup answer at once; mknod, unlink and chmod/chown take the cross-peer
// lock, so they run on a libuv worker thread and resolve a Promise.
#include <functional>

#include "addon_args.h"
#include "addon_memsections.h"

namespace ivfs {
namespace {

class TableWorker : public Napi::AsyncWorker {
 public:
  using Op = std::function<TableResult(ChannelTable &)>;
  TableWorker(Napi::Env env, Side::TableHold hold, Op op)
      : Napi::AsyncWorker(env), hold_(std::move(hold)), op_(std::move(op)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { result_ = op_(*hold_.table); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("errno", result_.err);  // negative, as everywhere (ARCHITECTURE.md, "Errors")
    o.Set("slot", result_.slot);
    o.Set("generation", result_.generation);
    deferred_.Resolve(o);
  }

 private:
  Side::TableHold hold_;  // the mapping stays while the worker runs
  Op op_;
  Napi::Promise::Deferred deferred_;
  TableResult result_;
};

Napi::Value queue(Napi::Env env, Side::TableHold hold, TableWorker::Op op) {
  auto *w = new TableWorker(env, std::move(hold), std::move(op));
  w->Queue();
  return w->promise();
}

void set_channel_fields(Napi::Object o, const ChannelInfo &c) {
  o.Set("slot", c.slot);
  o.Set("generation", c.generation);
  o.Set("name", c.name);
  o.Set("mode", c.mode);
  o.Set("uid", c.uid);
  o.Set("gid", c.gid);
  o.Set("ctimeMs", double(c.ctime_ms));
  o.Set("atimeMs", double(c.atime_ms));
  o.Set("mtimeMs", double(c.mtime_ms));
}

}  // namespace

Napi::Value Memsections::TableVersion(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, double(napi_guard(env, [&] { return side(env).table_version(); })));
}

// tableChangedMs() -> when a channel was last made or removed (the directory's mtime)
Napi::Value Memsections::TableChangedMs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, double(napi_guard(env, [&] { return side(env).table_changed_ms(); })));
}

Napi::Value Memsections::Channels(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<ChannelSnapshot> list = napi_guard(env, [&] { return side(env).channels(); });
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) {
    const ChannelSnapshot &s = list[i];
    const ChannelInfo &c = s.info;
    Napi::Object o = Napi::Object::New(env);
    set_channel_fields(o, c);
    o.Set("state", c.state == kLive ? "live" : c.state == kUnlinked ? "unlinked" : "corrupt");
    o.Set("corrupt", c.corrupt);
    if (c.corrupt) o.Set("why", c.why);
    Napi::Array open = Napi::Array::New(env, kSideCount);
    Napi::Array rings = Napi::Array::New(env, kSideCount);
    for (uint32_t d = 0; d < kSideCount; d++) {
      open.Set(d, s.side_open[d]);
      const ChannelSnapshot::Ring &r = s.rings[d];
      Napi::Object ro = Napi::Object::New(env);
      ro.Set("head", double(r.head));
      ro.Set("tail", double(r.tail));
      ro.Set("writersOpen", r.writers_open);
      ro.Set("readersOpen", r.readers_open);
      ro.Set("writeOps", double(r.write_ops));
      ro.Set("readOps", double(r.read_ops));
      rings.Set(d, ro);
    }
    o.Set("sideOpen", open);
    o.Set("rings", rings);
    out.Set(i, o);
  }
  return out;
}

// lookupChannel(name) -> { slot, generation, name, mode, uid, gid, ctimeMs,
// atimeMs, mtimeMs } of the live channel of that name, or undefined.
Napi::Value Memsections::LookupChannel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = args::string(info, 0, "name");
  std::optional<ChannelInfo> c = napi_guard(env, [&] { return side(env).lookup(name); });
  if (!c) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  set_channel_fields(o, *c);
  return o;
}

// createChannel(name, mode, uid, gid, nowMs) -> Promise<{ errno, slot, generation }>
Napi::Value Memsections::CreateChannel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = args::string(info, 0, "name");
  uint32_t mode = args::uint32(info, 1, "mode");
  uint32_t uid = args::uint32(info, 2, "uid");
  uint32_t gid = args::uint32(info, 3, "gid");
  uint64_t now = args::uint53(info, 4, "nowMs");
  return queue(env, napi_guard(env, [&] { return side(env).table_hold(); }),
               [=](ChannelTable &t) { return t.create(name, mode, uid, gid, now); });
}

// unlinkChannel(name[, nowMs])
Napi::Value Memsections::UnlinkChannel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = args::string(info, 0, "name");
  uint64_t now = info[1].IsUndefined() ? 0 : args::uint53(info, 1, "nowMs");
  return queue(env, napi_guard(env, [&] { return side(env).table_hold(); }), [=](ChannelTable &t) { return t.unlink(name, now); });
}

// setChannelAttributes(name, { mode?, uid?, gid? }, nowMs): chmod and chown.
Napi::Value Memsections::SetChannelAttributes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = args::string(info, 0, "name");
  Napi::Object o = args::object(info, 1, "change");
  AttributeChange change;
  for (auto [key, field] : {std::pair{"mode", &change.mode}, {"uid", &change.uid}, {"gid", &change.gid}}) {
    if (!o.Get(key).IsUndefined()) *field = uint32_t(args::option_number(info, o, key, 0));
  }
  uint64_t now = args::uint53(info, 2, "nowMs");
  return queue(env, napi_guard(env, [&] { return side(env).table_hold(); }),
               [=](ChannelTable &t) { return t.set_attributes(name, change, now); });
}

}  // namespace ivfs
