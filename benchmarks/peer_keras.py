#!/usr/bin/env python3
"""TensorFlow + Keras 3 peer of `gesture bench`: the seed notebook's model and calls, train step and inference.

The model is the seed's Keras code (keras.applications.MobileNetV2(alpha, include_top=False,
weights=None) in TimeDistributed, BatchNormalization, GlobalAveragePooling2D, Bidirectional(GRU(128)),
Dropout, Dense(128, relu, L2 1e-4), Dropout, Dense(softmax)), compiled as the seed compiles it
(Adam 1e-4, categorical_crossentropy, accuracy; jit_compile is Keras' "auto", which is off on a
CPU-only machine). train: model.train_on_batch; inference / latency: model.predict_on_batch.
TensorFlow's intra- and inter-op thread pools are both --threads. With --keras-weights W.weights.h5
(gesture export-keras) and --check-inputs/--check-probs, gesture's weights are loaded and the
probabilities compared with gesture predict's.
   benchmarks/peer_keras.py --config small --threads 2
"""
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def build_seed_model(keras, alpha, T, S, classes):
    """The seed notebook's model (scripts/make_keras_fixtures.py builds the same at a small size)."""
    from keras import layers
    base_model = keras.applications.MobileNetV2(alpha=alpha, include_top=False, weights=None, input_shape=(S, S, 3))
    model = keras.Sequential([
        keras.Input(shape=(T, S, S, 3)),
        layers.TimeDistributed(base_model),
        layers.TimeDistributed(layers.BatchNormalization()),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()),
        layers.Bidirectional(layers.GRU(128)),
        layers.Dropout(0.25),
        layers.Dense(128, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4)),
        layers.Dropout(0.25),
        layers.Dense(classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    ap = peer_common.parser(__doc__)
    ap.add_argument("--keras-weights", help="gesture export-keras CK.h5 W.weights.h5, for the numerics check")
    a = peer_common.resolve(ap.parse_args())
    import numpy as np
    import tensorflow as tf
    if a.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    import keras
    B, T, S = a.batch, a.frames, a.size
    keras.utils.set_random_seed(0)
    model = build_seed_model(keras, a.alpha, T, S, a.classes)
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
    print(f"engine         tensorflow {tf.__version__} + keras {keras.__version__} (backend {keras.backend.backend()}), "
          f"intra/inter-op threads {tf.config.threading.get_intra_op_parallelism_threads()}/"
          f"{tf.config.threading.get_inter_op_parallelism_threads()}, jit_compile {model.jit_compile}, "
          f"oneDNN opts {onednn}; {model.count_params():,} values; alpha {a.alpha:.2f} S {S} T {T} B {B}", flush=True)
    chk = peer_common.load_check(a)
    if chk and a.keras_weights:
        x, ref = chk
        with warnings.catch_warnings():  # the weights file has no optimizer state: nothing to skip here
            warnings.simplefilter("ignore")
            model.load_weights(a.keras_weights)
        p = np.concatenate([model.predict_on_batch(x[i:i + B]) for i in range(0, len(x), B)])
        peer_common.report_check(p, ref, "keras fp32, gesture's weights (export-keras)")
    rng = np.random.default_rng(1)
    x = rng.random((B, T, S, S, 3), dtype=np.float32)
    y = np.eye(a.classes, dtype=np.float32)[np.arange(B) % a.classes]
    for phase in a.phases:
        if phase == "train":
            peer_common.measure("train", lambda: model.train_on_batch(x, y), B * T, a)
        elif phase == "inference":
            peer_common.measure("inference", lambda: model.predict_on_batch(x), B * T, a)
        elif phase == "latency":
            peer_common.measure("latency", lambda: model.predict_on_batch(x[:1]), T, a)


if __name__ == "__main__":
    main()
