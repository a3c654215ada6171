#!/usr/bin/env bash
# `gesture eval`, `gesture predict` and `gesture compare` end to end on a tiny synthetic set and two
# tiny trained runs: the files and their formats, the loss against the trainer's own validation
# loss, the report against scikit-learn, predict against eval, and failures that name the culprit.
set -u
G=${GESTURE:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_train.sh"  # ok, tiny_ini

if ! "$G" train --help >/dev/null 2>&1; then
    echo "gesture train not available yet: skipping"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

PLOTS=1
$PY -c 'import matplotlib, h5py, numpy' 2>/dev/null || { PLOTS=0; echo "note: no matplotlib/h5py for $PY, figures not checked"; }
NOPLOTS=$([ $PLOTS = 1 ] || echo --no-plots)

"$G" synth raw --clips-per-class 6 --frames 8 --big-fraction 0 --quiet || exit 1
"$G" prepare raw prep --split fraction --val-frac 0.34 --test-frac 0.34 --quiet || exit 1
tiny_ini prep 2 >tiny.ini
"$G" train tiny.ini --run-dir runs/a >train_a.log 2>&1 || { cat train_a.log; exit 1; }
"$G" train tiny.ini --run-dir runs/b --set data.frames=3 --set train.epochs=1 >train_b.log 2>&1 || { cat train_b.log; exit 1; }
n_test=$(ls -d prep/test/*/* | wc -l)

# ---- eval ----
out=$("$G" eval runs/a $NOPLOTS 2>eval.err); rc=$?
ok "eval RUN_DIR exits 0" "[ $rc -eq 0 ]"
ok "eval says which checkpoint it uses" "grep -qx 'gesture eval: using runs/a/checkpoints/best.h5' <<<\"\$out\""
E=runs/a/eval/best/test
ok "eval writes report, confusion, predictions, metrics" \
    "[ -s $E/report.txt ] && [ -s $E/confusion.csv ] && [ -s $E/predictions.csv ] && [ -s $E/metrics.ini ]"
ok "report.txt has the sklearn header and loss/accuracy lines" \
    "grep -Eq '^ +precision +recall +f1-score +support$' $E/report.txt && grep -q '^loss: ' $E/report.txt && grep -q '^accuracy: ' $E/report.txt"
ok "eval prints the report" "grep -q 'macro avg' <<<\"\$out\""
ok "confusion.csv: class header, 5x5, sums to the $n_test test clips" "$PY - $E/confusion.csv $n_test <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0][1:] == ['Left_Swipe', 'Right_Swipe', 'Stop', 'Thumbs_Down', 'Thumbs_Up'], rows[0]
assert [r[0] for r in rows[1:]] == rows[0][1:]
assert sum(int(v) for r in rows[1:] for v in r[1:]) == int(sys.argv[2])
EOF"
ok "predictions.csv: one row per clip, probabilities sum to 1, pred = argmax, dirs exist" "$PY - $E/predictions.csv $n_test <<'EOF'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == int(sys.argv[2]), len(rows)
classes = [k[5:] for k in rows[0] if k.startswith('prob_')]
assert list(rows[0])[:4] == ['clip', 'clip_dir', 'true', 'pred'] and len(classes) == 5
for r in rows:
    p = [float(r['prob_' + c]) for c in classes]
    assert abs(sum(p) - 1) < 1e-4 and classes[p.index(max(p))] == r['pred'] and os.path.isdir(r['clip_dir'])
EOF"
ok "metrics.ini: n and accuracy agree with predictions.csv" "$PY - $E <<'EOF'
import configparser, csv, sys
m = configparser.ConfigParser(); m.read_string('[m]\n' + open(sys.argv[1] + '/metrics.ini').read())
rows = list(csv.DictReader(open(sys.argv[1] + '/predictions.csv')))
assert int(m['m']['n']) == len(rows)
assert abs(float(m['m']['accuracy']) - sum(r['true'] == r['pred'] for r in rows) / len(rows)) < 1e-9
EOF"
if $PY -c 'import sklearn' 2>/dev/null; then
    ok "classification report equals sklearn's on the same predictions" "$PY - $E <<'EOF'
import csv, sys
from sklearn.metrics import classification_report
rows = list(csv.DictReader(open(sys.argv[1] + '/predictions.csv')))
names = [k[5:] for k in rows[0] if k.startswith('prob_')]
want = classification_report([names.index(r['true']) for r in rows], [names.index(r['pred']) for r in rows],
                             labels=range(len(names)), target_names=names, zero_division=0)
assert want in open(sys.argv[1] + '/report.txt').read()
EOF"
fi
if [ $PLOTS = 1 ]; then
    ok "eval draws confusion.png and samples.png" "[ -s $E/confusion.png ] && [ -s $E/samples.png ]"
fi

# The loss is Keras' evaluate(): the trainer's val_loss of the epoch best.h5 was saved at.
"$G" eval runs/a --split val $NOPLOTS >/dev/null 2>&1
ok "eval --split val loss/accuracy = the trainer's val_loss/val_accuracy at best.h5's epoch" "$PY - runs/a <<'EOF'
import csv, sys
log = list(csv.DictReader(open(sys.argv[1] + '/training_log.csv')))
best = max(log, key=lambda r: float(r['val_accuracy']))  # first maximum, as ModelCheckpoint (strict >)
m = dict(l.split(' = ', 1) for l in open(sys.argv[1] + '/eval/best/val/metrics.ini').read().splitlines() if ' = ' in l)
assert abs(float(m['loss']) - float(best['val_loss'])) < 1e-4, (m['loss'], best['val_loss'])
assert abs(float(m['accuracy']) - float(best['val_accuracy'])) < 1e-9
EOF"
cp runs/a/eval/best/val/metrics.ini val_b4.ini
"$G" eval runs/a/checkpoints/best.h5 --split val --batch 3 --no-plots >/dev/null 2>&1
ok "a partial last batch (--batch 3) gives the same loss" "$PY - val_b4.ini runs/a/eval/best/val/metrics.ini <<'EOF'
import sys
get = lambda p: {l.split(' = ')[0]: l.split(' = ')[1] for l in open(p).read().splitlines() if ' = ' in l}
a, b = get(sys.argv[1]), get(sys.argv[2])
assert abs(float(a['loss']) - float(b['loss'])) < 1e-5 and a['accuracy'] == b['accuracy'], (a, b)
EOF"
mkdir -p lastonly/checkpoints && cp runs/a/checkpoints/last.h5 lastonly/checkpoints/
err=$("$G" eval lastonly --data prep --no-plots 2>&1); rc=$?
ok "RUN_DIR without best.h5 falls back to last.h5 and says so" "[ $rc -eq 0 ] && grep -q 'last.h5' <<<\"\$err\" && [ -s lastonly/eval/last/test/report.txt ]"
err=$("$G" eval runs/nope 2>&1); rc=$?
ok "eval of a missing run fails naming it" "[ $rc -ne 0 ] && grep -q 'runs/nope' <<<\"\$err\""
err=$("$G" eval runs/a --data raw --no-plots 2>&1); rc=$?
ok "eval with --data that is not a prepared set fails and says what to do" "[ $rc -ne 0 ] && grep -q -- '--data' <<<\"\$err\""
err=$("$G" eval runs/a --split holdout 2>&1); rc=$?
ok "eval --split holdout is rejected" "[ $rc -ne 0 ] && grep -q 'test, val or train' <<<\"\$err\""
err=$("$G" eval runs/a --device tpu 2>&1); rc=$?
ok "eval --device tpu is rejected" "[ $rc -eq 2 ] && grep -q 'auto, cpu or cuda' <<<\"\$err\""

# ---- predict ----
c1=$(ls -d prep/test/Stop/* | head -1)
c2=$(ls -d prep/test/Left_Swipe/* | head -1)
out=$("$G" predict runs/a/checkpoints/best.h5 "$c1" "$c2"); rc=$?
ok "predict prints a table row per clip" "[ $rc -eq 0 ] && [ \$(grep -c 'prep/test/' <<<\"\$out\") -eq 2 ]"
"$G" predict runs/a/checkpoints/best.h5 "$c1" "$c2" --json >pred.json 2>pred.err; rc=$?
ok "predict says which checkpoint it uses (stderr: stdout stays JSON)" \
    "grep -qx 'gesture predict: using runs/a/checkpoints/best.h5' pred.err"
err=$("$G" predict runs/a "$c1" 2>&1 >/dev/null)
ok "predict RUN_DIR names best.h5" "grep -qx 'gesture predict: using runs/a/checkpoints/best.h5' <<<\"\$err\""
ok "predict --json parses" "[ $rc -eq 0 ] && $PY -c 'import json,sys; json.load(sys.stdin)' <pred.json"
ok "predict --json = eval's predictions.csv for the same clips" "$PY - pred.json $E/predictions.csv <<'EOF'
import csv, json, sys
got = json.load(open(sys.argv[1]))
rows = {r['clip_dir']: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(got) == 2
for g in got:
    r = rows[g['clip']]
    assert g['label'] == r['pred'] and set(g['probabilities']) == {k[5:] for k in r if k.startswith('prob_')}
    for c, p in g['probabilities'].items():
        assert abs(p - float(r['prob_' + c])) < 1e-5, (c, p, r)
EOF"
n_test=$(find prep/test -mindepth 2 -maxdepth 2 -type d | wc -l)
"$G" predict runs/a prep/test --json >tree.json; rc=$?
ok "predict of a folder of class folders of clips: one prediction per clip ($n_test)" "[ $rc -eq 0 ] && $PY - tree.json $n_test <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))
assert len(got) == int(sys.argv[2]) > 0 and all(g['clip'].count('/') == 3 for g in got), got[:2]
EOF"
mkdir -p bad/empty bad/corrupt bad/short
# frames 4 of 8 (uniform) reads frames 1, 3, 5, 7: break one that is read
cp "$c1"/*.png bad/corrupt/ && printf 'not a png' >"$(ls bad/corrupt/*.png | sed -n 2p)"
cp "$(ls "$c1"/*.png | head -1)" bad/short/
for b in bad/empty bad/corrupt bad/short bad/missing; do
    err=$("$G" predict runs/a "$b" 2>&1 >/dev/null); rc=$?
    ok "predict $b fails naming it" "[ $rc -ne 0 ] && grep -q '$b' <<<\"\$err\""
done
"$G" predict runs/a "$c1" bad/short --json >mixed.json 2>mixed.err; rc=$?
ok "a bad clip among good ones: exit 1, the good one still predicted" \
    "[ $rc -eq 1 ] && $PY -c 'import json,sys; assert len(json.load(sys.stdin)) == 1' <mixed.json && grep -q 'bad/short' mixed.err"

# ---- results kept per checkpoint and split ----
"$G" eval runs/a/checkpoints/last.h5 $NOPLOTS >/dev/null 2>&1
ok "eval of last.h5 writes eval/last/test and leaves best.h5's test results" "$PY - runs/a/eval <<'EOF'
import sys
get = lambda p: {l.split(' = ')[0]: l.split(' = ')[1] for l in open(p).read().splitlines() if ' = ' in l}
for ck, split in (('best', 'test'), ('last', 'test'), ('best', 'val')):
    m = get('%s/%s/%s/metrics.ini' % (sys.argv[1], ck, split))
    assert m['checkpoint'].endswith('/%s.h5' % ck) and m['split'] == split, (ck, split, m)
EOF"
[ $PLOTS = 1 ] && ok "each evaluation keeps its samples.png" \
    "[ -s runs/a/eval/best/test/samples.png ] && [ -s runs/a/eval/best/val/samples.png ] && [ -s runs/a/eval/last/test/samples.png ]"

# ---- compare ----
out=$("$G" compare runs/a runs/b --out cmp $NOPLOTS); rc=$?
ok "compare exits 0 with one row per run" "[ $rc -eq 0 ] && grep -q '^a ' <<<\"\$out\" && grep -q '^b ' <<<\"\$out\""
ok "compare: frames, epochs, test accuracy of a, '-' for b's" "$PY - cmp/compare.csv <<'EOF'
import csv, sys
a, b = list(csv.DictReader(open(sys.argv[1])))
assert (a['frames'], b['frames'], a['epochs'], b['epochs']) == ('4', '3', '2', '1'), (a, b)
assert a['test_accuracy'] != '' and b['test_accuracy'] == '' and a['best_val_loss_epoch'] in ('1', '2')
EOF"
# One epoch numbering wherever people read it: the console's last "[best.h5]" epoch (1-based) is the
# epoch compare's table and the curves' best-accuracy marker name.
best_ep=$(grep '\[best.h5\]' train_a.log | tail -1 | sed -E 's/^epoch ([0-9]+)\/.*/\1/')
ok "compare's best val acc epoch = the console's [best.h5] epoch ($best_ep)" \
    "grep '^a ' <<<\"\$out\" | sed -E 's/^a +[0-9]+ +[0-9.]+ \(([0-9]+)\).*/\\1/' | grep -qx '$best_ep'"
if [ $PLOTS = 1 ]; then
    ok "the curves mark the console's [best.h5] epoch" \
        "$PY \"\$GESTURE_SOURCE_DIR/scripts/plots.py\" best runs/a | grep -x 'val_accuracy [0-9.e-]* $best_ep' >/dev/null"
fi
ok "compare table shows '-' for the missing test accuracy" "grep '^b ' <<<\"\$out\" | grep -q ' - '"
ok "compare reports best.h5's test accuracy and says so" "grep -q 'test acc (best.h5)' <<<\"\$out\" && $PY - cmp/compare.csv $E/metrics.ini <<'EOF'
import csv, sys
a = next(csv.DictReader(open(sys.argv[1])))
m = dict(l.split(' = ', 1) for l in open(sys.argv[2]).read().splitlines() if ' = ' in l)
assert a['test_accuracy'] == '%.4f' % float(m['accuracy']), (a['test_accuracy'], m['accuracy'])
EOF"
[ $PLOTS = 1 ] && ok "compare draws compare.png" "[ -s cmp/compare.png ]"
err=$("$G" compare runs/a prep --out cmp --no-plots 2>&1 >/dev/null); rc=$?
ok "compare with a non-run folder fails naming it" "[ $rc -ne 0 ] && grep -q 'prep: no log.h5' <<<\"\$err\""
mkdir cmpdef
out=$(cd cmpdef && "$G" compare ../runs/a ../runs/b --no-plots); rc=$?
ok "compare without --out writes compare/compare.csv, not ./compare.csv, and names it" \
   "[ $rc -eq 0 ] && [ -s cmpdef/compare/compare.csv ] && [ ! -e cmpdef/compare.csv ] && grep -q 'wrote compare/compare.csv' <<<\"\$out\""

for c in eval predict compare; do
    ok "$c --help" "\"\$G\" $c --help | grep -q 'usage: gesture $c'"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
