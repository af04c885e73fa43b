// A JavaScript callback that other threads call to say "something may have
// changed" (the notifier's onRing, the library's onReady): one thread-safe
// function, and at most one call queued on it. Calls while one is queued
// add nothing; the flag is lowered before the callback runs, so a change
// during the callback queues the next call and none is lost.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>

namespace ivfs {

// Callable from any thread until `tsfn` is released.
inline std::function<void()> coalesced_call(Napi::ThreadSafeFunction tsfn) {
  auto queued = std::make_shared<std::atomic<bool>>(false);
  return [tsfn, queued]() mutable {
    if (queued->exchange(true)) return;
    napi_status st = tsfn.NonBlockingCall([queued](Napi::Env, Napi::Function js) {
      queued->store(false);
      js.Call({});
    });
    if (st != napi_ok) queued->store(false);  // closing: nobody to call
  };
}

}  // namespace ivfs
