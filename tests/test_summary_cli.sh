#!/usr/bin/env bash
# `gesture summary` and `gesture bench` from the CLI: the seed config's parameter counts match Keras
# (3,379,525 total, 2,257,984 in MobileNetV2), bad input fails with a message, bench runs and
# counts its steps on stderr.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

out=$("$G" summary "$SRC/experiments/seed_15f.ini")
ok "summary exits 0" "[ $? -eq 0 ]"
ok "total params 3,379,525" "grep -q 'Total params: 3,379,525' <<<\"\$out\""
ok "backbone params 2,257,984" "grep -q 'Backbone (MobileNetV2) params: 2,257,984' <<<\"\$out\""
ok "non-trainable 36,672 (34,112 backbone + 2,560 head BN moving stats)" "grep -q 'Non-trainable params: 36,672' <<<\"\$out\""
ok "Keras layer names listed" "grep -q 'block_16_project_BN' <<<\"\$out\" && grep -q 'Conv_1_bn' <<<\"\$out\""
out30=$("$G" summary "$SRC/experiments/seed_30f.ini")
ok "30 frames: same parameter count" "grep -q 'Total params: 3,379,525' <<<\"\$out30\" && grep -q '30 frames' <<<\"\$out30\""
small=$("$G" summary "$SRC/experiments/seed_15f.ini" --set model.alpha=0.35 --set data.size=96)
ok "--set changes the model" "grep -q 'mobilenetv2_0.35_96' <<<\"\$small\""
err=$("$G" summary "$SRC/experiments/seed_15f.ini" --set model.alpha=0.6 2>&1 >/dev/null); rc=$?
ok "bad --set value fails with the choices" "[ $rc -ne 0 ] && grep -q '0.35' <<<\"\$err\""
err=$("$G" summary /nonexistent.ini 2>&1 >/dev/null); rc=$?
ok "missing config fails naming it" "[ $rc -ne 0 ] && grep -q '/nonexistent.ini' <<<\"\$err\""
ok "summary --help" "\"\$G\" summary --help | grep -q 'usage: gesture summary'"
b=$("$G" bench "$SRC/experiments/seed_15f.ini" --steps 1 --set data.size=32 --set data.frames=2 --set model.alpha=0.35 --set train.batch_size=2 2>"$T/bench.err")
ok "bench prints train and inference img/s" "grep -q '^train .* img/s' <<<\"\$b\" && grep -q '^inference .* img/s' <<<\"\$b\""
ok "bench counts its steps on stderr (not a tty: a line per count)" \
   "grep -qx 'bench: train steps 0/2' \"\$T/bench.err\" && grep -qx 'bench: train steps 2/2' \"\$T/bench.err\" && grep -qx 'bench: inference steps 2/2' \"\$T/bench.err\""
p=$("$G" bench "$SRC/experiments/seed_15f.ini" --steps 1 --profile --set data.size=32 --set data.frames=2 --set model.alpha=0.35 --set train.batch_size=2)
ok "bench --profile prints the per-op table" "grep -q '^DepthwiseConv2D ' <<<\"\$p\" && grep -q '^Adam (all parameters)' <<<\"\$p\""
s=$("$G" bench "$SRC/experiments/seed_15f.ini" --steps 3 --settle --max-warm 4 --set data.size=32 --set data.frames=2 --set model.alpha=0.35 --set train.batch_size=2 2>/dev/null)
ok "bench --settle: every phase line says its warm-up (3 to 4 steps)" \
   "[ \$(grep -cE '^(train|inference|inference-ref|latency) .* img/s .* warm [34]( unsettled)?( |\$)' <<<\"\$s\") -eq 4 ]"
err=$("$G" bench "$SRC/experiments/seed_15f.ini" --settle --max-warm 0 2>&1 >/dev/null); rc=$?
ok "bench --max-warm 0 fails naming the option" "[ $rc -eq 2 ] && grep -q -- '--max-warm' <<<\"\$err\""
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
