#!/usr/bin/env bash
# docs/config.md is generated from the config schema (src/io/config_schema.c) by
# `gesture train --help-config=markdown`: fail when the committed page and the binary disagree.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
DOC="$SRC/docs/config.md"
[ -f "$DOC" ] || { echo "FAIL $DOC is missing; generate it: build/gesture train --help-config=markdown > docs/config.md"; exit 1; }
GEN=$(mktemp)
trap 'rm -f "$GEN"' EXIT
"$G" train --help-config=markdown > "$GEN" || { echo "FAIL gesture train --help-config=markdown exited non-zero"; exit 1; }
grep -q '^| `data.root` |' "$GEN" || { echo "FAIL the generated page has no data.root row"; exit 1; }
if ! diff -u "$DOC" "$GEN"; then
  echo "FAIL docs/config.md differs from what the binary generates (diff above: - committed, + generated)."
  echo "     Regenerate it from the source root: build/gesture train --help-config=markdown > docs/config.md"
  exit 1
fi
echo "ok   docs/config.md matches gesture train --help-config=markdown"
