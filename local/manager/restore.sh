#!/bin/sh
# Sample maintenance script for the local manager container: a fake database restore.
# Usage: restore.sh <backup-id>      (an id as printed by backup.sh: YYYYMMDD-HHMMSS-label)
set -eu

id=${1:-}
if [ -z "$id" ]; then
  echo "usage: restore.sh <backup-id>" >&2
  exit 2
fi
if ! printf '%s\n' "$id" | grep -Eq '^[0-9]{8}-[0-9]{6}-[a-z0-9-]+$'; then
  echo "restore.sh: invalid backup id: $id (expected YYYYMMDD-HHMMSS-label)" >&2
  exit 2
fi

dir=$(cd "$(dirname "$0")" && pwd)
if [ -f "$dir/backups/$id.dump" ]; then
  echo "restoring from local dump $id"
else
  echo "fetching $id from the backup bucket"
fi
for step in "dropping connections" "restoring schema" "restoring data" "rebuilding indexes"; do
  printf '\033[2m...\033[0m %s\n' "$step"
  sleep 0.05
done
printf '\033[32m✔\033[0m restore of %s complete\n' "$id"
