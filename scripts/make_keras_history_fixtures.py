#!/usr/bin/env python3
"""Keras-written training logs for `gesture import-keras --history` (tests/fixtures/keras_history/).

Trains a tiny classifier on fixed random data with the callbacks the seed notebook used
(EarlyStopping, ReduceLROnPlateau, ModelCheckpoint(save_best_only), CSVLogger), once with Keras 3
(column `learning_rate`) and once with tf_keras 2 (column `lr`), and writes each CSVLogger file plus
<name>.json: the callbacks' configuration and the state Keras' own callback objects hold after
the last epoch (what gesture's replay of the log must reproduce). The model does not matter: only
the logged metrics and the callbacks' decisions on them are used.

Run with a Python that has tensorflow, keras 3 and tf_keras (e.g. python3 -m venv .venv-tf &&
.venv-tf/bin/pip install tensorflow-cpu tf_keras keras h5py), no arguments.
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras_history"
EPOCHS = 12
# the gesture config keys these correspond to are written to the .json next to each log
CB = dict(es_patience=4, rlr_factor=0.5, rlr_patience=1, rlr_min_delta=1e-4, rlr_cooldown=1, min_lr=1e-5)


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(96, 8)).astype("float32")
    y = np.eye(5, dtype="float32")[rng.integers(0, 5, 96)]  # random labels: val_loss plateaus, LR drops
    return x[:64], y[:64], x[64:], y[64:]


def run(keras, name, tmp):
    keras.utils.set_random_seed(3)
    xt, yt, xv, yv = data()
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(5, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-2), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=CB["es_patience"], restore_best_weights=True)
    rlr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=CB["rlr_factor"], patience=CB["rlr_patience"],
                                            min_delta=CB["rlr_min_delta"], cooldown=CB["rlr_cooldown"],
                                            min_lr=CB["min_lr"])
    best = str(tmp / (name + "_best" + (".keras" if name == "keras3" else ".h5")))
    mc = keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", save_best_only=True)
    csv = OUT / ("training_log_%s.csv" % name)
    log = keras.callbacks.CSVLogger(str(csv))
    hist = model.fit(xt, yt, validation_data=(xv, yv), epochs=EPOCHS, batch_size=16, verbose=0,
                     shuffle=False, callbacks=[es, rlr, mc, log])
    lr = float(np.asarray(model.optimizer.learning_rate))
    state = {
        "keras_version": keras.__version__,
        "config": CB,
        "epochs_run": len(hist.history["loss"]),
        "stopped_epoch": int(es.stopped_epoch),
        "early_stopping": {"wait": int(es.wait), "best": float(es.best), "best_epoch": int(es.best_epoch)},
        "reduce_lr": {"wait": int(rlr.wait), "cooldown_counter": int(rlr.cooldown_counter), "best": float(rlr.best)},
        "checkpoint": {"best": float(mc.best)},
        "learning_rate": lr,
    }
    (OUT / ("training_log_%s.json" % name)).write_text(json.dumps(state, indent=1) + "\n")
    print(name, json.dumps(state))


def main():
    import tempfile
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        import keras
        run(keras, "keras3", Path(t))
        import tf_keras
        run(tf_keras, "tf_keras", Path(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
