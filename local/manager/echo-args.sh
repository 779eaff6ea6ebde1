#!/bin/sh
# Sample script for argument-passing tests: prints how many arguments arrived and each one between
# markers, byte for byte (printf %s, never echo, which may interpret backslashes or options).
printf '<<<args %d>>>\n' "$#"
i=0
for arg in "$@"; do
  i=$((i + 1))
  printf '<<<arg %d>>>%s<<<end %d>>>\n' "$i" "$arg" "$i"
done
printf '<<<done>>>\n'
