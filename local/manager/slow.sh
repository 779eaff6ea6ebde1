#!/bin/sh
# Sample maintenance script for the local manager container: a long job with progress output.
# Usage: slow.sh [seconds]     (default 5)
# One line per second, plus a `\r`-redrawn progress bar between them.
set -eu

seconds=${1:-5}
case $seconds in
  '' | *[!0-9]*)
    echo "slow.sh: seconds must be a whole number, got: $seconds" >&2
    exit 2
    ;;
esac

echo "starting a job of ${seconds}s"
i=0
while [ "$i" -lt "$seconds" ]; do
  i=$((i + 1))
  sleep 1
  bar='' filled=$((i * 20 / seconds))
  while [ "${#bar}" -lt "$filled" ]; do bar="$bar#"; done
  printf '\r[%-20s] %d/%d' "$bar" "$i" "$seconds"
  printf '\nstep %d of %d done\n' "$i" "$seconds"
done
echo "job finished"
