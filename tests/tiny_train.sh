# Sourced by the `gesture train` script tests (not a test itself): a tiny synthetic set and a config
# that trains on it in seconds, and a comparison of two checkpoints. tiny_setup DIR makes DIR/raw,
# DIR/prep and DIR/tiny.ini, whose last section is [runtime], so a caller may append runtime keys.
# Needs $G (the CLI) and $PY (Python with h5py). Also the checks: ok NAME CONDITION prints ok/FAIL
# and counts into $pass / $fail; tiny_done prints the tally and fails if any check did.
pass=0 fail=0
ok() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
tiny_done() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

tiny_setup() {
  local T=$1
  "$G" synth "$T/raw" --clips-per-class 6 --frames 8 --seed 3 --quiet >/dev/null || { echo "synth failed"; return 1; }
  "$G" prepare "$T/raw" "$T/prep" --split fraction --val-frac 0.3 --test-frac 0.1 >/dev/null ||
    { echo "prepare failed"; return 1; }
  cat > "$T/tiny.ini" <<INI
[data]
root = $T/prep
frames = 4
sampling = uniform
size = 32
augment_flip = on
augment_shift = 0.1
[model]
alpha = 0.35
gru_units = 8
dense_units = 8
bn_momentum = 0.9
[train]
epochs = 8
batch_size = 2
learning_rate = 1e-3
[callbacks]
early_stopping_patience = 3
reduce_lr_patience = 1
[output]
plots = off
[runtime]
threads = 1
INI
}

# tiny_ini ROOT EPOCHS: on stdout, the 4-clip-batch config of the CLI tests that train on a set they
# made themselves (test_eval_cli, test_jpeg_cli, tiny_video): data.root ROOT, train.epochs EPOCHS.
tiny_ini() {
  cat <<INI
[data]
root = $1
frames = 4
sampling = uniform
size = 32
[model]
alpha = 0.35
gru_units = 8
dense_units = 8
pretrained = ""
[train]
epochs = $2
batch_size = 4
learning_rate = 1e-3
seed = 1
[output]
plots = off
[runtime]
threads = 2
device = cpu
INI
}

# tiny_cpu_start: T = a new temporary folder, removed on exit, holding tiny_setup's files, the
# config training on the CPU (what the script tests check does not depend on a GPU).
tiny_cpu_start() {
  T=$(mktemp -d)
  trap 'rm -rf "$T"' EXIT
  tiny_setup "$T" || exit 1
  echo "device = cpu" >> "$T/tiny.ini"
}

# same_tensors A.h5 B.h5 GROUP...: exit 0 iff every dataset of A under the groups (e.g. weights,
# optimizer) is in B with identical values, and there is at least one.
same_tensors() {
  "$PY" - "$@" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
groups = tuple(g + '/' for g in sys.argv[3:])
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and n.startswith(groups) else None)
sys.exit(0 if names and all(n in b and np.array_equal(a[n][()], b[n][()]) for n in names) else 1)
PY
}
