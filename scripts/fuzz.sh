#!/usr/bin/env bash
# Coverage-guided fuzzing of the shared-memory code with libFuzzer, built with
# AddressSanitizer and UndefinedBehaviorSanitizer (npm run fuzz [seconds]):
#   fuzz_ring   the byte ring, with the peer scribbling on its indices
#   fuzz_table  a control memsection patched anywhere, then the channel table
#   fuzz_engine the FIFO engine of both sides, with the peer scribbling on a channel
#   fuzz_registry an area region's registry patched anywhere, then attach, detach, heartbeat, remove
#   fuzz_wire   the port transport's stream decoder fed a hostile byte stream in chunks
#   fuzz_port   the port transport's mirror applying a hostile peer's frames to a set, its TX side checked for valid wire
# Each runs for SECONDS (default 60); a crash stops the run with a non-zero
# exit and leaves the crashing input in the work folder, which is printed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-60}
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found; install Debian's clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
WORK=$(mktemp -d /tmp/intervmfs-fuzz.XXXXXX)
trap 'rm -rf "$WORK"/bin "$WORK"/corpus-*' EXIT
mkdir -p "$WORK/bin"
FLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT/native")

echo "fuzz: building with $($CXX --version | head -1)"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_ring.cc" -o "$WORK/bin/fuzz_ring"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_table.cc" "$ROOT/native/channel_table.cc" "$ROOT/native/memsection_set.cc" -o "$WORK/bin/fuzz_table"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_engine.cc" "$ROOT/native/engine/fifo_engine.cc" "$ROOT/native/engine/wake_word.cc" "$ROOT/native/channel_table.cc" \
  "$ROOT/native/memsection_set.cc" "$ROOT/native/name_index.cc" "$ROOT/native/notifier.cc" "$ROOT/native/doorbell.cc" "$ROOT/native/doorbell_hub.cc" -o "$WORK/bin/fuzz_engine"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_registry.cc" "$ROOT/native/area_registry.cc" "$ROOT/native/memsection_set.cc" -o "$WORK/bin/fuzz_registry"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_wire.cc" "$ROOT/native/port/wire.cc" "$ROOT/native/channel_table.cc" "$ROOT/native/memsection_set.cc" -o "$WORK/bin/fuzz_wire"
"$CXX" "${FLAGS[@]}" "$ROOT/native/fuzz/fuzz_port.cc" "$ROOT/native/port/mirror.cc" "$ROOT/native/port/wire.cc" "$ROOT/native/channel_table.cc" \
  "$ROOT/native/memsection_set.cc" "$ROOT/native/notifier.cc" "$ROOT/native/doorbell.cc" "$ROOT/native/doorbell_hub.cc" -o "$WORK/bin/fuzz_port"

status=0
for h in fuzz_ring fuzz_table fuzz_engine fuzz_registry fuzz_wire fuzz_port; do
  corpus="$WORK/corpus-$h"
  mkdir -p "$corpus"
  cp "$ROOT/native/fuzz/corpus/${h#fuzz_}"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $h for ${SECONDS_EACH}s"
  if (cd "$WORK" && "$WORK/bin/$h" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -jobs=1 "$corpus" > "$WORK/$h.log" 2>&1); then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$WORK/$h.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$WORK/$h.log" | tail -1 || true)
    echo "fuzz: $h: $runs executions, no crash ($cov)"
    rm -f "$WORK/$h.log"
  else
    echo "fuzz: $h FAILED; log and crashing input in $WORK:" >&2
    tail -40 "$WORK/$h.log" >&2
    status=1
  fi
done
[ $status -eq 0 ] && rm -rf "$WORK"
exit $status
