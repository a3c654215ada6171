#!/usr/bin/env bash
# Bad input never crashes `gesture prepare` and never passes silently: each kind of broken data set
# (corrupt / truncated PNGs and JPEGs of many sorts, too few frames, missing folder, unknown label,
# malformed CSV, empty class, frame-named entries that are not files, ...) gives a non-zero exit and its
# own message naming the file; with --on-bad-clip skip a bad clip is left out, warned about and listed in validation.txt.
set -uo pipefail
: "${GESTURE:?GESTURE must point to the gesture binary}"
FX=${GESTURE_FIXTURES:-}
T=$(mktemp -d /tmp/gesture_test_bad_XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

"$GESTURE" synth "$T/good" --clips-per-class 4 --val-per-class 1 --frames 4 --seed 11 --quiet || { echo "synth failed"; exit 1; }
CLIP=$(head -1 "$T/good/train.csv" | cut -d';' -f1)
FRAME=$(ls "$T/good/train/$CLIP" | head -1)
: > "$T/messages"
n_case=0

# run_case NAME "SUBSTRING" [prepare options...]: RAW is $T/c (prepared by the caller).
run_case() {
    local name=$1 want=$2
    shift 2
    n_case=$((n_case + 1))
    "$GESTURE" prepare "$T/c" "$T/out_$n_case" --test-per-class 1 --verify "$@" > "$T/stdout" 2> "$T/stderr"
    local rc=$?
    local msg
    msg=$(grep '^gesture: ' "$T/stderr" | tail -1)
    if [ $rc -ne 0 ] && [ $rc -ne 139 ] && [ $rc -ne 134 ] && grep -qF -- "$want" <<< "$msg"; then
        ok "$name: exit $rc, $msg"
        echo "${msg//$T/}" >> "$T/messages"
    else
        no "$name: exit $rc, wanted '$want', got: $(cat "$T/stderr")"
    fi
}
fresh() { rm -rf "$T/c"; cp -r "$T/good" "$T/c"; }
frame() { echo "$T/c/train/$CLIP/$FRAME"; }

# --- broken PNG frames (the fixtures' independently written bad files, plus shell-made ones) ---
fresh; printf 'this is text, not an image' > "$(frame)"; run_case "not an image" "not a PNG or JPEG image"
fresh; : > "$(frame)"; run_case "empty frame file" "empty file (0 bytes)"
fresh; f=$(frame); head -c $(($(stat -c %s "$f") / 2)) "$f" > "$T/half" && mv "$T/half" "$f"; run_case "truncated frame" "truncated PNG (unexpected end of file)"
fresh; printf '\x89PN' > "$(frame)"; run_case "truncated signature" "truncated PNG signature"
if [ -n "$FX" ] && [ -d "$FX/png" ]; then
    for kind in "crc_ihdr:IHDR: CRC error" "bad_zlib:incorrect header check" "bad_filter:bad adaptive filter value" \
        "no_idat:IEND: out of place" "short_idat:Not enough image data" "zero_width:Image width is zero" \
        "huge:exceeds user limit" "no_plte:Missing PLTE" "bad_depth:bit depth"; do
        fresh; cp "$FX/png/bad_${kind%%:*}.png" "$(frame)"; run_case "PNG ${kind%%:*}" "${kind#*:}"
    done
else
    no "fixture PNGs missing in '$FX/png' (run scripts/make_fixtures.sh)"
fi
# --- broken JPEG frames (a .jpg in a PNG clip is read as JPEG: frames go by name, then content) ---
if [ -n "$FX" ] && [ -d "$FX/jpeg" ]; then
    for kind in "truncated_half:truncated JPEG (Premature end of JPEG file)" "entropy:Corrupt JPEG data" \
        "cmyk:CMYK JPEG is not supported" "huge:JPEG too large" "sof_lossless:Unsupported JPEG process"; do
        fresh; rm "$(frame)"; cp "$FX/jpeg/bad_${kind%%:*}.jpg" "$T/c/train/$CLIP/${FRAME%.png}.jpg"
        run_case "JPEG ${kind%%:*}" "${kind#*:}"
    done
else
    no "fixture JPEGs missing in '$FX/jpeg' (run scripts/make_fixtures.sh)"
fi

# --- clip and data-set structure ---
fresh; rm "$T/c/train/$CLIP/$FRAME"; run_case "too few frames" "too few frames (3, need at least 4)" --min-frames 4
fresh; rm -r "$T/c/train/$CLIP"; run_case "missing clip folder" "missing clip folder"
fresh; echo "$(head -1 "$T/c/val.csv" | cut -d';' -f1);Wave_new;7" > "$T/c/val.csv"; run_case "unknown label" "unknown label 'Wave_new'"
fresh; echo "just_a_folder;Stop_new" >> "$T/c/train.csv"; run_case "CSV line with 2 fields" "expected 'folder;label_name;label_index', got 2 fields"
fresh; sed -i '2s/;[0-9]*$/;two/' "$T/c/train.csv"; run_case "non-numeric label index" "is not a non-negative integer"
fresh; sed -i '2s/;\([0-9]\)$/;9\1/' "$T/c/train.csv"; run_case "conflicting label index" "on an earlier line"
fresh; head -1 "$T/c/train.csv" >> "$T/c/train.csv"; run_case "duplicate folder" "listed twice"
fresh; for f in "$T/c/train/$CLIP"/*; do rm "$f"; done; run_case "clip folder without frames" "clip folder has no PNG or JPEG frames"
# *.png entries that are not regular files: an error naming the entry, never a shorter clip
fresh; ln -s "$T/nowhere.png" "$T/c/train/$CLIP/9999.png"; run_case "dangling frame link" "frame 9999.png is a dangling link"
fresh; mkfifo "$T/c/train/$CLIP/9999.png"; run_case "FIFO named like a frame" "frame 9999.png is a FIFO, not an image file"
fresh; mkdir "$T/c/train/$CLIP/0005.png"; run_case "folder named like a frame" "frame 0005.png is a folder, not an image file"
fresh; rm "$T/c/train.csv"; rm -r "$T/c/train"; run_case "no recognizable layout" "unrecognized layout"
rm -rf "$T/c"; run_case "missing RAW folder" "raw data folder missing"
# class-folder layout: an empty class, and a class holding PNGs directly
rm -rf "$T/c"; "$GESTURE" prepare "$T/good" "$T/c" --test-per-class 1 --quiet >/dev/null
mkdir "$T/c/train/Wave"; run_case "empty class" "Wave: empty class (no sample folders)"
rmdir "$T/c/train/Wave"; mkdir "$T/c/train/Wave"; cp "$T/c/train/Stop"/*/frame_0000.png "$T/c/train/Wave/" 2>/dev/null
run_case "class folder with loose frames" "holds frame files directly"
rm -r "$T/c/train/Wave"
fresh; mkdir -p "$T/out_busy" && touch "$T/out_busy/x"
"$GESTURE" prepare "$T/c" "$T/out_busy" --test-per-class 1 2> "$T/stderr" >/dev/null; rc=$?
if [ $rc -ne 0 ] && grep -q "exists and is not empty" "$T/stderr"; then ok "non-empty OUT refused (exit $rc)"; else no "non-empty OUT: exit $rc"; fi
"$GESTURE" prepare "$T/c" "$T/out_x" --val-frac 2 2> "$T/stderr" >/dev/null; rc=$?
if [ $rc -eq 2 ] && grep -q "invalid value '2' for --val-frac" "$T/stderr"; then ok "out-of-range option: exit 2"; else no "out-of-range option: exit $rc"; fi

distinct=$(sort -u "$T/messages" | wc -l)
total=$(wc -l < "$T/messages")
if [ "$total" -ge 10 ] && [ "$distinct" -eq "$total" ]; then ok "$total kinds of bad input, $distinct distinct messages"; else no "$total bad inputs but $distinct distinct messages"; fi

# --- skip mode: the bad clip is dropped, warned about, listed; everything else is prepared ---
fresh; printf 'garbage, not an image' > "$(frame)"
"$GESTURE" prepare "$T/c" "$T/out_skip" --test-per-class 1 --verify --on-bad-clip skip > "$T/stdout" 2> "$T/stderr"; rc=$?
if [ $rc -eq 0 ] && grep -q "warning: skipping clip: .*$FRAME: not a PNG or JPEG image" "$T/stderr" && grep -q "bad clips left out: 1" "$T/out_skip/validation.txt" \
    && grep -Eq "^total +[0-9]+ +[0-9]+ +[0-9]+ +19$" "$T/stdout" \
    && ! grep -q "$CLIP" "$T/out_skip/manifest.csv"; then
    ok "skip mode: exit 0, warning, listed in validation.txt, 19 of 20 clips prepared"
else
    no "skip mode: exit $rc: $(cat "$T/stderr") $(cat "$T/stdout")"
fi
fresh; mkdir "$T/c/train/$CLIP/0005.png"
"$GESTURE" prepare "$T/c" "$T/out_skip2" --test-per-class 1 --on-bad-clip skip > "$T/stdout" 2> "$T/stderr"; rc=$?
if [ $rc -eq 0 ] && grep -q "warning: skipping clip: .*$CLIP: frame 0005.png is a folder" "$T/stderr" \
    && grep -q "bad clips left out: 1" "$T/out_skip2/validation.txt" && ! grep -q "$CLIP" "$T/out_skip2/manifest.csv"; then
    ok "skip mode, folder named like a frame: exit 0, warning, clip left out"
else
    no "skip mode, folder named like a frame: exit $rc: $(cat "$T/stderr")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
