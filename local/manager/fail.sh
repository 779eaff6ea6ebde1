#!/bin/sh
# Sample maintenance script for the local manager container: always fails, to show how failures look.
# Writes to stdout, then to stderr, and exits with 3.
echo "checking preconditions..."
echo "fail.sh: precondition failed: the database is read-only" >&2
exit 3
