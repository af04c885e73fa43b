#!/usr/bin/env bash
# Runs every shell transfer test (t*.sh) with each notifier, then over the
# port transport, and prints a summary; exits non-zero if any test failed. Usage: run.sh [t10 t20 ...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
NOTIFIERS=${NOTIFIERS:-futex poll}
PAYLOADS=$(mktemp -d /tmp/intervmfs-payloads.XXXXXX)
trap 'rm -rf "$PAYLOADS"' EXIT
export PAYLOADS

echo "generating test payloads (4 KiB, 2 MiB, 1 GiB) in $PAYLOADS"
for size in 4K 2M 1G; do head -c "$size" /dev/urandom > "$PAYLOADS/$size.bin"; done

if [ $# -gt 0 ]; then tests=(); for t in "$@"; do tests+=("$HERE/$t"*.sh); done
else tests=("$HERE"/t*.sh); fi

failed=()
total=0
for notify in $NOTIFIERS; do
  for t in "${tests[@]}"; do
    total=$((total + 1))
    echo "== $(basename "$t" .sh) (notify $notify)"
    if ! NOTIFY=$notify bash "$t"; then failed+=("$(basename "$t" .sh)/$notify"); fi
  done
done
# The same transfers between two private sets joined by a port (mount
# --port over a Unix socket), with futex; t60 is about mount(8) itself.
if [ "${PORT_TESTS:-1}" = 1 ]; then
  for t in "${tests[@]}"; do
    case $(basename "$t") in t60*|t70*) continue ;; esac  # t70 is over the port already
    total=$((total + 1))
    echo "== $(basename "$t" .sh) (port transport, notify futex)"
    if ! TRANSPORT=port NOTIFY=futex bash "$t"; then failed+=("$(basename "$t" .sh)/port"); fi
  done
fi
echo "shell tests: $((total - ${#failed[@]})) of $total passed${failed:+; failed: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
