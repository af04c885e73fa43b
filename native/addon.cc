// The addon's entry point: its classes, one file per surface, each only
// turning JavaScript values into C++ calls and back --
//   Memsections       addon_memsections.cc, addon_table.cc (a side, side.h)
//   SideChannels      addon_channels.cc (a side's channels for the library, src/lib)
//   AreaRegistry, AreaRouter, DoorbellHub   addon_areas.cc
//   DoorbellServer    addon_doorbell_server.cc
//   EngineHarness     addon_engine_harness.cc (the test build only)
// -- and here the set's free functions (format, plan*, checkName) and the
// constants and field offsets of the layout.
#include <napi.h>

#include "addon_areas.h"
#include "addon_args.h"
#include "addon_channels.h"
#include "addon_doorbell_server.h"
#include "addon_memsections.h"
#include "channel_table.h"
#include "memsection_set.h"
#include "timing.h"
#ifdef IVFS_TEST_HARNESS
#include "addon_engine_harness.h"
#endif

namespace ivfs {
namespace {

// format(paths, capacity, force) -> geometry
Napi::Value Format(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::vector<std::string> paths = args::strings(info, 0, "paths");
  uint32_t capacity = args::uint32(info, 1, "capacity");
  bool force = args::boolean(info, 2, "force");
  return geometry_object(env, napi_guard(env, [&] { return MemsectionSet::format(paths, capacity, force); }));
}

// planFiles(capacity, dataSize) / planRegion(capacity, regionSize) -> geometry
Napi::Value PlanFiles(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint32_t capacity = args::uint32(info, 0, "capacity");
  uint64_t size = args::uint53(info, 1, "dataSize");
  return geometry_object(env, napi_guard(env, [&] { return MemsectionSet::plan_files(capacity, size); }));
}

Napi::Value PlanRegion(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint32_t capacity = args::uint32(info, 0, "capacity");
  uint64_t size = args::uint53(info, 1, "regionSize");
  return geometry_object(env, napi_guard(env, [&] { return MemsectionSet::plan_region(capacity, size); }));
}

// checkName(name) -> 0 or the negative errno mknod would give
Napi::Value CheckName(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), ChannelTable::check_name(args::string(info, 0, "name")));
}

}  // namespace
}  // namespace ivfs

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace ivfs;
  exports.Set("Memsections", Memsections::Define(env));
  exports.Set("SideChannels", define_side_channels(env));
  exports.Set("DoorbellServer", define_doorbell_server(env));
  exports.Set("AreaRegistry", define_area_registry(env));
  exports.Set("AreaRouter", define_area_router(env));
  exports.Set("DoorbellHub", define_doorbell_hub(env));
  exports.Set("format", Napi::Function::New(env, Format));
  exports.Set("planFiles", Napi::Function::New(env, PlanFiles));
  exports.Set("planRegion", Napi::Function::New(env, PlanRegion));
  exports.Set("checkName", Napi::Function::New(env, CheckName));
#ifdef IVFS_TEST_HARNESS
  export_engine_harness(env, exports);
#endif
  Napi::Object c = Napi::Object::New(env);
  c.Set("layoutVersion", kLayoutVersion);
  c.Set("nameMax", kNameMax);
  c.Set("pipeBuf", kPipeBuf);
  c.Set("minRingSize", kMinRingSize);
  c.Set("maxChannels", kMaxChannels);
  c.Set("heartbeatMs", double(kHeartbeatMs));
  c.Set("livenessWatchMs", double(kLivenessWatchMs));
  c.Set("peerDeadMs", double(kPeerDeadMs));
  exports.Set("constants", c);
  // Field offsets, for the tests that scribble on a control memsection and
  // for `intervmfs check`: nobody outside this addon hard-codes an offset.
  Napi::Object l = Napi::Object::New(env);
  l.Set("tableOffset", double(kTableOffset));
  l.Set("entrySize", double(sizeof(ChannelEntry)));
  l.Set("magic", double(offsetof(ControlHeader, magic)));
  l.Set("layoutVersion", double(offsetof(ControlHeader, layout_version)));
  l.Set("channelCapacity", double(offsetof(ControlHeader, channel_capacity)));
  l.Set("headerCheck", double(offsetof(ControlHeader, header_check)));
  l.Set("tableLock", double(offsetof(ControlHeader, table_lock)));
  l.Set("sideState", double(offsetof(ControlHeader, side)));
  l.Set("sideStateSize", double(sizeof(SideState)));
  l.Set("sideAttached", double(offsetof(SideState, attached)));
  l.Set("sideEpoch", double(offsetof(SideState, epoch)));
  l.Set("sideHeartbeat", double(offsetof(SideState, heartbeat)));
  l.Set("sideNotifyMode", double(offsetof(SideState, notify_mode)));
  l.Set("sideDoorbellId", double(offsetof(SideState, doorbell_id)));
  l.Set("entryState", double(offsetof(ChannelEntry, state)));
  l.Set("entryGeneration", double(offsetof(ChannelEntry, generation)));
  l.Set("entryName", double(offsetof(ChannelEntry, name)));
  l.Set("entrySideOpen", double(offsetof(ChannelEntry, side_open)));
  l.Set("entryRing", double(offsetof(ChannelEntry, ring)));
  l.Set("ringStateSize", double(sizeof(RingState)));
  l.Set("ringHead", double(offsetof(RingState, head)));
  l.Set("ringTail", double(offsetof(RingState, tail)));
  l.Set("ringWritersOpen", double(offsetof(RingState, writers_open)));
  l.Set("ringReadersOpen", double(offsetof(RingState, readers_open)));
  export_area_layout(env, c, l);
  exports.Set("layout", l);
  return exports;
}

NODE_API_MODULE(intervmfs, Init)
