#!/usr/bin/env bash
# runtime.training = fast (the AVX2 1x1 and depthwise twins) against = reference over whole
# `gesture train` runs on the tiny synthetic set: one full-batch Adam step gives the same loss and
# gradients within rounding, the fast path really changed the numbers, both paths memorize the
# train clips alike over 30 epochs (not to rounding: training diverges from any rounding change,
# see part 2), and resuming on the reference path is bit-exact. The fast path's resume is
# tests/test_train_cli.sh's check: it trains with the default, runtime.training = fast.
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
#  learned (one run): the last epoch's training loss <= 0.8 (epoch 0: 1.59, ln 5 = 1.61 is chance).
#  curve: the same epochs, per-epoch training loss within 0.6, the last five epochs' mean within 0.35.
compare() {
  "$PY" - "$@" <<'PY'
import csv, math, sys
kind, a, b = (sys.argv[1:] + [''])[:3]
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
if kind == 'learned':
    la = [float(r['loss']) for r in log(a)]
    print('loss %s' % ' '.join('%.2f' % v for v in la))
    sys.exit(0 if la and la[-1] <= 0.8 else 1)
if kind == 'curve':
    la, lb = [float(r['loss']) for r in log(a)], [float(r['loss']) for r in log(b)]
    if not la or len(la) != len(lb):
        print('%d and %d epochs' % (len(la), len(lb)))
        sys.exit(1)
    de = max(abs(x - y) for x, y in zip(la, lb))
    d5 = abs(sum(la[-5:]) - sum(lb[-5:])) / len(la[-5:])
    print('largest per-epoch loss difference %.3f, of the last five epochs\' means %.3f' % (de, d5))
    sys.exit(0 if de <= 0.6 and d5 <= 0.35 else 1)
sys.exit(2)
PY
}

# 1. One Adam step on the whole train split (batch 64 > its 15 clips; 1 frame per clip): the loss is
# one forward pass on the same initial weights, and the moments hold that step's gradients, before
# any divergence (part 2) sets in. Measured here (seed 42): loss 1.9e-6 apart, the worst tensor
# 5e-5 apart relative, as far as the reference at 1 against 2 threads (OpenBLAS splits its sums
# differently) and the fast path at 1 against 2: the tolerances leave 10x. Scaling the dw of the
# fast 1x1 or of the fast depthwise kernel by 1.01 fails it (10x the tolerance, block_1's
# tensors); so does adding 1e-3 x input channel 0 to the fast 1x1 forward (the loss 6e-3 apart).
# At 4 frames the same step measured 2e-3
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
# the 1x1 forward, the 1x1 backward and the depthwise backward each change the rounding (measured
# switching them on one at a time; the depthwise forward sums in the reference's order here), so
# identical weights would mean none ran
ok "one step: fast and reference weights are not bit-identical (the fast kernels ran)" \
  "! same_tensors '$T/step_fast/checkpoints/last.h5' '$T/step_ref/checkpoints/last.h5' weights"

# 2. Thirty epochs of full-batch descent on the 15 train clips (no augmentation or dropout, lr 3e-3):
# the model memorizes them, loss 1.59 -> about 0.3, on either path, and a fast path with a wrong
# gradient does not (the fast 1x1 dw negated stayed at 1.5-1.9). The two losses do not agree to
# rounding: training here is chaotic. On this set at full batch with augmentation, the reference
# against itself with learning_rate one float step higher (1.2e-7 relative) measured loss
# differences of 1e-7, 2e-5, 1e-2, 0.18 after 1, 2, 3, 4 epochs, and the reference at 2 threads
# drifted 0.01-0.07 from its 1-thread run within 5 epochs (fast against reference: 0.02-0.19). Over
# seeds 1-5 and 42, fast against reference measured: last loss 0.16-0.53, per-epoch differences up
# to 0.34, of the last five epochs' means up to 0.21 (the tolerances: 0.8, 0.6, 0.35). val_accuracy
# stays at chance on this set (memorized, not learned) on both paths, so it is not compared here;
# the quickstart comparison (benchmarks/results/train_fast_vs_reference.md) is where it means something.
mem=(--set train.batch_size=64 --set train.epochs=30 --set train.learning_rate=3e-3 --set model.dropout=0
     --set data.augment_flip=off --set data.augment_shift=0
     --set callbacks.early_stopping=off --set callbacks.reduce_lr=off)
train mem_fast fast "${mem[@]}"
train mem_ref reference "${mem[@]}"
ok "30 epochs: the reference memorizes the train split" "compare learned '$T/mem_ref'"
ok "30 epochs: fast memorizes the train split" "compare learned '$T/mem_fast'"
ok "30 epochs: fast follows the reference's losses" "compare curve '$T/mem_fast' '$T/mem_ref'"

# 3. Bit-exact resume on the reference path, the tiny config as it is (batch 2, augmentation,
# early stopping and lr reduction): three epochs, then --resume to eight, equals an uninterrupted
# reference run (the log and every weight and Adam moment); resume keeps the run's
# runtime.training (config.ini), which --set may not change.
train full_ref reference
train resume_ref reference --set train.epochs=3
"$G" train --resume "$T/resume_ref" --set train.epochs=8 >"$T/resume_ref2.out" 2>&1
ok "reference resume exits 0 and keeps runtime.training = reference" \
  "[ $? -eq 0 ] && grep -qx 'training = reference' '$T/resume_ref/config.ini'"
ok "reference resume: the log equals the uninterrupted run's" \
  "cmp -s '$T/resume_ref/training_log.csv' '$T/full_ref/training_log.csv'"
ok "reference resume: weights and Adam moments equal the uninterrupted run's" \
  "same_tensors '$T/resume_ref/checkpoints/last.h5' '$T/full_ref/checkpoints/last.h5' weights optimizer"
tiny_done
