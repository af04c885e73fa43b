#!/usr/bin/env bash
# The test command of README and CI: unit tests, integration tests with real
# mounts, the FIFO conformance suite (channel vs kernel FIFO), then the shell transfer tests with both notifiers. Runs every stage
# even when one fails, and ends with one line per stage.
set -u
cd "$(dirname "$0")/.."
results=()
status=0
stage() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then results+=("passed  $name"); else results+=("FAILED  $name"); status=1; fi
}
# The unit tests run on the test build of the addon, which adds the engine harness.
stage "unit tests" env INTERVMFS_ADDON="$PWD/build/Release/intervmfs_test.node" npx mocha 'dist/test/unit/**/*.test.js'
stage "integration tests" npx mocha --timeout 60000 'dist/test/integration/**/*.test.js'
stage "FIFO conformance" npx mocha --timeout 60000 'dist/test/conformance/**/*.test.js'
stage "shell transfer tests" bash test/shell/run.sh
echo "=== summary"
printf '  %s\n' "${results[@]}"
# Nothing may be left behind: no mount, no daemon, no shared-memory file.
leftovers=$(grep ' fuse.intervmfs ' /proc/mounts; pgrep -af 'intervmfs(\.js)? mount' ; ls /dev/shm | grep -i intervmfs)
if [ -n "$leftovers" ]; then echo "  FAILED  left behind:"; echo "$leftovers"; status=1; fi
exit $status
