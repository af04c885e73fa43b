// The library's channel class for the addon's exports (addon.cc).
#pragma once

#include <napi.h>

namespace ivfs {
Napi::Function define_side_channels(Napi::Env env);
}
