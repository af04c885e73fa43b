// The area registry's and the area router's classes for the addon's
// exports (addon.cc): they only turn JavaScript values into calls of
// area_registry.h and area_router.h and back.
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
