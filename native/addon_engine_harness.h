// The unit tests' engine harness (addon_engine_harness.cc), compiled only
// into the test build of the addon (IVFS_TEST_HARNESS; binding.gyp's
// intervmfs_test target), never into the package's.
#pragma once

#include <napi.h>

namespace ivfs {
void export_engine_harness(Napi::Env env, Napi::Object exports);
}
