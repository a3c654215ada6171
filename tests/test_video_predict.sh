#!/usr/bin/env bash
# `gesture predict` on video files and `gesture synth --videos` / `synth-long`, end to end on a tiny
# trained model: a lossless video predicts like its PNG clip folder (also at 60 fps: resampled to
# stream.fps), a lossy H.264 copy within a measured tolerance, --windows gives the expected windows
# and times, each window predicts like a folder of its frames; damaged videos fail with one line.
set -u
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_video.sh"
n_train=$(ls raw/train | wc -l)
ok "synth --videos mkv: one video per clip in videos/<split>/<folder>.mkv" \
    "[ \$(ls raw/videos/train/*.mkv | wc -l) -eq $n_train ] && [ -s raw/videos/val/\$(ls raw/val | head -1).mkv ]"

# ---- whole-file prediction ----
dirs=() vids=() vids60=() lossy=()
for d in $(ls -d raw/train/* | head -6); do
    n=${d##*/}
    dirs+=("$d") vids+=("raw/videos/train/$n.mkv")
    ffmpeg -v error -y -i "raw/videos/train/$n.mkv" -vf fps=60 -c:v ffv1 "$n.60.mkv" && vids60+=("$n.60.mkv")
    ffmpeg -v error -y -i "raw/videos/train/$n.mkv" -c:v libx264 -crf 23 -pix_fmt yuv420p "$n.mp4" && lossy+=("$n.mp4")
done
"$G" predict $CK "${dirs[@]}" --json >dirs.json 2>/dev/null
"$G" predict $CK "${vids[@]}" --json >vids.json 2>/dev/null; rc=$?
ok "predict on lossless videos exits 0 with one row per file" "[ $rc -eq 0 ] && [ \$(grep -c '\"clip\"' vids.json) -eq 6 ]"
ok "the model tells the clips apart (else the comparisons below could not fail)" "$PY - <<'PYEOF'
import json
d = json.load(open('dirs.json'))
spread = max(abs(x['probabilities'][k] - y['probabilities'][k]) for x in d for y in d for k in x['probabilities'])
assert spread > 1e-2, spread
PYEOF"
ok "lossless video = its PNG clip folder (1e-5)" "$PY compare.py dirs.json vids.json 1e-5"
"$G" predict $CK "${vids60[@]}" --json >vids60.json 2>/dev/null
ok "the same video at 60 fps (frames doubled) = the folder: resampled to stream.fps 30 (1e-5)" \
    "$PY compare.py dirs.json vids60.json 1e-5"
# H.264 crf 23 on 160x120 frames with block noise: measured max |dp| 0.185 over these 6 clips of this
# barely trained model (its output moves a lot with the input); 0.3 leaves margin.
"$G" predict $CK "${lossy[@]}" --json >lossy.json 2>/dev/null
ok "lossy H.264 (crf 23) copy within 0.3 of the folder's probabilities" "$PY compare.py dirs.json lossy.json 0.3"
ok "--json keeps full float precision (%.9g)" "grep -Eq ': 0\.[0-9]{8,}' vids.json"

# ---- windows ----
"$G" synth-long long.mkv --gestures 2 --size 64x48 --idle 0.5 --seed 5 >/dev/null || exit 1
ok "synth-long writes the video and its ground truth CSV" "$PY - <<'PYEOF'
import csv
rows = list(csv.DictReader(open('long.csv')))
assert [list(r) for r in rows][0] == ['start', 'end', 'label'] and len(rows) == 2, rows
assert abs(float(rows[0]['start']) - 0.5) < 1e-6 and abs(float(rows[0]['end']) - 1.5) < 1e-6, rows[0]
assert abs(float(rows[1]['start']) - 2.0) < 1e-6 and all(r['label'] in ('Left_Swipe', 'Right_Swipe', 'Stop', 'Thumbs_Down', 'Thumbs_Up') for r in rows)
PYEOF"
n_frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 long.mkv)
ok "synth-long: 0.5 + 1 + 0.5 + 1 + 0.5 s at 30 fps = 105 frames ($n_frames)" "[ '$n_frames' = 105 ]"
"$G" predict $CK long.mkv --windows --json >win.json 2>/dev/null; rc=$?
# model rate 30/2 = 15 fps: 53 frames (0, 2, ..., 104); T = 4, hop 2 (stream.hop): (53-4)/2+1 = 25
ok "--windows: floor((N-T)/hop)+1 = 25 windows, start/end = times of their first/last frame" "[ $rc -eq 0 ] && $PY - <<'PYEOF'
import json
w = json.load(open('win.json'))
assert len(w) == 25, len(w)
for k, x in enumerate(w):
    s = k * 2 * 2 / 30.0
    assert abs(x['start'] - s) < 1.5e-3 and abs(x['end'] - (s + 3 * 2 / 30.0)) < 1.5e-3, (k, x['start'], x['end'])
PYEOF"
"$G" predict $CK long.mkv --windows --hop 5 --json >win5.json 2>/dev/null
ok "--hop 5: 10 windows" "$PY -c 'import json; assert len(json.load(open(\"win5.json\"))) == 10'"
out=$("$G" predict $CK long.mkv --windows --batch 3 2>/dev/null)
ok "--windows table: a row per window with start and end" "[ \$(grep -c 'long.mkv' <<<\"\$out\") -eq 25 ] && head -1 <<<\"\$out\" | grep -q 'start *end'"
# window k = a clip folder holding the source frames 4k .. 4k+6 (stride 2 selects its 4 frames)
mkdir all && ffmpeg -v error -i long.mkv -start_number 0 all/%04d.png
wdirs=()
for k in 0 11 24; do
    mkdir w$k
    for j in 0 1 2 3 4 5 6; do cp all/$(printf %04d $((4 * k + j))).png w$k/frame_$j.png; done
    wdirs+=(w$k)
done
"$G" predict $CK "${wdirs[@]}" --json >wdirs.json 2>/dev/null
$PY -c "import json; w = json.load(open('win.json')); json.dump([w[0], w[11], w[24]], open('wsel.json', 'w'))"
ok "windows 0, 11, 24 = folders of exactly their frames (1e-5)" "$PY compare.py wdirs.json wsel.json 1e-5"

# ---- damaged and unsupported files: one line naming the file, exit 1, no hang ----
"$G" synth-long long.mp4 --gestures 1 --size 64x48 --idle 0.2 >/dev/null
head -c $(($(stat -c%s long.mp4) / 2)) long.mp4 >trunc.mp4
head -c $(($(stat -c%s long.mkv) * 6 / 10)) long.mkv >trunc.mkv
$PY - <<'PYEOF'
import random
r = random.Random(1)
for src, dst, n in (('long.mp4', 'corrupt.mp4', 2000), ('long.mkv', 'corrupt.mkv', 200)):
    b = bytearray(open(src, 'rb').read())
    for i in range(len(b) // 2, len(b) // 2 + n): b[i] = r.randrange(256)
    open(dst, 'wb').write(b)
PYEOF
echo "hello, not a video" >text.mp4
ffmpeg -v error -y -f lavfi -i color=c=red:s=32x32:r=30 -frames:v 0 -c:v mjpeg zero.avi
ffmpeg -v error -y -f lavfi -i sine=d=0.3 audio.wav
ffmpeg -v error -y -f lavfi -i testsrc=s=64x48:r=30:d=0.3 -c:v mjpeg a.avi
ffmpeg -v error -y -f lavfi -i testsrc=s=80x60:r=30:d=0.3 -c:v mjpeg b.avi
printf "file 'a.avi'\nfile 'b.avi'\n" >list.txt && ffmpeg -v error -y -f concat -i list.txt -c copy sizes.avi
$PY -c "b = open('a.avi', 'rb').read(); open('unsup.avi', 'wb').write(b.replace(b'MJPG', b'XQ7Z'))"
ffmpeg -v error -y -f lavfi -i testsrc=s=64x48:r=30:d=0.1 -c:v ffv1 short.mkv  # 3 frames; stride needs 7
for case in "trunc.mp4|moov atom not found" "trunc.mkv|truncated or damaged file after frame" \
    "corrupt.mp4|corrupt data at frame" "corrupt.mkv|corrupt data at frame" "zero.avi|no frames" \
    "text.mp4|not a video file" "audio.wav|no video stream" "unsup.avi|no decoder for codec" \
    "sizes.avi|frame 9 (0.300 s) is 80x60" "short.mkv|too few frames" "missing.mp4|"; do
    f=${case%%|*} want=${case#*|}
    err=$(timeout 60 "$G" predict $CK "$f" 2>&1 >/dev/null); rc=$?
    n=$(grep -c "^gesture predict: $f: " <<<"$err")
    ok "$f: exit 1, one line naming it: $(grep "^gesture predict: $f" <<<"$err")" \
        "[ $rc -eq 1 ] && [ $n -eq 1 ] && grep -F \"gesture predict: $f: \" <<<\"\$err\" | grep -qF '$want'"
done
"$G" predict $CK corrupt.mp4 "${vids[0]}" "${dirs[0]}" --json >mixed.json 2>mixed.err; rc=$?
ok "a damaged video among good inputs: exit 1, the others still predicted" \
    "[ $rc -eq 1 ] && $PY -c 'import json; assert len(json.load(open(\"mixed.json\"))) == 2' && grep -q 'corrupt.mp4' mixed.err"
ok "predict --help tells about videos and --windows" "\"\$G\" predict --help | grep -q -- '--windows'"
err=$("$G" synth-long nothing 2>&1); rc=$?
ok "synth-long without an extension: usage error" "[ $rc -eq 2 ] && grep -q 'extension' <<<\"\$err\""
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
