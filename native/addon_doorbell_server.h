// The doorbell server's class for the addon's exports (addon.cc).
#pragma once

#include <napi.h>

namespace ivfs {
Napi::Function define_doorbell_server(Napi::Env env);
}
