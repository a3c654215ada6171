#!/usr/bin/env bash
# Damaged HDF5 files (issue "Reliability", item 1): libhdf5 1.10.8 crashes (SIGSEGV) or loops forever
# reading a variable-length string from a global heap collection ("GCOL") whose first object's size
# (the 8 bytes at GCOL+24) is corrupt. Every reader (train --resume, eval, predict, import-keras of a
# .weights.h5 and of a .keras archive) must instead exit 1 with one line naming the file as damaged.
# Files gesture writes carry a CRC-32 in their HDF5 user block (src/io/h5sum.c), checked before
# libhdf5 reads them, and hold no variable-length strings; files without it (Keras', an older
# gesture's) are probed in a forked child with a time limit (10 s, src/io/h5util.c).
# Each command runs under `timeout 40`, so a hang fails the check rather than blocking the test.
set -u
G=${GESTURE:?} SRC=${GESTURE_SOURCE_DIR:?}
PY=${PYTHON:-/usr/bin/python3}  # the interpreter CMake found (tests/CMakeLists.txt)
FX="$SRC/tests/fixtures/keras"
. "$SRC/tests/tiny_train.sh"
tiny_cpu_start
sed -i 's/^epochs = 8/epochs = 1/' "$T/tiny.ini"

# patch FILE VALUE: write VALUE as a little-endian uint64 at GCOL+24 of every global heap collection
patch() {
  "$PY" - "$@" <<'PY'
import struct, sys
path, value = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, 'rb').read())
i = b.find(b'GCOL')
assert i >= 0, path + ': no GCOL'
while i >= 0:
    b[i + 24:i + 32] = struct.pack('<Q', value)
    i = b.find(b'GCOL', i + 4)
open(path, 'wb').write(b)
PY
}
# legacy FILE: FILE as an older gesture wrote it: variable-length string attributes (h5py writes str
# attributes that way), no integrity stamp (its first bytes zeroed)
legacy() {
  "$PY" - "$@" <<'PY'
import h5py, sys
path = sys.argv[1]
with h5py.File(path, 'r+') as f:
    for k in list(f.attrs):
        v = f.attrs[k]
        if isinstance(v, bytes):
            f.attrs[k] = v.decode()
        elif getattr(v, 'dtype', None) is not None and v.dtype.kind == 'S':
            f.attrs[k] = [x.decode() for x in v]
with open(path, 'r+b') as f:
    f.write(bytes(32))
PY
}
# flip FILE: 8 bytes in the middle of FILE changed
flip() {
  "$PY" - "$@" <<'PY'
import os, sys
path = sys.argv[1]
with open(path, 'r+b') as f:
    f.seek(os.path.getsize(path) // 2)
    f.write(b'\xff\xff\xff\x7f\0\0\0\0')
PY
}
# patch_keras SRC DST VALUE: DST = the .keras archive SRC with its model.weights.h5 patched
patch_keras() {
  "$PY" - "$@" <<'PY'
import struct, sys, zipfile
src, dst, value = sys.argv[1], sys.argv[2], int(sys.argv[3])
with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, 'w') as out:
    for info in z.infolist():
        b = bytearray(z.read(info))
        if info.filename == 'model.weights.h5':
            i = b.find(b'GCOL')
            assert i >= 0, 'no GCOL'
            while i >= 0:
                b[i + 24:i + 32] = struct.pack('<Q', value)
                i = b.find(b'GCOL', i + 4)
        out.writestr(info, bytes(b))
PY
}
# damaged NAME FILE PHRASE CMD...: CMD exits 1 printing one line "FILE PHRASE (HDF5 reader ...)" (the last
# line of stderr: eval and predict first say which checkpoint they use)
damaged() {
  local name=$1 file=$2 phrase=$3
  shift 3
  local err rc line
  err=$(timeout 40 "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 1 ] || echo "  exit $rc: $err"
  # the suffix says how the probe's child failed: a signal, the time limit, or (in the ASan build,
  # whose runtime turns the crash into exit status 1) an exit status
  line=$(tail -1 <<<"$err" | sed -E 's/^gesture( [a-z-]+)?: //; s/ \(HDF5 (reader crashed: signal [0-9]+|reader did not finish in [0-9]+ s|reader failed: exit status [0-9]+|cannot read every object of it)\)$//; s/ \(checksum mismatch: CRC-32 [0-9a-f]+, [0-9a-f]+ when written\)$//')
  ok "$name: exit 1 naming the file as damaged" "[ $rc -eq 1 ] && [ \"\$line\" = '$file $phrase' ]"
}

"$G" train "$T/tiny.ini" --run-dir "$T/run" >"$T/train.out" 2>&1
ok "tiny run trains" "[ $? -eq 0 ] && [ -s '$T/run/checkpoints/last.h5' ]"
clip=$(ls -d "$T"/prep/test/*/* | head -1)
"$G" import-keras "$FX/seed_small.keras" "$T/ok.h5" >/dev/null 2>&1
ok "an intact .keras imports (the probe passes good files)" "[ $? -eq 0 ]"

ok "gesture's checkpoints hold no global heap (no variable-length data)" "! grep -q GCOL '$T/run/checkpoints/last.h5'"
r="$T/flipped"
cp -r "$T/run" "$r"
flip "$r/checkpoints/last.h5"
flip "$r/checkpoints/best.h5"
damaged "train --resume, 8 bytes changed" "$r/checkpoints/last.h5" "is damaged" "$G" train --resume "$r"
damaged "eval, 8 bytes changed" "$r/checkpoints/best.h5" "is damaged" "$G" eval "$r" --no-plots
damaged "predict, 8 bytes changed" "$r/checkpoints/best.h5" "is damaged" "$G" predict "$r/checkpoints/best.h5" "$clip"
legacy "$T/run/checkpoints/last.h5"
legacy "$T/run/checkpoints/best.h5"
"$G" predict "$T/run" "$clip" >/dev/null 2>&1
ok "an older checkpoint (variable-length strings, no stamp) still loads" "[ $? -eq 0 ]"

for v in 2147483648 4000; do  # 2^31: SIGSEGV in H5HG_read; 4000: an endless loop
  r="$T/r$v"
  cp -r "$T/run" "$r"
  patch "$r/checkpoints/last.h5" $v
  patch "$r/checkpoints/best.h5" $v
  damaged "train --resume, heap size $v" "$r/checkpoints/last.h5" "is damaged" "$G" train --resume "$r"
  damaged "eval, heap size $v" "$r/checkpoints/best.h5" "is damaged" "$G" eval "$r" --no-plots
  damaged "predict, heap size $v" "$r/checkpoints/best.h5" "is damaged" "$G" predict "$r/checkpoints/best.h5" "$clip"
  cp "$FX/backbone_model_weights.h5" "$T/b$v.h5"
  patch "$T/b$v.h5" $v
  damaged "import-keras .h5, heap size $v" "$T/b$v.h5" "is damaged or not a Keras file" \
    "$G" import-keras "$T/b$v.h5" "$T/out$v.h5"
  patch_keras "$FX/seed_small.keras" "$T/k$v.keras" $v
  damaged "import-keras .keras, heap size $v" "$T/k$v.keras:model.weights.h5" "is damaged or not a Keras file" \
    "$G" import-keras "$T/k$v.keras" "$T/outk$v.h5"
done
# an object whose metadata fails its checksum stops the probe's walk halfway (found by fuzz_keras):
# what lies behind it is unprobed, so the whole file counts as damaged
R="$GESTURE_SOURCE_DIR/tests/fuzz/corpus/keras/probe_visit_stops.h5"
damaged "import-keras .h5 with an unreadable object" "$R" "is damaged or not a Keras file" \
  "$G" import-keras "$R" "$T/outr.h5"
tiny_done
