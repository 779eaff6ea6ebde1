#!/bin/sh
# Sample maintenance script for the local manager container: a long job with progress output.
# Usage: slow.sh [seconds]     (default 5)
# Behaves like a real progress bar: one log line per second printed above a bar that is redrawn
# in place with `\r` (no newline) and cleared with `ESC[K` before each log line, so a reader
# that collapses `\r` shows only the bar's latest state.
set -eu

seconds=${1:-5}
case $seconds in
  '' | *[!0-9]*)
    echo "slow.sh: seconds must be a whole number, got: $seconds" >&2
    exit 2
    ;;
esac

bar() {
  filled=$(($1 * 20 / seconds)) b=''
  while [ "${#b}" -lt "$filled" ]; do b="$b#"; done
  printf '\r[%-20s] %d/%d' "$b" "$1" "$seconds"
}

echo "starting a job of ${seconds}s"
i=0
bar 0
while [ "$i" -lt "$seconds" ]; do
  i=$((i + 1))
  sleep 1
  printf '\r\033[Kstep %d of %d done\n' "$i" "$seconds"
  bar "$i"
done
printf '\r\033[K'
echo "job finished"
