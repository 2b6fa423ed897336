#!/usr/bin/env python3
"""Generates a real Keras 3 epoch pair for `ckpt diff` tests.

    KERAS_BACKEND=jax python3 Tests/Fixtures/keras-epochs/make.py

Trains a tiny Sequential MLP (keras 3.15.1 on JAX, fixed seed, CPU) for one epoch,
saves, trains one more epoch, saves again:

- `epoch1.weights.npz`, `epoch2.weights.npz`: `np.savez` of `{v.path: v.numpy()}`
  for `model.weights` (trainable and non-trainable, in `model.weights` order).
- `epoch1.weights.h5`, `epoch2.weights.h5`: `model.save_weights` of the same states
  (for when the Keras HDF5 reader lands; tests skip them until then).
- `architecture.json`: `model.to_json()`.
- `expected_diff.json`: what numpy computes for A = epoch1, B = epoch2 (the reference),
  per tensor in `model.weights` order, with float64 arithmetic:
  `max_abs` = max|a-b|, `mean_abs` = mean|a-b| (numpy pairwise sum), `rms` =
  sqrt(mean((a-b)^2)), `max_rel` = max |a-b|/|b| (0 where a == b, inf where
  b == 0 != a), `cosine` = a.b / (|a| |b|), `identical` (same bytes),
  `differing` = number of elements not `np.isclose(a, b, atol, rtol, equal_nan=True)`
  under ckpt diff's default tolerance for the dtype (`atol`, `rtol` recorded; integer
  tensors exact).

The model has layers whose tensors must come out bit-identical between epochs: a
`Normalization` layer (adapted once: `mean`, `variance` and the int32 `count` are
non-trainable and never updated by fit) and a frozen `Dense` (`trainable = False`).
`BatchNormalization`'s `moving_mean`/`moving_variance` are non-trainable but change.
"""
import json
import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

# ckpt diff's default tolerances (DiffTolerance.defaults in CheckpointKit).
DEFAULT_TOL = {
    "float64": (1e-12, 1e-12),
    "float32": (1e-8, 1e-6),
    "float16": (1e-5, 1e-3),
    "bfloat16": (1e-5, 1e-2),
}


def metrics(a, b):
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    d = np.abs(a64 - b64)
    out = {
        "max_abs": float(d.max()) if d.size else None,
        "mean_abs": float(d.mean()) if d.size else None,
        "rms": float(np.sqrt(np.mean(d * d))) if d.size else None,
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(d == 0, 0.0, np.where(b64 == 0, np.inf, d / np.abs(b64)))
    out["max_rel"] = float(rel.max()) if d.size else None
    na = float(np.sqrt(np.sum(a64 * a64)))
    nb = float(np.sqrt(np.sum(b64 * b64)))
    if na == 0 and nb == 0:
        out["cosine"] = 1.0
    elif na == 0 or nb == 0:
        out["cosine"] = 0.0
    else:
        out["cosine"] = float(np.sum(a64 * b64) / (na * nb))
    if str(a.dtype) in DEFAULT_TOL:
        atol, rtol = DEFAULT_TOL[str(a.dtype)]
        close = np.isclose(a64, b64, atol=atol, rtol=rtol, equal_nan=True)
    else:
        atol, rtol = 0.0, 0.0
        close = a == b
    out["atol"] = atol
    out["rtol"] = rtol
    out["differing"] = int(np.count_nonzero(~close))
    return out


def main():
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(1234)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 1).astype("int32")

    norm = L.Normalization(name="norm")
    norm.adapt(x)
    frozen = L.Dense(16, activation="relu", name="frozen")
    model = keras.Sequential([
        keras.Input((8,)),
        norm,
        frozen,
        L.BatchNormalization(name="bn"),
        L.Dense(16, activation="relu", name="dense"),
        L.Dense(3, name="head"),
    ], name="sequential")
    frozen.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")

    (HERE / "architecture.json").write_text(model.to_json())
    states = []
    for epoch in (1, 2):
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        state = {v.path: np.array(v.numpy()) for v in model.weights}
        np.savez(HERE / f"epoch{epoch}.weights.npz", **state)
        model.save_weights(HERE / f"epoch{epoch}.weights.h5")
        states.append(state)

    tensors = []
    for v in model.weights:
        a, b = states[0][v.path], states[1][v.path]
        e = {
            "name": v.path,
            "dtype": str(a.dtype),
            "shape": list(a.shape),
            "trainable": any(v is t for t in model.trainable_weights),
            "elements": int(a.size),
            "identical": a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(),
        }
        e.update(metrics(a, b))
        tensors.append(e)
    expected = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
        "a": "epoch1.weights.npz",
        "b": "epoch2.weights.npz",
        "tensors": tensors,
        "identical": [t["name"] for t in tensors if t["identical"]],
        "different": [t["name"] for t in tensors if t["differing"] > 0],
    }
    (HERE / "expected_diff.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
