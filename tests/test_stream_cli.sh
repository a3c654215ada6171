#!/usr/bin/env bash
# `gesture stream` end to end on a tiny trained model: its windows (per-frame features cached in a
# ring, the head over the ring) equal `predict --windows` on the same file; raw RGB24 on stdin gives
# the same windows; events with --on-event run a program without a shell; --events writes the CSV;
# --annotate writes a video of the model frames; Ctrl-C and bad input end cleanly with a summary.
set -u
. "${GESTURE_SOURCE_DIR:?}/tests/tiny_video.sh"

# windows.py STREAM.jsonl OUT.json: the stream's window lines as a JSON list (compare.py's input)
cat >windows.py <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump([r for r in rows if r['type'] == 'window'], open(sys.argv[2], 'w'))
PYEOF

"$G" synth-long long.mkv --gestures 3 --size 64x48 --idle 0.5 --seed 5 >/dev/null || exit 1
"$G" stream $CK long.mkv >s.jsonl 2>s.err; rc=$?
"$PY" windows.py s.jsonl s.json
"$G" predict $CK long.mkv --windows --json >p.json 2>/dev/null
# model rate 15 fps over 0.5 + 3 x (1 + 0.5) s = 5 s at 30 fps: 75 model frames; T 4, hop 2: 36 windows
ok "stream exits 0 with one line per window (36)" "[ $rc -eq 0 ] && $PY -c 'import json; assert len(json.load(open(\"s.json\"))) == 36'"
ok "the windows differ (else the comparison below could not fail)" "$PY - <<'PYEOF'
import json
w = json.load(open('s.json'))
assert max(abs(x['probabilities'][k] - y['probabilities'][k]) for x in w for y in w for k in x['probabilities']) > 1e-3
PYEOF"
ok "stream windows = predict --windows on the same file (1e-5)" "$PY compare.py s.json p.json 1e-5"
ok "window times = predict's start/end" "$PY - <<'PYEOF'
import json
s, p = json.load(open('s.json')), json.load(open('p.json'))
assert all(abs(a['start'] - b['start']) < 1e-3 and abs(a['end'] - b['end']) < 1e-3 and a['t'] == a['end'] for a, b in zip(s, p))
PYEOF"
ok "summary: frames, windows, events, dropped, latency p50/p99" \
    "grep -q '150 frames decoded, 75 model frames (75 used, 0 dropped), 36 windows' s.err && grep -q 'compute p50 .* ms, p99' s.err"
"$G" stream $CK long.mkv --device cpu --precision bf16 >b.jsonl 2>b.err
"$PY" windows.py b.jsonl b.json
ok "--precision bf16 on the cpu: one line saying it runs fp32, the fp32 windows" \
    "grep -q '^gesture stream: runtime.precision = bf16: .*; inference runs in fp32' b.err && $PY compare.py b.json s.json 0"

"$G" stream $CK long.mkv --hop 5 --events-only --set stream.threshold=0 --set stream.min_duration=0 \
    --set stream.refractory=0 --on-event "touch $T/ev_{label};x" --events ev.csv >e.jsonl 2>e.err; rc=$?
n_ev=$(grep -c '"type": "event"' e.jsonl)
ok "--events-only prints only events; threshold 0 fires at least once ($n_ev)" \
    "[ $rc -eq 0 ] && [ $n_ev -ge 1 ] && ! grep -q '\"window\"' e.jsonl"
first=$("$PY" -c "import json; print([json.loads(l) for l in open('e.jsonl')][0]['label'])")
ok "--on-event runs the program per event, placeholders filled, no shell (';x' is part of the name)" \
    "[ -e '$T/ev_$first;x' ] && [ \$(ls $T/ev_* | wc -l) -ge 1 ]"
ok "--events CSV: header and one row per event (start,end,label,p,fired)" \
    "head -1 ev.csv | grep -qx 'start,end,label,p,fired' && [ \$((\$(wc -l <ev.csv) - 1)) -eq $n_ev ]"

# raw RGB24 on stdin: the frames ffmpeg decodes (bit-exact for FFV1) give the same windows. A pipe
# counts as live (it may come from a camera): --no-drop keeps every frame.
ffmpeg -v error -i long.mkv -f rawvideo -pix_fmt rgb24 - | "$G" stream $CK - --size 64x48 --fps 30 --no-drop >r.jsonl 2>r.err
rc=$?
"$PY" windows.py r.jsonl r.json
ok "raw RGB24 on stdin = the file (1e-5)" "[ $rc -eq 0 ] && $PY compare.py s.json r.json 1e-5"
err=$("$G" stream $CK - </dev/null 2>&1); rc=$?
ok "raw input without --size/--fps: exit 1 saying what is needed" "[ $rc -eq 1 ] && grep -q -- '--size' <<<\"\$err\""

"$G" stream $CK long.mkv --annotate ann.mp4 --events-only >/dev/null 2>&1; rc=$?
nf=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,r_frame_rate -of csv=p=0 ann.mp4)
ok "--annotate: one frame per model frame at 15 fps ($nf)" "[ $rc -eq 0 ] && [ '$nf' = '15/1,75' ]"

# Ctrl-C: a real-time replay interrupted after 1 s ends with exit 0 and its summary
"$G" synth-long longer.mkv --gestures 6 --size 64x48 --seed 2 >/dev/null
"$G" stream $CK longer.mkv --realtime >/dev/null 2>int.err &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid; rc=$?
ok "Ctrl-C: exit 0, summary says it was stopped" "[ $rc -eq 0 ] && grep -q 'stopped by Ctrl-C' int.err && grep -q 'latency' int.err"

# bad input: one line naming the source, exit 1, nothing hangs
head -c $(($(stat -c%s long.mkv) * 6 / 10)) long.mkv >trunc.mkv
err=$(timeout 60 "$G" stream $CK trunc.mkv 2>&1 >/dev/null); rc=$?
ok "truncated video: exit 1 naming it after the summary" \
    "[ $rc -eq 1 ] && grep -q '^gesture stream: trunc.mkv: ' <<<\"\$err\" && grep -q 'source failed' <<<\"\$err\""
err=$(timeout 60 "$G" stream $CK missing.mp4 2>&1 >/dev/null); rc=$?
ok "missing file: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'missing.mp4' <<<\"\$err\""
err=$(timeout 60 "$G" stream $CK /dev/video9 2>&1 >/dev/null); rc=$?
ok "missing camera: exit 1 naming it" "[ $rc -eq 1 ] && grep -q '/dev/video9' <<<\"\$err\""
ffmpeg -v error -y -f lavfi -i testsrc=s=64x48:r=30:d=0.5 -c:v mjpeg a.avi
ffmpeg -v error -y -f lavfi -i testsrc=s=80x60:r=30:d=0.5 -c:v mjpeg b.avi
printf "file 'a.avi'\nfile 'b.avi'\n" >list.txt && ffmpeg -v error -y -f concat -i list.txt -c copy sizes.avi
err=$(timeout 60 "$G" stream $CK sizes.avi 2>&1 >/dev/null); rc=$?
ok "frames changing size: a warning naming the frame, the stream goes on (exit 0)" \
    "[ $rc -eq 0 ] && grep -q 'warning: sizes.avi: frame 15 .* is 80x60' <<<\"\$err\" && grep -q '30 frames decoded' <<<\"\$err\""
err=$("$G" stream $CK long.mkv --on-event "say 'unclosed" 2>&1); rc=$?
ok "--on-event with an unclosed quote: exit 1" "[ $rc -eq 1 ] && grep -q 'unclosed' <<<\"\$err\""
err=$("$G" stream $CK long.mkv --set data.size=64 2>&1); rc=$?
ok "--set outside [stream]: usage error" "[ $rc -eq 2 ]"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
