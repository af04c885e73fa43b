#!/usr/bin/env bash
# The native addon built with AddressSanitizer and UndefinedBehaviorSanitizer,
# and the unit tests (which drive it through every ring, table and notifier
# path) run against that build (npm run sanitize). Any report fails the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d /tmp/intervmfs-asan.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
NODE_INCLUDE=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
NAPI_INCLUDE=$(node -p "require('node-addon-api').include_dir")
FUSE_INCLUDE=$(node -e "require('fuse-shared-library/include')")
# Every .cc of native/ and native/engine/ is the addon's (binding.gyp lists
# the same; the fuzz harnesses live in native/fuzz/).
echo "sanitize: building the addon with -fsanitize=address,undefined"
g++ -std=c++20 -shared -fPIC -g -O1 -fno-omit-frame-pointer -fexceptions \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -I"$NODE_INCLUDE" -I"$NAPI_INCLUDE" -I"$FUSE_INCLUDE" -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -D_FILE_OFFSET_BITS=64 -DIVFS_TEST_HARNESS \
  native/*.cc native/engine/*.cc native/port/*.cc \
  -o "$OUT/intervmfs.node"
[ -d dist/test/unit ] || npx tsc -p tsconfig.json
echo "sanitize: unit tests against it"
# Node itself is not instrumented, so the runtimes are preloaded; leak
# checking is off because V8 keeps memory until exit by design.
INTERVMFS_ADDON="$OUT/intervmfs.node" \
LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node node_modules/mocha/bin/mocha.js 'dist/test/unit/**/*.test.js' 2>&1 | tee "$OUT/log" | tail -5  || true
if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$OUT/log"; then
  echo "sanitize: a sanitizer reported a problem:" >&2
  grep -A30 -E 'ERROR: AddressSanitizer|runtime error:' "$OUT/log" | head -60 >&2
  exit 1
fi
if ! grep -qE '^\s+[0-9]+ passing' "$OUT/log" || grep -qE '^\s+[0-9]+ failing' "$OUT/log"; then
  echo "sanitize: unit tests failed:" >&2
  sed -n '/^\s*[0-9]* failing/,$p' "$OUT/log" | head -60 >&2
  exit 1
fi
# binding.gyp's libintervmfs target: the Node-free sources.
LIBRARY_SOURCES="const t = JSON.parse(require('fs').readFileSync('binding.gyp', 'utf8').replace(/^\\s*#.*\$/gm, '')).targets;
console.log(t.find((x) => x.target_name === 'libintervmfs').sources.join(' '))"
# The C library (native/intervmfs.h) the same way, through its example
# program: 8 MiB from a writer on side a to a reader on side b of one set,
# two processes, both instrumented.
echo "sanitize: the C library through intervmfs-cat, side a to side b"
g++ -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -I"$FUSE_INCLUDE" -Inative -D_FILE_OFFSET_BITS=64 -x c native/examples/channel-cat.c -x c++ \
  $(node -e "$LIBRARY_SOURCES") -lpthread -o "$OUT/intervmfs-cat" 2> "$OUT/cat-build.log" ||
  { cat "$OUT/cat-build.log" >&2; exit 1; }
node bin/intervmfs.js format --memsections "$OUT/set" --channels 4 --data-size 256K > /dev/null
head -c 8M /dev/urandom > "$OUT/payload"
export ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$OUT/intervmfs-cat" -w "$OUT/set" a c < "$OUT/payload" 2> "$OUT/cat-w.log" &
writer=$!
"$OUT/intervmfs-cat" "$OUT/set" b c > "$OUT/got" 2> "$OUT/cat-r.log" || { cat "$OUT/cat-r.log" >&2; exit 1; }
wait $writer || { cat "$OUT/cat-w.log" >&2; exit 1; }
cmp -s "$OUT/payload" "$OUT/got" || { echo "sanitize: the C library's 8 MiB arrived damaged" >&2; exit 1; }
echo "sanitize: clean"
