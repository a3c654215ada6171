#!/usr/bin/env bash
# Atomic checkpoint writes under SIGKILL: a writer (test_checkpoint --writer-loop) saves last.h5
# over and over with varying, self-consistent content and is killed with kill -9, 30 times: odd
# rounds at a random moment 0-49 ms after its first save, even rounds as soon as its temp file
# appears (a third of them 0-4 ms later), i.e. while the new file is written, fsynced or renamed.
# After every kill the target must load strictly and hold exactly one writer iteration (--verify),
# stale temp files stay bounded (the next writer's save sweeps those of dead writers), and most
# in-write kills must really have found the temp file in place, so the test exercises what it
# claims to.
set -u
BIN="$(dirname "${GESTURE:?}")/tests/test_checkpoint"
[ -x "$BIN" ] || { echo "FAIL test_checkpoint not built at $BIN"; exit 1; }
DIR=$(mktemp -d)
writer=
trap '[ -n "$writer" ] && kill -9 "$writer" 2>/dev/null; rm -rf "$DIR"' EXIT
T="$DIR/last.h5"
KILLS=${KILLS:-30}
pass=0 fail=0 inwrite=0 inwrite_rounds=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
ntmp() { find "$DIR" -name 'last.h5.tmp.*' | wc -l; }

"$BIN" --writer-loop "$T" 1 || { echo "FAIL initial save"; exit 1; }
RANDOM=12345
for i in $(seq 1 "$KILLS"); do
    rm -f "$T.ready"
    "$BIN" --writer-loop "$T" &
    writer=$!
    for _ in $(seq 1 1000); do [ -e "$T.ready" ] && break; sleep 0.01; done
    [ -e "$T.ready" ] || { echo "FAIL writer $i never finished its first save"; exit 1; }
    if [ $((i % 2)) -eq 1 ]; then
        sleep "0.0$(printf %02d $((RANDOM % 50)))"
        kill -9 "$writer"
    else
        inwrite_rounds=$((inwrite_rounds + 1))
        tmp="$T.tmp.$writer"
        end=$((SECONDS + 10))
        until [ -e "$tmp" ] || [ $SECONDS -ge $end ]; do :; done  # busy-wait: the window is milliseconds
        [ $((RANDOM % 3)) -eq 0 ] && sleep "0.00$((RANDOM % 5))"  # later: fsync / rename / sweep
        kill -9 "$writer"
        wait "$writer" 2>/dev/null
        [ -e "$tmp" ] && inwrite=$((inwrite + 1))
    fi
    wait "$writer" 2>/dev/null
    writer=
    n=$(ntmp)
    out=$("$BIN" --verify "$T" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ "$n" -gt 1 ]; then
        echo "FAIL kill $i: verify rc=$rc ($out), $n temp files"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
done
echo "$KILLS kills: $pass left a loadable, consistent target; $inwrite of $inwrite_rounds in-write kills found the temp file"
ok "at least half of the in-write kills interrupted a write" "[ $((2 * inwrite)) -ge $inwrite_rounds ]"
"$BIN" --writer-loop "$T" 2 >/dev/null
ok "a clean save afterwards sweeps the stale temp files" "[ \$(ntmp) -eq 0 ]"
ok "and the target verifies" "\"\$BIN\" --verify \"\$T\" >/dev/null"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
