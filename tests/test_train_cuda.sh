#!/usr/bin/env bash
# `gesture train` on the GPU, end to end on a tiny synthetic set (as tests/test_train_cli.sh):
# 2 epochs on the CPU and on CUDA from the same seed agree (epoch-1 loss and val_loss within 1e-3
# relative: the same batches, labels, dropout masks and losses); eval and predict of that run on
# either device, the inference plan or the reference ops, agree within 1e-4; runtime.precision =
# bf16 on cuda (eval, predict, train, bench) within bf16's reach of fp32; CUDA with runtime.cuda_graph on and
# off writes an identical training log (and the graph really replayed steps); Ctrl-C on CUDA saves
# last.h5 and --resume continues to the same log and weights as an uninterrupted CUDA run. Without
# a device (as `gesture info` reports) only the CPU-side behaviour is checked -- device=cuda is a
# one-line error with exit 1 (from a CUDA binary that finds no device, too: the emulator with
# GESTURE_CUDA_EMU_DEVICES=0), auto trains on the CPU -- and the test then exits 77 (skipped).
set -u
G=${GESTURE:?}
PY=${GESTURE_PYTHON:-${PYTHON:-/usr/bin/python3}}  # needs h5py and numpy (CMake's, or the one gpu_check.sh finds)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

info=$("$G" info) || { echo "gesture info failed"; exit 1; }
echo "$info" | grep '^cuda'
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"
tiny_setup "$T" || exit 1

# one_clean_line MSG: a single line that names runtime.device = cuda once, brackets balanced
one_clean_line() {
  [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] && [ "$(grep -o 'runtime.device = cuda' <<<"$1" | wc -l)" -eq 1 ] &&
    [ "$(tr -cd '(' <<<"$1" | wc -c)" -eq "$(tr -cd ')' <<<"$1" | wc -c)" ]
}
# A CUDA binary that finds no device (the emulator told to report none; a real GPU ignores the
# variable): the CUDA runtime's reason comes after the key, once.
if GESTURE_CUDA_EMU_DEVICES=0 "$G" info | grep -qx 'cuda devices: 0'; then
  err=$(GESTURE_CUDA_EMU_DEVICES=0 "$G" train "$T/tiny.ini" --set runtime.device=cuda --run-dir "$T/nodev" 2>&1 >/dev/null)
  rc=$?
  echo "$err"
  ok "cuda backend, no device, device=cuda: exit 1, one clean line with the reason" \
     "[ $rc -eq 1 ] && one_clean_line \"\$err\" && grep -q 'no CUDA device' <<<\"\$err\""
fi

if ! grep -q '^cuda devices: [1-9]' <<<"$info"; then
  err=$("$G" train "$T/tiny.ini" --set runtime.device=cuda --run-dir "$T/nodev" 2>&1 >/dev/null); rc=$?
  echo "$err"
  ok "device=cuda without a device: exit 1" "[ $rc -eq 1 ]"
  ok "device=cuda without a device: one clean line on stderr naming runtime.device" "one_clean_line \"\$err\""
  ok "device=cuda without a device: no run directory" "[ ! -e '$T/nodev' ]"
  "$G" train "$T/tiny.ini" --set train.epochs=1 --run-dir "$T/auto" >"$T/auto.out" 2>&1
  ok "device=auto without a device trains on the CPU" \
     "[ $? -eq 0 ] && grep -q 'threads, cpu$' '$T/auto.out' && grep -qx 'device = cpu' '$T/auto/timing.ini'"
  err=$("$G" eval "$T/auto" --split val --device cuda --no-plots 2>&1 >/dev/null); rc=$?
  ok "eval --device cuda without a device: exit 1, one line naming runtime.device" \
     "[ $rc -eq 1 ] && [ \$(printf '%s\n' \"\$err\" | wc -l) -eq 1 ] && grep -q 'runtime.device = cuda' <<<\"\$err\""
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ] || exit 1
  echo "no CUDA device: GPU training checks skipped"
  exit 77
fi

# CPU vs CUDA, 2 epochs from the same seed. At a tiny learning rate: Adam's first steps move every
# weight by about +-lr whatever its gradient's size, and this tiny model's gradients differ between
# CPU and GPU by ~1% (float noise in the forward, ~1e-4, amplified by BN backward over 8 rows), so at
# lr 1e-3 the two runs drift apart within a few steps (~3% in the epoch-1 loss on the emulator, as
# CPU and GPU would) while at 1e-6 they stay within ~2e-4 -- a wrong batch, label or dropout mask
# still shows at once (per-batch losses differ by tens of %).
cmp_set=(--set train.epochs=2 --set train.learning_rate=1e-6)
"$G" train "$T/tiny.ini" "${cmp_set[@]}" --set runtime.device=cpu --run-dir "$T/cpu" >"$T/cpu.out" 2>&1
ok "cpu run exits 0" "[ $? -eq 0 ]"
"$G" train "$T/tiny.ini" "${cmp_set[@]}" --set runtime.device=cuda --run-dir "$T/gpu" >"$T/gpu.out" 2>&1
rc=$?
ok "cuda run exits 0" "[ $rc -eq 0 ]"
[ $rc -eq 0 ] || tail -5 "$T/gpu.out"
ok "cuda banner names the device" "grep -q 'threads, cuda: ' '$T/gpu.out'"
ok "timing.ini says device = cuda" "grep -qx 'device = cuda' '$T/gpu/timing.ini'"
close() {  # close COLUMN: epoch-1 values of the cpu and cuda logs within 1e-3 relative
  awk -F, -v c="$1" 'FNR == 2 { v[NR == FNR] = $c } END {
    d = v[1] - v[0]; d = d < 0 ? -d : d; s = v[1] < 0 ? -v[1] : v[1]
    printf "  %s: cpu %s cuda %s\n", c == 4 ? "loss" : "val_loss", v[1], v[0]
    exit !(v[1] != "" && v[0] != "" && d <= 1e-3 * s) }' "$T/cpu/training_log.csv" "$T/gpu/training_log.csv"
}
ok "epoch-1 loss: cpu and cuda within 1e-3 relative" "close 4"
ok "epoch-1 val_loss: cpu and cuda within 1e-3 relative" "close 6"

# gesture eval of the cuda-trained run on both devices, the folded inference plan (the default) and
# the reference ops on each: the same predictions (probabilities within 1e-4 of each other, the same
# classes)
for d in cpu cuda; do
  for inf in plan reference; do
    "$G" eval "$T/gpu" --split val --device $d --inference $inf --no-plots --out "$T/eval_${d}_$inf" \
      >"$T/eval_${d}_$inf.out" 2>&1
    ok "eval --device $d --inference $inf exits 0" \
       "[ $? -eq 0 ] && grep -q 'evaluating val on $d.*inference: $inf' '$T/eval_${d}_$inf.out'"
  done
done
ok "eval on cuda names the plan's device" "grep -q 'inference: plan (cuda)' '$T/eval_cuda_plan.out'"
ok "eval on cuda and cpu, plan and reference: same predicted classes, probabilities within 1e-4" "$PY - '$T' <<'PY'
import csv, sys
runs = [f'eval_{d}_{i}' for d in ('cpu', 'cuda') for i in ('plan', 'reference')]
rows = [list(csv.reader(open(f'{sys.argv[1]}/{r}/eval/best/val/predictions.csv'))) for r in runs]
ok = True
for b in rows[1:]:
    a = rows[0]
    ok &= len(a) == len(b) > 1 and a[0] == b[0]
    for ra, rb in zip(a[1:], b[1:]):
        for x, y in zip(ra, rb):
            try:
                ok &= abs(float(x) - float(y)) <= 1e-4
            except ValueError:
                ok &= x == y
sys.exit(0 if ok else 1)
PY"

# gesture predict on both devices and both inference paths: the same JSON within 1e-4
for d in cpu cuda; do
  for inf in plan reference; do
    "$G" predict "$T/gpu" "$T/prep/val" --json --batch 3 --device $d --inference $inf >"$T/pred_${d}_$inf.json" \
      2>"$T/pred_${d}_$inf.err"
    ok "predict --device $d --inference $inf exits 0" "[ $? -eq 0 ]"
  done
done
ok "predict on cuda and cpu, plan and reference: same labels, probabilities within 1e-4" "$PY - '$T' <<'PY'
import json, sys
runs = [json.load(open(f'{sys.argv[1]}/pred_{d}_{i}.json')) for d in ('cpu', 'cuda') for i in ('plan', 'reference')]
a = runs[0]
ok = len(a) > 1
for b in runs[1:]:
    ok &= [r['clip'] for r in a] == [r['clip'] for r in b] and [r['label'] for r in a] == [r['label'] for r in b]
    for ra, rb in zip(a, b):
        ok &= all(abs(ra['probabilities'][k] - rb['probabilities'][k]) <= 1e-4 for k in ra['probabilities'])
sys.exit(0 if ok else 1)
PY"

# runtime.precision = bf16 on cuda: the plan runs in bf16 (activations, 1x1 weights), the executor's
# GEMMs take bf16 operands (tests/test_cuda_plan.c and test_cuda_bf16.c check their numbers; here:
# the banners, and results within bf16's reach of fp32's)
"$G" eval "$T/gpu" --split val --device cuda --precision bf16 --no-plots --out "$T/eval_bf16" >"$T/eval_bf16.out" 2>&1
ok "eval --device cuda --precision bf16 runs the plan in bf16" \
   "[ $? -eq 0 ] && grep -q 'inference: plan (cuda, bf16)' '$T/eval_bf16.out'"
for inf in plan reference; do
  "$G" predict "$T/gpu" "$T/prep/val" --json --batch 3 --device cuda --inference $inf --precision bf16 \
    >"$T/pred_bf16_$inf.json" 2>"$T/pred_bf16_$inf.err"
  ok "predict --device cuda --inference $inf --precision bf16: exit 0, nothing said about fp32" \
     "[ $? -eq 0 ] && ! grep -q 'runs in fp32' '$T/pred_bf16_$inf.err'"
  ok "predict --device cuda --inference $inf --precision bf16: probabilities within 0.06 of fp32's, not equal" \
     "$PY - '$T' $inf <<'PY'
import json, sys
a, b = (json.load(open(f'{sys.argv[1]}/{n}.json')) for n in (f'pred_cuda_{sys.argv[2]}', f'pred_bf16_{sys.argv[2]}'))
err = max(abs(x['probabilities'][k] - y['probabilities'][k]) for x, y in zip(a, b) for k in x['probabilities'])
print('max |bf16 - fp32| =', err)
sys.exit(0 if len(a) == len(b) > 1 and 0 < err < 0.06 else 1)
PY"
done
# training in bf16 on cuda: the banner says so, and epoch 1 (at the comparison runs' tiny learning
# rate) validates within 2% of the fp32 cuda run's val_loss. (Not the training loss: this tiny
# model's training forward normalizes each BN over 8 frames of 1x1 pixels at the end, which turns
# bf16's rounding into a 5-10% different loss; the validation uses the moving statistics.)
"$G" train "$T/tiny.ini" "${cmp_set[@]}" --set runtime.device=cuda --set runtime.precision=bf16 --run-dir "$T/gpu_bf16" \
  >"$T/gpu_bf16.out" 2>&1
ok "cuda bf16 run exits 0, its banner says bf16" "[ $? -eq 0 ] && grep -q 'threads, cuda: .*, bf16' '$T/gpu_bf16.out'"
ok "cuda bf16 epoch-1 val_loss within 2% of fp32's" "awk -F, 'FNR == 2 { v[NR == FNR] = \$6 } END {
    d = v[1] - v[0]; d = d < 0 ? -d : d; printf \"  val_loss: fp32 %s bf16 %s\\n\", v[1], v[0]
    exit !(v[1] != \"\" && v[0] != \"\" && d <= 0.02 * v[1]) }' '$T/gpu/training_log.csv' '$T/gpu_bf16/training_log.csv'"

# gesture bench on cuda: the train step, the executor's inference and the folded plan's (fp32, bf16)
b=$("$G" bench "$T/tiny.ini" --steps 1 --set runtime.device=cuda --set runtime.precision=bf16 2>&1)
ok "bench on cuda prints train, inference and the folded plan's inference in fp32 and bf16" \
   "grep -q '^train .* img/s' <<<\"\$b\" && grep -q '^inference .*(folded plan, clips' <<<\"\$b\" &&
    grep -q '^inference .*(folded plan, bf16' <<<\"\$b\" && grep -q 'cuda: .*, bf16 GEMMs' <<<\"\$b\""

# CUDA graph on vs off: the same training, bit for bit (at the usual learning rate)
"$G" train "$T/tiny.ini" --set train.epochs=2 --set runtime.device=cuda --run-dir "$T/eager" >"$T/eager.out" 2>&1
ok "cuda_graph=off run exits 0" "[ $? -eq 0 ]"
"$G" train "$T/tiny.ini" --set train.epochs=2 --set runtime.device=cuda --set runtime.cuda_graph=on \
  --run-dir "$T/graph" >"$T/graph.out" 2>&1
ok "cuda_graph=on run exits 0" "[ $? -eq 0 ]"
ok "cuda_graph=on replayed train steps" "grep -Eq '^cuda_graph_steps = [1-9]' '$T/graph/timing.ini'"
ok "cuda_graph=off replayed none" "grep -qx 'cuda_graph_steps = 0' '$T/eager/timing.ini'"
ok "training_log.csv identical with the graph on and off" "cmp -s '$T/eager/training_log.csv' '$T/graph/training_log.csv'"

# Ctrl-C and --resume on CUDA (graph on: the resumed process warms up and captures again)
set_gpu=(--set runtime.device=cuda --set runtime.cuda_graph=on)
"$G" train "$T/tiny.ini" "${set_gpu[@]}" --run-dir "$T/full" >"$T/full.out" 2>&1
ok "uninterrupted cuda run exits 0" "[ $? -eq 0 ]"
"$G" train "$T/tiny.ini" "${set_gpu[@]}" --run-dir "$T/cut" >"$T/cut.out" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do grep -q '^epoch 2/' "$T/cut.out" && break; sleep 0.01; done
kill -INT $pid 2>/dev/null; wait $pid; rc=$?
grep 'interrupted' "$T/cut.out"
ok "Ctrl-C on cuda exits 130 and says how to resume" "[ $rc -eq 130 ] && grep -q -- '--resume' '$T/cut.out'"
"$G" train --resume "$T/cut" >"$T/resume.out" 2>&1
ok "cuda resume exits 0" "[ $? -eq 0 ]"
ok "resumed cuda log identical to the uninterrupted one" "cmp -s '$T/full/training_log.csv' '$T/cut/training_log.csv'"
if ! cmp -s "$T/full/training_log.csv" "$T/cut/training_log.csv"; then diff "$T/full/training_log.csv" "$T/cut/training_log.csv" | head; fi
ok "resumed cuda weights and Adam moments identical (last.h5)" \
  "same_tensors '$T/full/checkpoints/last.h5' '$T/cut/checkpoints/last.h5' weights optimizer"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
