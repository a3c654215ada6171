# Sourced by the `gesture train` script tests (not a test itself): a tiny synthetic set and a config
# that trains on it in seconds. tiny_setup DIR makes DIR/raw, DIR/prep and DIR/tiny.ini, whose last
# section is [runtime], so a caller may append runtime keys. Needs $G (the CLI).
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
