#!/usr/bin/env bash
# CPU benchmark: gesture beside the engines users pick for this model, from PyPI (benchmarks/make_peer_venv.sh):
# PyTorch (eager NCHW, eager channels_last, torch.compile, bf16 autocast), ONNX Runtime and OpenVINO
# (fp32 and the bf16 hint) on `gesture export-onnx` of a checkpoint gesture made, TensorFlow + Keras 3
# (the seed's own stack and model code). Same machine, same thread count, interleaved rounds (round 1:
# every engine, round 2: every engine, ...), each engine in a fresh process per round, warmed up until
# its step time settles, median of the timed steps, median over the rounds. Two configs: seed (B4 T15
# S224 alpha 1.0) and small (B4 T8 S96 alpha 0.35). Prints the img/s and ratio tables and writes
# benchmarks/results/peers_cpu.md (with --quick: $WORK/peers_quick.md) with the machine, versions,
# load averages, numerics checks and `gesture bench --profile`'s breakdown of a seed step.
#
# Usage: benchmarks/run_peers.sh [--quick] [--threads N] [--rounds R] [--steps N] [--max-warm N]
#            [--configs seed,small] [--engines LIST] [--skip LIST] [--once LIST] [--seed-rounds N]
#            [--no-profile] [--out FILE]
#   --quick        small config only, 1 round, 3 steps, short warm-up: checks that everything runs
#   --rounds R     interleaved rounds (default 3); --steps N timed steps per phase (default 5, median)
#   --max-warm N   warm-up steps at most per phase (default 20; then it times anyway, marked unsettled)
#   --engines      comma list of: gesture torch torch-cl torch-compile torch-bf16 ort ov ov-bf16 keras (default: all)
#   --skip LIST    CONFIG:ENGINE pairs (or ENGINE: in both configs) not to run, e.g. seed:torch-bf16
#   --once LIST    CONFIG:ENGINE pairs (or ENGINE) run in round 1 only, 3 timed steps after at least 3
#                  warm-up steps (for what is too slow to repeat on the machine at hand, e.g. bf16 emulated)
#   --seed-rounds N  the seed config runs in the first N rounds only (default: every round)
#   BUILD=dir (default build; Release), WORK=dir (default runs/peers: checkpoints, exports, raw logs),
#   RUN_TIMEOUT=seconds per engine run (default 1800)
# On 2 cores every default takes well over an hour (bf16 without bf16 hardware above all):
# benchmarks/results/peers_cpu.md names the reduced command it was made with.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS="$*"
THREADS=2 ROUNDS=3 STEPS=5 CONFIGS=seed,small PROFILE=1 QUICK=0 OUT="" MAXWARM=20 SKIP="" ONCE="" SEED_ROUNDS=""
ENGINES=gesture,torch,torch-cl,torch-compile,torch-bf16,ort,ov,ov-bf16,keras
while (($#)); do
  case "$1" in
    --quick) QUICK=1; ROUNDS=1; STEPS=3; CONFIGS=small; MAXWARM=3; PROFILE=0; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --max-warm) MAXWARM=$2; shift 2 ;;
    --skip) SKIP=$2; shift 2 ;;
    --once) ONCE=$2; shift 2 ;;
    --seed-rounds) SEED_ROUNDS=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --engines) ENGINES=$2; shift 2 ;;
    --no-profile) PROFILE=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
BUILD=${BUILD:-build}
WORK=${WORK:-runs/peers}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}
[ -n "$OUT" ] || { ((QUICK)) && OUT=$WORK/peers_quick.md || OUT=benchmarks/results/peers_cpu.md; }
G=$BUILD/gesture
PY=benchmarks/.venv-peers/bin/python
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS TF_CPP_MIN_LOG_LEVEL=2

# --- gesture (Release) and the peers' venv ---------------------------------------------------------
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt"; then
  echo "run_peers: $BUILD is not a Release build; set BUILD=build-release (or another folder)" >&2
  exit 2
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  bash scripts/setup.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target gesture >/dev/null
if [ -e "$WORK" ]; then  # only a folder an earlier run made is emptied
  [ -f "$WORK/.run_peers" ] || { echo "run_peers: $WORK exists and is not run_peers' work folder" >&2; exit 2; }
  rm -rf "$WORK"
fi
mkdir -p "$WORK"
touch "$WORK/.run_peers"
{ git rev-parse --short HEAD 2>/dev/null || echo "?"; } | tr -d '\n' >"$WORK/rev.txt"
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || echo -n " + uncommitted changes" >>"$WORK/rev.txt"
benchmarks/make_peer_venv.sh >"$WORK/venv.log" || { cat "$WORK/venv.log" >&2; exit 1; }
tail -1 "$WORK/venv.log" | tee "$WORK/versions.txt" >&2

# model.bn_time = keras2: training BN over the B*T frames of a step, as the PyTorch peer's BatchNorm2d
# does (seed_15f.ini sets Keras 3's per-time-step rule, which the Keras peer follows; see the results)
declare -A SETS=([seed]="--set model.bn_time=keras2"
                 [small]="--set model.bn_time=keras2 --set data.size=96 --set data.frames=8 --set model.alpha=0.35")
read -r -a CFG_LIST <<<"${CONFIGS//,/ }"
read -r -a ENGINE_LIST <<<"${ENGINES//,/ }"
load1() { cut -d' ' -f1 /proc/loadavg; }

# --- checkpoints gesture makes, their exports, the check inputs -----------------------------------
# A small synthetic set (30-frame clips, enough for the seed's 15 frames at frame_step 2); per config
# one epoch of `gesture train` (random init, BN momentum 0.9 so the moving statistics follow the
# data), exported to ONNX; `gesture predict --save-inputs` on the val clips gives the inputs and the
# probabilities the peers are checked against. The Keras-made test fixture (its batch norms far
# from identity, so its probabilities differ clip to clip) checks the torch and Keras models with
# gesture's weights.
echo "run_peers: checkpoints and exports in $WORK" >&2
"$G" synth "$WORK/raw" --clips-per-class 3 --val-per-class 1 --frames 30 --seed 5 --quiet
"$G" prepare "$WORK/raw" "$WORK/prep" --test-per-class 0 >/dev/null
for cfg in "${CFG_LIST[@]}"; do
  # shellcheck disable=SC2086
  "$G" train experiments/seed_15f.ini ${SETS[$cfg]} --set data.root="$WORK/prep" --set train.epochs=1 \
    --set model.expect_pretrained=off --set model.bn_momentum=0.9 --set output.plots=off \
    --set runtime.threads="$THREADS" --run-dir "$WORK/ck_$cfg" >"$WORK/train_$cfg.log" 2>&1 ||
    { cat "$WORK/train_$cfg.log" >&2; exit 1; }
  "$G" export-onnx "$WORK/ck_$cfg" "$WORK/$cfg.onnx" >/dev/null
  "$G" predict "$WORK/ck_$cfg" "$WORK/prep/val" --json --threads "$THREADS" --save-inputs "$WORK/x_$cfg.npy" \
    >"$WORK/p_$cfg.json" 2>/dev/null
  # shellcheck disable=SC2086
  "$G" summary experiments/seed_15f.ini ${SETS[$cfg]} | awk '/^Total params/ {print $3}' >"$WORK/values_$cfg.txt"
done
"$G" import-keras tests/fixtures/keras/seed_small.keras "$WORK/fixture.h5" >/dev/null 2>&1
"$G" export-onnx "$WORK/fixture.h5" "$WORK/fixture.onnx" >/dev/null
"$G" export-keras "$WORK/fixture.h5" "$WORK/fixture.weights.h5" >/dev/null
"$G" predict "$WORK/fixture.h5" "$WORK/prep/val" --json --threads "$THREADS" --save-inputs "$WORK/x_fixture.npy" \
  >"$WORK/p_fixture.json" 2>/dev/null

# --- numerics: once per peer ----------------------------------------------------------------------
has() { [[ ",$ENGINES," == *",$1,"* ]]; }
check() {  # check LABEL CMD...: the engine's check line(s) into checks.txt
  local label=$1; shift
  "$@" 2>"$WORK/check.err" | awk -v l="$label" '$1 == "check" {sub(/^check +/, ""); print l "\t" $0}' \
    >>"$WORK/checks.txt" || { echo "run_peers: check $label failed:" >&2; tail -5 "$WORK/check.err" >&2; }
}
echo "run_peers: numerics checks" >&2
: >"$WORK/checks.txt"
FIX="--alpha 0.35 --size 96 --frames 4 --batch 4 --threads $THREADS --phases= --check-inputs $WORK/x_fixture.npy
     --check-probs $WORK/p_fixture.json"
# shellcheck disable=SC2086
{
  has torch && check "fixture (Keras-made, T4 S96 a0.35)|PyTorch" $PY benchmarks/peer_torch.py $FIX --checkpoint "$WORK/fixture.h5"
  has keras && check "fixture (Keras-made, T4 S96 a0.35)|Keras" $PY benchmarks/peer_keras.py $FIX --keras-weights "$WORK/fixture.weights.h5"
  has ort && check "fixture (Keras-made, T4 S96 a0.35)|ONNX Runtime" $PY benchmarks/peer_ort.py "$WORK/fixture.onnx" $FIX
  has ov && check "fixture (Keras-made, T4 S96 a0.35)|OpenVINO f32" $PY benchmarks/peer_openvino.py "$WORK/fixture.onnx" $FIX
  for cfg in "${CFG_LIST[@]}"; do
    C="--config $cfg --threads $THREADS --phases= --check-inputs $WORK/x_$cfg.npy --check-probs $WORK/p_$cfg.json"
    has torch && check "$cfg checkpoint|PyTorch" $PY benchmarks/peer_torch.py $C --checkpoint "$WORK/ck_$cfg/checkpoints/best.h5"
    has ort && check "$cfg checkpoint|ONNX Runtime" $PY benchmarks/peer_ort.py "$WORK/$cfg.onnx" $C
    has ov && check "$cfg checkpoint|OpenVINO f32" $PY benchmarks/peer_openvino.py "$WORK/$cfg.onnx" $C
    has ov-bf16 && check "$cfg checkpoint|OpenVINO bf16 hint" $PY benchmarks/peer_openvino.py "$WORK/$cfg.onnx" $C --precision bf16
  done
}
sed 's/|/: /' "$WORK/checks.txt" >&2

# --- interleaved rounds ---------------------------------------------------------------------------
in_list() { [[ ",$1," == *",$2,"* ]]; }  # in_list LIST ITEM
engine_cmd() {  # engine_cmd ENGINE CONFIG LIGHT -> the command line (words) in CMD
  local e=$1 cfg=$2 light=$3
  local steps=$STEPS torch_warm=$((QUICK ? 2 : 8))
  ((light)) && steps=3 torch_warm=3
  local common=(--config "$cfg" --threads "$THREADS" --steps "$steps" --max-warm "$MAXWARM")
  local torch=("$PY" benchmarks/peer_torch.py "${common[@]}" --min-warm "$torch_warm")
  # shellcheck disable=SC2206  # ${SETS[$cfg]}: several --set words
  case "$e" in
    gesture) CMD=("$G" bench experiments/seed_15f.ini --settle --steps "$steps" --max-warm "$MAXWARM"
                  --set runtime.threads="$THREADS" ${SETS[$cfg]}) ;;
    torch) CMD=("${torch[@]}") ;;
    torch-cl) CMD=("${torch[@]}" --channels-last) ;;
    torch-compile) CMD=("${torch[@]}" --compile) ;;
    torch-bf16) CMD=("${torch[@]}" --channels-last --bf16) ;;
    ort) CMD=("$PY" benchmarks/peer_ort.py "$WORK/$cfg.onnx" "${common[@]}") ;;
    ov) CMD=("$PY" benchmarks/peer_openvino.py "$WORK/$cfg.onnx" "${common[@]}") ;;
    ov-bf16) CMD=("$PY" benchmarks/peer_openvino.py "$WORK/$cfg.onnx" "${common[@]}" --precision bf16) ;;
    keras) CMD=("$PY" benchmarks/peer_keras.py "${common[@]}") ;;
    *) echo "run_peers: unknown engine $e" >&2; exit 2 ;;
  esac
}
: >"$WORK/results.tsv"
: >"$WORK/runs.tsv"
: >"$WORK/engines.tsv"
start=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
  for cfg in "${CFG_LIST[@]}"; do
    [[ $cfg == seed && -n $SEED_ROUNDS ]] && ((r > SEED_ROUNDS)) && continue
    for e in "${ENGINE_LIST[@]}"; do
      { in_list "$SKIP" "$cfg:$e" || in_list "$SKIP" "$e"; } && continue
      light=0
      if in_list "$ONCE" "$cfg:$e" || in_list "$ONCE" "$e"; then
        ((r > 1)) && continue
        light=1
      fi
      engine_cmd "$e" "$cfg" "$light"
      l0=$(load1)
      t0=$(date +%s)
      rc=0
      timeout "$RUN_TIMEOUT" "${CMD[@]}" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
      t1=$(date +%s)
      l1=$(load1)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$cfg" "$e" "$l0" "$l1" $((t1 - t0)) "$rc" >>"$WORK/runs.tsv"
      awk -v r="$r" -v c="$cfg" -v e="$e" -v OFS='\t' '
        ($1 == "train" || $1 == "inference" || $1 == "inference-ref" || $1 == "latency") && $3 == "img/s" {
          warm = ""; for (i = 5; i <= NF; i++) if ($i == "warm") { warm = $(i + 1); if ($(i + 2) == "unsettled") warm = warm "u" }
          print r, c, e, $1, $2, $4, warm }' "$WORK/out.txt" >>"$WORK/results.tsv"
      ((r == 1)) && awk -v c="$cfg" -v e="$e" -v OFS='\t' '
        $1 == "engine" || /^gesture bench:/ || /^inference plan:/ {sub(/^engine +/, ""); print c, e, $0}' \
        "$WORK/out.txt" >>"$WORK/engines.tsv"
      printf 'run_peers: round %d/%d %-5s %-13s %4ss load %s -> %s%s\n' "$r" "$ROUNDS" "$cfg" "$e" $((t1 - t0)) "$l0" "$l1" \
        "$( ((rc)) && echo " FAILED rc $rc: $(tail -1 "$WORK/err.txt")")" >&2
      grep -E '^(train|inference|inference-ref|latency) ' "$WORK/out.txt" | sed 's/^/    /' >&2 || true
    done
  done
done
echo "run_peers: rounds took $(($(date +%s) - start)) s" >&2

# --- where a seed step's time goes ----------------------------------------------------------------
if ((PROFILE)); then
  l0=$(load1)
  "$G" bench experiments/seed_15f.ini --steps 2 --profile --set runtime.threads="$THREADS" >"$WORK/profile_seed.txt" 2>/dev/null
  echo "load $l0 -> $(load1)" >>"$WORK/profile_seed.txt"
fi

# --- tables ---------------------------------------------------------------------------------------
QUICK_ARG=()
((QUICK)) && QUICK_ARG=(--quick)
/usr/bin/env python3 benchmarks/peers_report.py "$WORK" --threads "$THREADS" --rounds "$ROUNDS" --steps "$STEPS" \
  --max-warm "$MAXWARM" --skip "$SKIP" --once "$ONCE" --seed-rounds "$SEED_ROUNDS" \
  --command "benchmarks/run_peers.sh${ARGS:+ $ARGS}" --out "$OUT" "${QUICK_ARG[@]}"
