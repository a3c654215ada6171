#!/usr/bin/env bash
# `gesture synth` + `gesture prepare` end to end: expected counts on the CSV-index layout, the
# nested train/train layout and the class-folder layout; identical output for the same seed
# (and for 1 vs 2 synth threads), different for another seed; links vs --copy; the report files.
set -uo pipefail
: "${GESTURE:?GESTURE must point to the gesture binary}"
T=$(mktemp -d /tmp/gesture_test_prepare_XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
expect() {  # expect "<shell condition>" "description"
    if eval "$1"; then echo "ok   $2"; pass=$((pass + 1)); else echo "FAIL $2"; fail=$((fail + 1)); fi
}
tree_of() { (cd "$1" && find . -printf '%y %P\n' | sort); }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

expect '"$GESTURE" synth --help | grep -q "synthetic 5-class gesture"' "synth --help says what it does"
expect '"$GESTURE" prepare --help | grep -q "train/val/test"' "prepare --help says what it does"

"$GESTURE" synth "$T/raw" --clips-per-class 9 --val-per-class 2 --frames 6 --seed 3 --quiet
expect '[ "$(wc -l < "$T/raw/train.csv")" -eq 35 ] && [ "$(wc -l < "$T/raw/val.csv")" -eq 10 ]' "synth: 35 train + 10 val CSV rows"
expect 'grep -q "^WIN_[0-9_]*_Pro_Left_Swipe_new;Left_Swipe_new;0$" "$T/raw/train.csv"' "synth: Kaggle-style folder;label;index lines"
expect '[ "$(ls "$T/raw/train" | wc -l)" -eq 35 ] && [ "$(ls "$T/raw/train/$(ls "$T/raw/train" | head -1)" | wc -l)" -eq 6 ]' "synth: 35 train folders of 6 frames"
"$GESTURE" synth "$T/raw_t1" --clips-per-class 9 --val-per-class 2 --frames 6 --seed 3 --quiet --threads 1 2>"$T/quiet.err"
"$GESTURE" synth "$T/raw_p" --clips-per-class 10 --frames 2 --seed 3 >/dev/null 2>"$T/synth.err"
expect '[ "$(head -1 "$T/synth.err")" = "synth: clips written 0/50" ] && [ "$(grep -c "^synth: clips written" "$T/synth.err")" -eq 11 ] && tail -1 "$T/synth.err" | grep -qx "synth: clips written 50/50" && [ ! -s "$T/quiet.err" ]' \
    "synth counts clips on stderr, a line per tenth when not a tty; --quiet prints none"
expect 'diff -r -q "$T/raw" "$T/raw_t1" >/dev/null' "synth: same seed with 1 thread gives identical files"

"$GESTURE" prepare "$T/raw" "$T/p1" --seed 5 --test-per-class 2 > "$T/p1.out"
rc=$?
expect '[ $rc -eq 0 ] && grep -Eq "^Left_Swipe +5 +2 +2 +9$" "$T/p1.out" && grep -Eq "^total +25 +10 +10 +45$" "$T/p1.out"' \
    "prepare (seed recipe): 5 train / 2 val / 2 test per class"
expect '[ "$(tail -n +2 "$T/p1/manifest.csv" | wc -l)" -eq 45 ]' "manifest: 45 clips"
expect 'cut -d, -f6 "$T/p1/manifest.csv" | grep -qx 360 && cut -d, -f6 "$T/p1/manifest.csv" | grep -qx 160' "frames are mixed 360x360 and 160x120"
expect '[ "$(ls "$T/p1/train")" = "$(printf "Left_Swipe\nRight_Swipe\nStop\nThumbs_Down\nThumbs_Up")" ]' "class folders without _new, label order"
clip=$(ls -d "$T"/p1/test/Stop/* | head -1)
expect '[ "$(ls "$clip" | tr "\n" " ")" = "frame_0000.png frame_0001.png frame_0002.png frame_0003.png frame_0004.png frame_0005.png " ] && [ -L "$clip/frame_0000.png" ]' \
    "prepared clip: frame_NNNN.png symlinks"
expect 'is_png "$T/p1/distribution.png" && is_png "$T/p1/samples.png" && grep -q "frames per clip: 6 (45 clips)" "$T/p1/validation.txt"' \
    "distribution.png, samples.png, validation.txt written"

"$GESTURE" prepare "$T/raw" "$T/p2" --seed 5 --test-per-class 2 --quiet
expect 'cmp -s "$T/p1/manifest.csv" "$T/p2/manifest.csv" && [ "$(tree_of "$T/p1")" = "$(tree_of "$T/p2")" ]' "same seed: identical manifest and tree"
"$GESTURE" prepare "$T/raw" "$T/p_other" --seed 6 --test-per-class 2 --quiet
expect '! cmp -s "$T/p1/manifest.csv" "$T/p_other/manifest.csv"' "another seed: a different test set"

# --force replaces a previous output of the same command, and nothing else.
err=$("$GESTURE" prepare "$T/raw" "$T/p_other" --seed 5 --test-per-class 2 --quiet 2>&1); rc=$?
expect '[ $rc -eq 1 ] && grep -q -- "--force" <<<"$err"' "prepare into a previous output without --force: refused, --force named"
err=$("$GESTURE" prepare "$T/raw" "$T/p_other" --seed 5 --test-per-class 2 --quiet --force 2>&1); rc=$?
expect '[ $rc -eq 0 ] && grep -q "replacing the previous prepare output in $T/p_other" <<<"$err" && [ "$(tree_of "$T/p1")" = "$(tree_of "$T/p_other")" ] && [ "$(ls "$T/raw/train" | wc -l)" -eq 35 ] && is_png "$(ls -d "$T"/raw/train/*/* | head -1)"' \
    "prepare --force: says so, same tree as a fresh run, the linked raw frames untouched"
touch "$T/p_other/notes.txt"
err=$("$GESTURE" prepare "$T/raw" "$T/p_other" --quiet --force 2>&1); rc=$?
expect '[ $rc -eq 1 ] && grep -q "notes.txt" <<<"$err" && [ -e "$T/p_other/notes.txt" ] && [ -e "$T/p_other/manifest.csv" ]' \
    "prepare --force with a file it did not write: refused naming it, nothing removed"
err=$("$GESTURE" prepare "$T/raw" "$T/raw_t1" --quiet --force 2>&1); rc=$?
expect '[ $rc -eq 1 ] && grep -q ".gesture-prepare" <<<"$err" && [ -s "$T/raw_t1/train.csv" ]' \
    "prepare --force onto a synth folder (no prepare marker): refused, nothing removed"
"$GESTURE" synth "$T/raw_p" --clips-per-class 3 --frames 2 --seed 3 --quiet --force 2>"$T/force.err"; rc=$?
expect '[ $rc -eq 0 ] && grep -q "replacing the previous synth output" "$T/force.err" && [ "$(ls "$T/raw_p/train" "$T/raw_p/val" | grep -c WIN_)" -eq 15 ]' \
    "synth --force over a previous synth output: replaced (15 clips, none left from the 50)"
err=$("$GESTURE" synth "$T/p1" --clips-per-class 3 --frames 2 --quiet --force 2>&1); rc=$?
expect '[ $rc -eq 1 ] && grep -q ".gesture-synth" <<<"$err" && [ -s "$T/p1/manifest.csv" ]' \
    "synth --force onto a prepare output: refused, nothing removed"

# The frame rule: clips shorter than a given config reads are bad clips, named; without a config,
# a note counts the clips shorter than the seed config reads (15 frames every 2nd: 29).
printf '[data]\nframes = 4\nframe_step = 2\nsampling = stride\n' >"$T/f4.ini"
out=$("$GESTURE" prepare "$T/raw" "$T/p_rule" --config "$T/f4.ini" --test-per-class 2 2>"$T/rule.err"); rc=$?
expect '[ $rc -eq 1 ] && grep -q "^frames: 7 per clip at least (data.frames = 4, sampling = stride, frame_step = 2, from $T/f4.ini)" <<<"$out" && grep -q "bad clip: $T/raw/train/WIN_.*: too few frames (6, need at least 7)" "$T/rule.err" && [ ! -e "$T/p_rule" ]' \
    "prepare --config reading 7 frames of 6-frame clips: rule printed, clips named, nothing written"
out=$("$GESTURE" prepare "$T/raw" "$T/p_rule" --set data.frames=3 --set data.frame_step=2 --test-per-class 2); rc=$?
expect '[ $rc -eq 0 ] && grep -q "^frames: 5 per clip at least (data.frames = 3, sampling = stride, frame_step = 2)" <<<"$out"' \
    "prepare --set data.frames=3 (stride 2, 5 frames) accepts 6-frame clips"
"$GESTURE" prepare "$T/raw" "$T/p_note" --test-per-class 2 --quiet 2>"$T/note.err"; rc=$?
expect '[ $rc -eq 0 ] && grep -q "^note: 45 of 45 clips have fewer than the 29 frames the seed config reads" "$T/note.err"' \
    "prepare without a config: a note counts the clips too short for the seed config"

# Kaggle archive nesting: RAW/train/train/<folder>.
mkdir -p "$T/nested" && cp "$T/raw/train.csv" "$T/raw/val.csv" "$T/nested/" && cp -r "$T/raw/val" "$T/nested/val"
mkdir -p "$T/nested/train" && cp -r "$T/raw/train" "$T/nested/train/train"
"$GESTURE" prepare "$T/nested" "$T/p_nested" --seed 5 --test-per-class 2 --quiet
expect '[ "$(cut -d, -f1-7 "$T/p1/manifest.csv")" = "$(cut -d, -f1-7 "$T/p_nested/manifest.csv")" ] && grep -q ",train/train/WIN" "$T/p_nested/manifest.csv"' \
    "nested train/train layout: same split"

# Class-folder layout (the prepared set itself): RAW's test split is kept as given.
"$GESTURE" prepare "$T/p1" "$T/p3" --seed 99 --quiet
expect '[ "$(cut -d, -f1-7 "$T/p1/manifest.csv")" = "$(cut -d, -f1-7 "$T/p3/manifest.csv")" ]' "class-folder layout: same clips in the same splits"

# Fraction recipe with copies: 9 clips per class -> test 1, val 3, train 5.
"$GESTURE" prepare "$T/raw" "$T/p4" --split fraction --val-frac 0.3 --test-frac 0.15 --copy --seed 1 > "$T/p4.out"
expect 'grep -Eq "^Thumbs_Up +5 +3 +1 +9$" "$T/p4.out"' "fraction recipe: 5/3/1 per class"
f=$(ls "$T"/p4/val/Stop/*/frame_0003.png | head -1)
src=$(grep "^val,2,Stop,$(basename "$(dirname "$f")")," "$T/p4/manifest.csv" | cut -d, -f8)
expect '[ -f "$f" ] && [ ! -L "$f" ] && cmp -s "$f" "$(ls "$T/raw/$src"/* | sort -V | sed -n 4p)"' "--copy: regular files equal to the raw frames"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
