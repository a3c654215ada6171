#!/usr/bin/env bash
# The `gesture` entry point itself: `gesture help CMD` prints CMD's help (as `gesture CMD --help`),
# `gesture --version` / `gesture version` print the version, an unknown command is exit 2.
set -u
G=${GESTURE:?}
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

a=$("$G" help train); rc=$?
b=$("$G" train --help)
ok "gesture help train = gesture train --help" "[ $rc -eq 0 ] && [ \"\$a\" = \"\$b\" ] && grep -q '^usage: gesture train' <<<\"\$a\""
"$G" help nosuch >/dev/null 2>&1
ok "gesture help nosuch: exit 2" "[ $? -eq 2 ]"
v=$("$G" --version); rc=$?
ok "gesture --version prints 'gesture X.Y.Z' ($v)" "[ $rc -eq 0 ] && grep -Eqx 'gesture [0-9]+\.[0-9]+\.[0-9]+' <<<\"\$v\""
ok "gesture version = gesture --version" "[ \"\$($G version)\" = \"\$v\" ]"
ok "gesture --help mentions --version and help CMD" "$G --help | grep -q -- '--version' && $G --help | grep -q 'help <command>'"
"$G" nosuch >/dev/null 2>&1
ok "unknown command: exit 2" "[ $? -eq 2 ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
