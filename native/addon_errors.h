// How a SetError crosses into JavaScript: an Error whose `code` is
// EIVFS_<code>, which the TypeScript side turns into a UserError.
#pragma once

#include <napi.h>

#include "memsection_set.h"

namespace ivfs {

inline Napi::Error set_error(Napi::Env env, const SetError &e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, "EIVFS_" + e.code));
  return err;
}

}  // namespace ivfs
