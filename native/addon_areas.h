// The area registry's and the area router's classes for the addon's
// exports (addon.cc): they only turn JavaScript values into calls of
// area_registry.h and area_router.h and back.
#pragma once

#include <napi.h>

namespace ivfs {
Napi::Function define_area_registry(Napi::Env env);
Napi::Function define_area_router(Napi::Env env);
// Constants and byte offsets of the registry (layout.h), for tests and docs.
void export_area_layout(Napi::Env env, Napi::Object constants, Napi::Object layout);
}
