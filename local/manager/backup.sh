#!/bin/sh
# Sample maintenance script for the local manager container: a fake database dump.
# Usage: backup.sh <label>
# Prints a coloured header, `\r`-redrawn progress (as pg_dump wrappers do), writes
# backups/<id>.dump next to itself and prints the backup id that restore.sh takes.
set -eu

label=${1:-}
if [ -z "$label" ]; then
  echo "usage: backup.sh <label>" >&2
  exit 2
fi
case $label in
  *[!a-z0-9-]* | -*)
    echo "backup.sh: invalid label: $label (lowercase letters, digits and '-')" >&2
    exit 2
    ;;
esac

dir=$(cd "$(dirname "$0")" && pwd)
id="$(date -u +%Y%m%d-%H%M%S)-$label"
mkdir -p "$dir/backups"

printf '\033[1;34m==>\033[0m Backing up database \033[1m%s\033[0m\n' "${DATABASE_NAME:-app}"
for pct in 0 10 25 40 55 70 85 100; do
  printf '\rdumping tables... %3d%%' "$pct"
  sleep 0.05 # fractional sleep: GNU coreutils and busybox both take it
done
printf '\n'

{
  echo "-- fake dump $id"
  echo "-- label: $label"
  date -u +"-- taken at %Y-%m-%dT%H:%M:%SZ"
} >"$dir/backups/$id.dump"

size=$(wc -c <"$dir/backups/$id.dump" | tr -d ' ')
printf '\033[32m✔\033[0m backup complete: %s (%s bytes)\n' "$id" "$size"
echo "backup id: $id"
