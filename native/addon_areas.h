// The addon's area surfaces, one file each: the registry
// (addon_area_registry.cc), the router (addon_area_router.cc), the doorbell
// hub (addon_doorbell_hub.cc) and the layout (addon_area_layout.cc). They
// only turn JavaScript values into calls of the C++ below and back.
#pragma once

#include <napi.h>

#include <memory>

#include "doorbell_hub.h"
#include "fuse_hooks.h"
#include "memsection_set.h"

namespace ivfs {
Napi::Function define_area_registry(Napi::Env env);
Napi::Function define_area_router(Napi::Env env);
Napi::Function define_doorbell_hub(Napi::Env env);
// A hook table as a handle for fuse-native's `nativeHooks` and
// AreaRouter.add (a Memsections' or an AreaRouter's fuseHooks()).
Napi::Value hooks_handle(Napi::Env env, struct fuse_native_hooks *hooks);
// The mapped region behind an AreaRegistry's region() (a TypeError for anything else).
std::shared_ptr<const Mapping> shared_region_arg(const Napi::Value &handle);
// The hub behind a DoorbellHub's handle() (a TypeError for anything else).
std::shared_ptr<DoorbellHub> doorbell_hub_arg(const Napi::Value &handle);
// Constants and byte offsets of the registry (layout.h), for tests and docs.
void export_area_layout(Napi::Env env, Napi::Object constants, Napi::Object layout);
}
