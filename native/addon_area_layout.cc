// The area registry's constants, offsets and field table (layout.h) for
// tests and docs: test/unit checks docs/LAYOUT.md against the field table.
#include "addon_areas.h"

#include "area_registry.h"

#include <cstddef>

namespace ivfs {
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
