#!/usr/bin/env bash
# runtime.inference end to end: a tiny trained run (validated on the plan each epoch) predicted and
# evaluated on the inference plan (the default) and on the reference executor (--inference reference, or the config key) gives the
# same probabilities, loss and accuracy within 1e-4; the banners and `gesture info` say which path
# and kernels ran; a bad value is refused. runtime.precision = bf16 on the CPU (no bf16 path there):
# one line on stderr saying so, and the fp32 results. (test_plan.c checks the plan op by op.)
set -u
G=${GESTURE:?}
PY=${PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/tiny_train.sh"
tiny_cpu_start
cd "$T" || exit 1
sed -i 's/^epochs = 8/epochs = 2/' tiny.ini
"$G" train tiny.ini --run-dir run >/dev/null 2>&1 || { echo "FAIL tiny training"; exit 1; }

"$G" predict run prep/test --json --inference plan >plan.json 2>plan.err
rc_plan=$?
"$G" predict run prep/test --json --inference reference >ref.json 2>ref.err
rc_ref=$?
ok "predict runs on both paths" "[ $rc_plan -eq 0 ] && [ $rc_ref -eq 0 ]"
ok "predict: plan probabilities = reference within 1e-4" "$PY - plan.json ref.json <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ok = len(a) == len(b) > 0 and all(x['clip'] == y['clip'] and x['label'] == y['label'] for x, y in zip(a, b))
err = max(abs(x['probabilities'][k] - y['probabilities'][k]) for x, y in zip(a, b) for k in x['probabilities'])
print('max |plan - reference| =', err)
sys.exit(0 if ok and err < 1e-4 else 1)
PY"

"$G" eval run --no-plots --out plan_eval >eval_plan.out 2>&1
"$G" eval run --no-plots --out ref_eval --inference reference >eval_ref.out 2>&1
ok "eval banner names the path and kernels" \
   "grep -q 'inference: plan (.* kernels)' eval_plan.out && grep -q 'inference: reference' eval_ref.out"
ok "eval: loss and accuracy of the plan = reference within 1e-4" "$PY - plan_eval ref_eval <<'PY'
import configparser, sys
def m(d):
    c = configparser.ConfigParser(); c.read_string('[m]\n' + open(d + '/eval/best/test/metrics.ini').read()); return c['m']
a, b = m(sys.argv[1]), m(sys.argv[2])
same = a['n'] == b['n'] and abs(float(a['accuracy']) - float(b['accuracy'])) < 1e-9
err = max(abs(float(a[k]) - float(b[k])) / max(abs(float(b[k])), 1e-12) for k in ('loss', 'ce_loss'))
print('relative loss difference', err)
sys.exit(0 if same and err < 1e-4 else 1)
PY"

# the trainer's validation pass runs on the plan too: its last val_loss is the reference executor's
# loss on last.h5 within 1e-4
"$G" eval run/checkpoints/last.h5 --split val --no-plots --out ref_val --inference reference >/dev/null 2>&1
ok "training's val_loss (plan) = reference eval of last.h5 within 1e-4" "$PY - run/training_log.csv ref_val/eval/last/val/metrics.ini <<'PY'
import configparser, csv, sys
last = list(csv.DictReader(open(sys.argv[1])))[-1]
c = configparser.ConfigParser(); c.read_string('[m]\n' + open(sys.argv[2]).read())
got, want = float(last['val_loss']), float(c['m']['loss'])
print('val_loss', got, 'reference', want)
sys.exit(0 if abs(got - want) <= 1e-4 * max(abs(want), 1e-12) else 1)
PY"

# the config key: a run trained with runtime.inference = reference evaluates on the reference path
"$G" train tiny.ini --run-dir run_ref --set runtime.inference=reference --set train.epochs=1 >/dev/null 2>&1
"$G" eval run_ref --no-plots >eval_key.out 2>&1
ok "runtime.inference = reference in the checkpoint's config is followed" "grep -q 'inference: reference' eval_key.out"
"$G" eval run_ref --no-plots --inference plan >eval_key2.out 2>&1
ok "--inference overrides the config" "grep -q 'inference: plan' eval_key2.out"

"$G" predict run prep/test --inference fast >/dev/null 2>bad.err
rc=$?
ok "a bad --inference value is refused (exit 2, the choices named)" "[ $rc -eq 2 ] && grep -q 'plan or reference' bad.err"
"$G" train tiny.ini --set runtime.inference=fast >/dev/null 2>bad2.err
ok "a bad runtime.inference is refused with the choices" "grep -q 'plan' bad2.err && grep -q 'reference' bad2.err"
ok "gesture info names the plan's kernels" "'$G' info | grep -Eq '^cpu inference plan kernels: (avx2|generic)'"
GESTURE_PLAN_KERNELS=generic "$G" predict run prep/test --json >gen.json 2>/dev/null
ok "the generic kernel tier predicts what the fast one does (within 1e-4)" "$PY - gen.json plan.json <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if len(a) == len(b) > 0 and max(abs(x['probabilities'][k] - y['probabilities'][k]) for x, y in zip(a, b) for k in x['probabilities']) < 1e-4 else 1)
PY"
# runtime.precision = bf16 on the CPU: predict, eval and train say in one line why they run fp32,
# and predict what fp32 predicts, byte for byte
"$G" predict run prep/test --json --device cpu --precision bf16 >bf16.json 2>bf16.err
rc=$?
cat bf16.err
ok "predict --precision bf16 on the cpu: exit 0, one line saying it runs fp32 and why" \
   "[ $rc -eq 0 ] && [ \$(grep -c precision bf16.err) -eq 1 ] && grep -q '^gesture predict: runtime.precision = bf16: .*; inference runs in fp32$' bf16.err"
ok "predict --precision bf16 on the cpu = fp32, byte for byte" "cmp -s bf16.json plan.json"
"$G" eval run --no-plots --out bf16_eval --device cpu --precision bf16 >/dev/null 2>eval_bf16.err
ok "eval --precision bf16 on the cpu says it runs fp32" "grep -q '^gesture eval: runtime.precision = bf16: .*runs in fp32' eval_bf16.err"
"$G" train tiny.ini --run-dir run_bf16 --set runtime.precision=bf16 --set train.epochs=1 >train_bf16.out 2>&1
ok "train with runtime.precision = bf16 on the cpu says it runs fp32" \
   "[ $? -eq 0 ] && grep -q '^gesture train: runtime.precision = bf16: .*; training runs in fp32' train_bf16.out"
"$G" predict run prep/test --precision fp16 >/dev/null 2>bad3.err
rc=$?
ok "a bad --precision value is refused (exit 2, the choices named)" "[ $rc -eq 2 ] && grep -q 'fp32 or bf16' bad3.err"
ok "gesture info says what the cpu has for bf16" "'$G' info | grep -Eq '^cpu bf16: avx512_bf16 (yes|no), amx_bf16 (yes|no)'"
tiny_done
