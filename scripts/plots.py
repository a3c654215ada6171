#!/usr/bin/python3
"""Figures for gesture runs (called by `gesture train/eval/compare`, usable by hand).

  plots.py curves RUN_DIR [OUT.png]                 accuracy and loss, train vs val (default RUN_DIR/plots/curves.png)
  plots.py best RUN_DIR                             the best epochs the curves mark, one "key value epoch" line each
  plots.py confusion EVAL_DIR [OUT.png]             heatmap of EVAL_DIR/confusion.csv (default EVAL_DIR/confusion.png)
  plots.py samples PREDICTIONS.csv OUT.png [--rows N] [--frames N] [--title TEXT]
                                                    frames of some clips with true/predicted label and probability
  plots.py compare RUN_DIR... OUT.png               validation accuracy and loss of several runs overlaid
  plots.py eval EVAL_DIR SAMPLES.png [samples options]   confusion + samples (what `gesture eval` draws)

Runs on Debian's /usr/bin/python3 (matplotlib, numpy, h5py). Exit status 3 means a module is missing.
"""
import csv
import os
import re
import sys

MISSING_MODULE = 3

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator
except ImportError as e:  # the C side turns exit 3 into "install python3-matplotlib or pass --no-plots"
    sys.stderr.write("plots.py: %s (needs matplotlib and numpy for %s)\n" % (e, sys.executable))
    sys.exit(MISSING_MODULE)

COLUMNS = ("epoch", "accuracy", "learning_rate", "loss", "val_accuracy", "val_loss")


def fail(msg):
    sys.stderr.write("plots.py: %s\n" % msg)
    sys.exit(1)


def read_log(run_dir):
    """Per-epoch metrics of a run: log.h5 (the trainer's HDF5 log), else training_log.csv."""
    h5 = os.path.join(run_dir, "log.h5")
    if os.path.exists(h5):
        try:
            import h5py
        except ImportError as e:
            sys.stderr.write("plots.py: %s (needs h5py for %s)\n" % (e, sys.executable))
            sys.exit(MISSING_MODULE)
        with h5py.File(h5, "r") as f:
            return {c: np.asarray(f[c][()], dtype=np.float64) for c in COLUMNS if c in f}
    path = os.path.join(run_dir, "training_log.csv")
    if not os.path.exists(path):
        fail("%s: no log.h5 or training_log.csv (not a run directory, or no epoch finished)" % run_dir)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {c: np.array([float(r[c]) for r in rows]) for c in COLUMNS if rows and c in rows[0]}


def epoch_numbers(log):
    """The epochs as people read them: 1-based, as the console ("epoch 12/20") and Keras' progress
    output ("Epoch 12/20") count; the logs' `epoch` column is Keras' 0-based index."""
    return log["epoch"] + 1


def best_epochs(log):
    """{"val_accuracy": (value, epoch), "val_loss": (value, epoch)} for the columns the log has: the
    first best epoch (as Keras' monitors, which need a strict improvement), 1-based."""
    best = {}
    for key, arg in (("val_accuracy", np.nanargmax), ("val_loss", np.nanargmin)):
        if key in log and np.isfinite(log[key]).any():
            i = int(arg(log[key]))
            best[key] = (float(log[key][i]), int(epoch_numbers(log)[i]))
    return best


def save(fig, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, out)  # readers never see a half-written figure


def run_name(run_dir):
    return os.path.basename(os.path.normpath(run_dir))


def cmd_curves(args):
    if not 1 <= len(args) <= 2:
        fail("usage: plots.py curves RUN_DIR [OUT.png]")
    run = args[0]
    out = args[1] if len(args) > 1 else os.path.join(run, "plots", "curves.png")
    log = read_log(run)
    if "epoch" not in log or len(log["epoch"]) == 0:
        fail("%s: the training log has no epochs yet" % run)
    ep = epoch_numbers(log)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for key, label, style in ((metric, "train", "-"), ("val_" + metric, "val", "--")):
            if key in log:
                ax.plot(ep, log[key], style, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    best = best_epochs(log)
    for ax, key, what in ((axes[0], "val_accuracy", "best val accuracy"), (axes[1], "val_loss", "lowest val loss")):
        if key in best:
            value, epoch = best[key]
            ax.axvline(epoch, color="grey", lw=0.8, ls=":")
            ax.set_title("%s %.4f (epoch %d)" % (what, value, epoch))
    fig.suptitle(run_name(run))
    save(fig, out)


def cmd_best(args):
    """What the curves mark, as text (for scripts and tests): `val_accuracy VALUE EPOCH` and
    `val_loss VALUE EPOCH`, epochs 1-based."""
    if len(args) != 1:
        fail("usage: plots.py best RUN_DIR")
    for key, (value, epoch) in best_epochs(read_log(args[0])).items():
        print("%s %.9g %d" % (key, value, epoch))


def read_confusion(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        fail("%s: empty confusion matrix" % path)
    classes = rows[0][1:]
    true_names = [r[0] for r in rows[1:]]
    cm = np.array([[int(v) for v in r[1:]] for r in rows[1:]], dtype=np.int64)
    if cm.shape != (len(classes), len(classes)) or true_names != classes:
        fail("%s: expected a square matrix with the same class names on both axes" % path)
    return classes, cm


def cmd_confusion(args):
    if not 1 <= len(args) <= 2:
        fail("usage: plots.py confusion EVAL_DIR [OUT.png]")
    d = args[0]
    out = args[1] if len(args) > 1 else os.path.join(d, "confusion.png")
    classes, cm = read_confusion(os.path.join(d, "confusion.csv"))
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)  # colour = recall per true class
    K = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 * K + 2.5, 1.0 * K + 2))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(K):
        for j in range(K):
            ax.text(j, i, "%d" % cm[i, j], ha="center", va="center", color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(K), classes, rotation=35, ha="right")
    ax.set_yticks(range(K), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    n = int(cm.sum())
    ax.set_title("%s: accuracy %.4f (%d clips)" % (os.path.basename(os.path.normpath(d)), np.trace(cm) / max(n, 1), n))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    save(fig, out)


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def list_frames(clip_dir):
    # the frame names gesture lists (PNG or JPEG; plt.imread goes by content, as gesture does)
    names = [n for n in os.listdir(clip_dir) if n.lower().endswith((".png", ".jpg", ".jpeg")) and not n.startswith(".")]
    return [os.path.join(clip_dir, n) for n in sorted(names, key=natural_key)]


def pick_samples(rows, n):
    """Misclassified clips first (up to half the rows), then correct ones spread over the classes."""
    wrong = [r for r in rows if r["true"] != r["pred"]]
    right = [r for r in rows if r["true"] == r["pred"]]
    picked = wrong[: max(n // 2, n - len(right))]
    by_class = {}
    for r in right:
        by_class.setdefault(r["true"], []).append(r)
    queues = list(by_class.values())
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def cmd_samples(args):
    opts = {"--rows": 8, "--frames": 6, "--title": ""}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            if i + 1 >= len(args):
                fail("%s needs a value" % args[i])
            opts[args[i]] = args[i + 1] if args[i] == "--title" else int(args[i + 1])
            i += 2
        else:
            pos.append(args[i])
            i += 1
    if len(pos) != 2:
        fail("usage: plots.py samples PREDICTIONS.csv OUT.png [--rows N] [--frames N] [--title TEXT]")
    with open(pos[0], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail("%s: no predictions" % pos[0])
    picked = pick_samples(rows, opts["--rows"])
    F = opts["--frames"]
    fig, axes = plt.subplots(len(picked), F, figsize=(1.6 * F, 1.65 * len(picked)), squeeze=False)
    for r, row in enumerate(picked):
        frames = list_frames(row["clip_dir"]) if os.path.isdir(row["clip_dir"]) else []
        sel = [frames[int((k + 0.5) * len(frames) / F)] for k in range(F)] if frames else []
        for k in range(F):
            ax = axes[r][k]
            ax.axis("off")
            if k < len(sel):
                ax.imshow(plt.imread(sel[k]))
        p = float(row.get("prob_" + row["pred"], "nan"))
        ok = row["true"] == row["pred"]
        axes[r][0].set_title("%s  true %s -> %s (p %.2f)" % (row["clip"], row["true"], row["pred"], p), loc="left",
                             fontsize=9, color="black" if ok else "red")
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.75 / height, hspace=0.45, wspace=0.05)
    fig.suptitle("sample clips%s (red: misclassified)" % (": " + opts["--title"] if opts["--title"] else ""),
                 y=1 - 0.15 / height)
    save(fig, pos[1])


def cmd_compare(args):
    if len(args) < 2:
        fail("usage: plots.py compare RUN_DIR... OUT.png")
    runs, out = args[:-1], args[-1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        log = read_log(run)
        if "epoch" not in log:
            continue
        for ax, key in zip(axes, ("val_accuracy", "val_loss")):
            if key in log:
                ax.plot(epoch_numbers(log), log[key], marker="o", markersize=3, label=run_name(run))
    for ax, key in zip(axes, ("val_accuracy", "val_loss")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("validation curves")
    save(fig, out)


def cmd_eval(args):
    """confusion + samples in one interpreter start (what `gesture eval` draws)."""
    if len(args) < 2:
        fail("usage: plots.py eval EVAL_DIR SAMPLES.png [--rows N] [--frames N] [--title TEXT]")
    cmd_confusion(args[:1])
    cmd_samples([os.path.join(args[0], "predictions.csv")] + args[1:])


COMMANDS = {"curves": cmd_curves, "best": cmd_best, "confusion": cmd_confusion, "samples": cmd_samples,
            "compare": cmd_compare, "eval": cmd_eval}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    COMMANDS[sys.argv[1]](sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
