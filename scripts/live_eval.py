#!/usr/bin/env python3
"""Score `gesture stream --events EVENTS.csv` against ground truth (`gesture synth-long` writes
TRUTH.csv: start,end,label).

An event matches a ground-truth gesture when the labels agree and the event fired while the
gesture was in view or within SLACK seconds after it ended (a window ends after the frames it
holds, so a detection can only come late, never early). Each gesture matches at most one event.
Prints precision (matched events / events) and recall (matched gestures / gestures) and the
unmatched ones; exits 1 when either is below --min (default: report only).

usage: live_eval.py TRUTH.csv EVENTS.csv [--slack S] [--min P]
"""
import argparse
import csv
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("truth")
    ap.add_argument("events")
    ap.add_argument("--slack", type=float, default=1.0, help="seconds after a gesture's end (default 1.0)")
    ap.add_argument("--min", type=float, default=0.0, help="fail unless precision and recall reach this")
    a = ap.parse_args()
    truth = [(float(r["start"]), float(r["end"]), r["label"]) for r in csv.DictReader(open(a.truth))]
    events = [(float(r["fired"]), r["label"], float(r["p"])) for r in csv.DictReader(open(a.events))]
    used = [False] * len(truth)
    extra = []
    for fired, label, p in events:
        hit = next((i for i, (s, e, l) in enumerate(truth)
                    if not used[i] and l == label and s <= fired <= e + a.slack), None)
        if hit is None:
            extra.append((fired, label, p))
        else:
            used[hit] = True
    matched = sum(used)
    precision = matched / len(events) if events else 1.0
    recall = matched / len(truth) if truth else 1.0
    print(f"gestures {len(truth)}, events {len(events)}, matched {matched}: "
          f"precision {precision:.3f}, recall {recall:.3f}")
    for fired, label, p in extra:
        print(f"  extra event: {label} at {fired:.2f} s (p {p:.2f})")
    for i, (s, e, l) in enumerate(truth):
        if not used[i]:
            print(f"  missed: {l} {s:.2f}-{e:.2f} s")
    return 0 if precision >= a.min and recall >= a.min else 1


if __name__ == "__main__":
    sys.exit(main())
