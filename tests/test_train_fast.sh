#!/usr/bin/env bash
# runtime.training = fast (the AVX2 1x1 and depthwise twins) against = reference over whole
# `gesture train` runs on the tiny synthetic set: one full-batch Adam step gives the same loss and
# gradients within rounding, a few epochs stay in the reference's band (training diverges from any
# rounding change, see below), the fast path really changed the numbers, and resuming on the
# reference path is bit-exact. (The fast path's resume is tests/test_train_cli.sh's check: it trains
# with the default, runtime.training = fast.)
set -u
G=${GESTURE:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"
# below the AVX2 tier (or GESTURE_PLAN_KERNELS=generic) fast runs the reference ops: nothing to compare
if ! "$G" info | grep -q '^cpu training fast kernels: avx2'; then
  echo "skip: no fast training kernels here ($("$G" info | grep '^cpu training fast kernels'))"
  exit 77
fi
tiny_cpu_start  # T, $T/tiny.ini: runtime.threads = 1, seed 42

train() {  # train NAME PATH [--set ...]: $T/NAME from tiny.ini on runtime.training = PATH
  local name=$1 path=$2
  shift 2
  "$G" train "$T/tiny.ini" --run-dir "$T/$name" --set runtime.training="$path" "$@" >"$T/$name.out" 2>&1 ||
    { echo "FAIL train $name:"; tail -5 "$T/$name.out"; }
}

# compare KIND FAST_RUN REF_RUN: the measured distance on stdout, exit 0 iff within the tolerance.
#  loss: epoch 0's training loss, relative difference <= 2e-5.
#  grad: Adam's first moment after one step, m = (1 - beta1) g, so every gradient tensor of the
#        model: ||m_fast - m_ref|| <= 1e-3 ||m_ref|| + 1e-6 ||m_ref over all tensors|| per tensor.
#  curve: per-epoch training loss within 0.75, its mean over the epochs within 0.25, the last
#        val_accuracy within 2 of the 10 val clips, the same epochs.
compare() {
  "$PY" - "$@" <<'PY'
import csv, math, sys
kind, a, b = sys.argv[1:4]
log = lambda d: list(csv.DictReader(open(d + '/training_log.csv')))
if kind == 'loss':
    x, y = float(log(a)[0]['loss']), float(log(b)[0]['loss'])
    d = abs(x - y) / abs(y)
    print('epoch 0 loss %.9g vs %.9g: relative difference %.2e (tolerance 2e-5)' % (x, y, d))
    sys.exit(0 if d <= 2e-5 else 1)
if kind == 'grad':
    import h5py, numpy as np
    fa, fb = h5py.File(a + '/checkpoints/last.h5', 'r'), h5py.File(b + '/checkpoints/last.h5', 'r')
    names = []
    fb['optimizer/m'].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    m = {n: (fa['optimizer/m/' + n][()].astype(np.float64), fb['optimizer/m/' + n][()].astype(np.float64))
         for n in names}
    total = math.sqrt(sum(float((y * y).sum()) for _, y in m.values()))
    worst = max((float(np.linalg.norm(x - y)) / (1e-3 * float(np.linalg.norm(y)) + 1e-6 * total), n)
                for n, (x, y) in m.items())
    print('%d gradient tensors; worst %s at %.3g of its tolerance' % (len(names), worst[1], worst[0]))
    sys.exit(0 if names and worst[0] <= 1 else 1)
if kind == 'curve':
    fa, fb = log(a), log(b)
    la, lb = [float(r['loss']) for r in fa], [float(r['loss']) for r in fb]
    de = max(abs(x - y) for x, y in zip(la, lb)) if la else math.nan
    dm = abs(sum(la) / len(la) - sum(lb) / len(lb)) if la and lb else math.nan
    dv = abs(float(fa[-1]['val_accuracy']) - float(fb[-1]['val_accuracy'])) if fa and fb else math.nan
    print('%d/%d epochs; loss per epoch %s vs %s: largest difference %.3f, of the means %.3f; last val_accuracy %s vs %s'
          % (len(fa), len(fb), ' '.join('%.3f' % v for v in la), ' '.join('%.3f' % v for v in lb), de, dm,
             fa[-1]['val_accuracy'] if fa else '-', fb[-1]['val_accuracy'] if fb else '-'))
    sys.exit(0 if len(fa) == len(fb) > 0 and de <= 0.75 and dm <= 0.25 and dv <= 0.2 + 1e-9 else 1)
sys.exit(2)
PY
}

# 1. One Adam step on the whole train split (batch 64 > its 15 clips; 1 frame per clip): the loss is
# one forward pass on the same initial weights, and the moments hold that step's gradients, before
# any divergence (part 2) sets in. Measured here (seed 42): loss 1.9e-6 apart, the worst tensor 6e-5
# apart relative, the same as the reference at 1 against 2 threads (OpenBLAS splits its sums
# differently) and the fast path at 1 against 2: the tolerances leave 10x. Scaling the fast 1x1
# kernel's dw by 1.01 puts its tensors 1e-2 apart. At 4 frames the same step measured 2e-3
# (deep layers run on 1x1 pixels and a ReLU6 edge or a near-constant channel's batch norm turns a
# rounding difference into a different gradient below it), and so does another seed now and then
# (seed 2 at 1 frame: 1.3e-2, the reference at 2 threads as far as the fast path): a failure here on
# another CPU is first worth comparing with the reference at runtime.threads = 2.
step=(--set data.frames=1 --set train.batch_size=64 --set train.epochs=1)
train step_fast fast "${step[@]}"
train step_ref reference "${step[@]}"
ok "one step: the whole train split is one batch" "grep -q ', 1 steps/epoch,' '$T/step_fast.out'"
ok "one step: the forward loss of fast and reference agrees" "compare loss '$T/step_fast' '$T/step_ref'"
ok "one step: every gradient of fast and reference agrees" "compare grad '$T/step_fast' '$T/step_ref'"
# proof that the fast kernels ran: on this config's channel counts (all multiples of 8 at alpha 0.35)
# the 1x1 forward, the 1x1 backward and the depthwise backward each change the rounding (the
# depthwise forward happens to sum in the reference's order); identical weights would mean none ran
ok "one step: fast and reference weights are not bit-identical (the fast kernels ran)" \
  "! same_tensors '$T/step_fast/checkpoints/last.h5' '$T/step_ref/checkpoints/last.h5' weights"

# 2. Six epochs of the tiny config (batch 2, callbacks off so both run every epoch). Training here is
# chaotic: the reference against itself with learning_rate one float step higher (1.2e-7 relative)
# measured loss differences of 1e-7, 2e-5, 1e-2, 0.18 after 1, 2, 3, 4 epochs, and the reference at
# 2 threads leaves its 1-thread run as fast. So the losses cannot agree to rounding; what holds is the
# band: over seeds 1-7 and 42, fast against reference measured per-epoch differences up to 0.49, of
# the six-epoch means up to 0.10, last val_accuracy up to 1 clip. The tolerances (0.75, 0.25, 2 clips)
# catch a fast path that trains differently, not one that is 1% off (part 1 does).
curve=(--set callbacks.early_stopping=off --set callbacks.reduce_lr=off --set train.epochs=6)
train curve_fast fast "${curve[@]}"
train curve_ref reference "${curve[@]}"
ok "six epochs: fast trains within the reference's band" "compare curve '$T/curve_fast' '$T/curve_ref'"
ok "six epochs: fast and reference weights are not bit-identical" \
  "! same_tensors '$T/curve_fast/checkpoints/last.h5' '$T/curve_ref/checkpoints/last.h5' weights"

# 3. Bit-exact resume on the reference path: three epochs, then --resume to six, equals part 2's
# uninterrupted reference run (the log and every weight and Adam moment); resume keeps the run's
# runtime.training (config.ini), which --set may not change.
train resume_ref reference "${curve[@]}" --set train.epochs=3
"$G" train --resume "$T/resume_ref" --set train.epochs=6 >"$T/resume_ref2.out" 2>&1
ok "reference resume exits 0 and keeps runtime.training = reference" \
  "[ $? -eq 0 ] && grep -qx 'training = reference' '$T/resume_ref/config.ini'"
ok "reference resume: the log equals the uninterrupted run's" \
  "cmp -s '$T/resume_ref/training_log.csv' '$T/curve_ref/training_log.csv'"
ok "reference resume: weights and Adam moments equal the uninterrupted run's" \
  "same_tensors '$T/resume_ref/checkpoints/last.h5' '$T/curve_ref/checkpoints/last.h5' weights optimizer"
tiny_done
