#!/usr/bin/env python3
"""Small Keras files for the Keras reader/writer tests, written by real Keras 3 (JAX backend).

    KERAS_BACKEND=jax python3 Tests/Fixtures/keras-files/make.py

Needs keras (3.15.1 was used), jax, h5py, numpy. Every model is tiny, built with explicit
layer names, compiled with an optimizer and trained for two steps on random data (so the
optimizer state is real), then saved as:

- `<model>.keras` (`model.save`), and for some models `<model>.weights.h5`
  (`model.save_weights`, which includes the optimizer state of a compiled model);
- `legacy_mlp.h5`: Keras 3's own Keras 2-layout writer (`model.save("x.h5")`);
- `<model>.inputs.npz` (the inputs `predict` is checked on) and, next to each `.weights.h5`,
  `<model>.architecture.json` (`model.to_json()`).

Models: a multi-input functional model (Dense, BatchNormalization, Embedding, GRU, Concatenate;
AdamW with amsgrad), a recurrent/attention model (Bidirectional LSTM, MultiHeadAttention,
LayerNormalization; centered RMSprop with momentum), an image model with a nested Sequential block
(Conv2D, BatchNormalization, SeparableConv2D, DepthwiseConv2D; Nesterov SGD), a Sequential with a
custom layer the toolkit does not know (SimpleRNN, Conv1D; Nadam), bfloat16 variables, a
mixed_float16 model (LossScaleOptimizer), and a tiny MLP for each remaining optimizer class.

`expected.json` records, per file: `weights` in `model.weights` order after `load_model` in this
process (`path`, `shape`, `dtype`, `trainable`, `sha256` of the little-endian C-order bytes),
`optimizer` (`class_name` — the inner class for a LossScaleOptimizer, then `loss_scale` is true —,
`iterations`, `variables` in `optimizer.variables` order: `path`,
`shape`, `dtype`, `sha256`), and `predict_sha256` (of `model.predict` on the recorded input, for
the cross-check). Hostile files made here: `external_link.keras` (a `model.weights.h5` member with
an HDF5 external link in place of a weight), `tiny_mismatch.weights.h5` (a weights file whose
kernel shape differs from `tiny_architecture.json`).

Do not edit the outputs by hand; rerun the script.
"""
import hashlib
import io
import json
import os
import pathlib
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RNG = np.random.default_rng(1234)


def sha(a):
    a = np.ascontiguousarray(np.asarray(a))
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if str(a.dtype) == "bfloat16":
        a = a.view(np.uint16)
    return hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()


@keras.saving.register_keras_serializable(package="ckpt_test")
class Scale(L.Layer):
    """A layer the toolkit does not know: two variables, one of them not trainable."""

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="offset", trainable=False)

    def call(self, x):
        return x * self.gain + self.offset


def data(shapes, dtypes=None):
    out = []
    for i, s in enumerate(shapes):
        if dtypes and dtypes[i] == "int":
            out.append(RNG.integers(0, 20, size=(8,) + s).astype("int32"))
        else:
            out.append(RNG.random((8,) + s).astype("float32"))
    return out


def models():
    # A multi-input functional model: dense branch + embedding/GRU branch, batch norm, concat.
    a = keras.Input((6,), name="numbers")
    b = keras.Input((5,), dtype="int32", name="tokens")
    x = L.Dense(8, activation="relu", name="hidden")(a)
    x = L.BatchNormalization(name="bn")(x)
    e = L.Embedding(20, 4, name="embed")(b)
    e = L.GRU(6, name="gru")(e)
    m = L.Concatenate(name="concat")([x, e])
    y = L.Dense(3, activation="softmax", name="out")(m)
    yield ("functional_multi", keras.Model([a, b], y, name="multi"),
           keras.optimizers.AdamW(learning_rate=0.01, amsgrad=True), "sparse_categorical_crossentropy",
           [(6,), (5,)], ["float", "int"], 3)

    # Recurrent + attention: bidirectional LSTM, self-attention, layer norm.
    s = keras.Input((7, 5), name="seq")
    h = L.Bidirectional(L.LSTM(4, return_sequences=True, name="lstm"), name="bidi")(s)
    h = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(h, h)
    h = L.LayerNormalization(name="ln")(h)
    h = L.GlobalAveragePooling1D(name="pool")(h)
    y = L.Dense(2, name="head")(h)
    yield ("recurrent_attention", keras.Model(s, y, name="ra"),
           keras.optimizers.RMSprop(momentum=0.9, centered=True), "mse", [(7, 5)], None, 2)

    # An image network with a nested Sequential block and separable/depthwise convolutions.
    block = keras.Sequential([L.Conv2D(4, 3, padding="same", name="c1"), L.BatchNormalization(name="b1"),
                              L.ReLU(name="r1")], name="block")
    i = keras.Input((8, 8, 2), name="image")
    z = block(i)
    z = L.SeparableConv2D(4, 3, name="sep")(z)
    z = L.DepthwiseConv2D(3, name="dw")(z)
    z = L.GlobalMaxPooling2D(name="gmp")(z)
    y = L.Dense(3, name="logits")(z)
    yield ("image_nested", keras.Model(i, y, name="img"),
           keras.optimizers.SGD(momentum=0.9, nesterov=True), "mse", [(8, 8, 2)], None, 3)

    # A Sequential recurrent stack with an unknown (custom) layer, trained with Nadam.
    seq = keras.Sequential([keras.Input((4, 3)), L.SimpleRNN(5, return_sequences=True, name="rnn"),
                            L.Conv1D(3, 2, name="conv1d"), L.Flatten(name="flat"), Scale(name="scale"),
                            L.Dense(2, name="dense")], name="custom_seq")
    yield ("custom_layer", seq, keras.optimizers.Nadam(), "mse", [(4, 3)], None, 2)

    # bfloat16 variables.
    bf = keras.Sequential([keras.Input((3,)), L.Dense(4, dtype="bfloat16", name="d1"), L.Dense(2, name="d2")], name="bf")
    yield ("bfloat16", bf, keras.optimizers.Adam(), "mse", [(3,)], None, 2)

    # Mixed precision: Keras wraps the optimizer in a LossScaleOptimizer (four more variables).
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    mixed = keras.Sequential([keras.Input((3,)), L.Dense(4, name="d1"), L.Dense(2, name="d2", dtype="float32")], name="mixed")
    yield ("mixed_float16", mixed, keras.optimizers.Adam(), "mse", [(3,)], None, 2)
    keras.mixed_precision.set_dtype_policy("float32")

    # One tiny MLP per remaining optimizer class.
    for opt in [keras.optimizers.Adagrad(), keras.optimizers.Adadelta(), keras.optimizers.Adamax(),
                keras.optimizers.Ftrl(), keras.optimizers.Lion(), keras.optimizers.Adafactor(),
                keras.optimizers.Lamb(), keras.optimizers.Adam(use_ema=True)]:
        name = "opt_" + type(opt).__name__.lower() + ("_ema" if opt.use_ema else "")
        mlp = keras.Sequential([keras.Input((3,)), L.Dense(4, name="d1"), L.Dense(2, name="d2")], name="mlp")
        yield (name, mlp, opt, "mse", [(3,)], None, 2)


def describe(model, x):
    trainable = {id(v) for v in model.trainable_variables}
    out = {
        "weights": [{"path": v.path, "shape": list(v.shape), "dtype": v.dtype, "trainable": id(v) in trainable,
                     "sha256": sha(keras.ops.convert_to_numpy(v))} for v in model.weights],
        "predict_sha256": sha(model.predict(x, verbose=0)),
    }
    opt = getattr(model, "optimizer", None)
    if opt is not None and opt.variables:
        out["optimizer"] = {
            # A LossScaleOptimizer (mixed precision) is named by its inner optimizer's class.
            "class_name": type(getattr(opt, "inner_optimizer", opt)).__name__,
            "loss_scale": type(opt).__name__ == "LossScaleOptimizer",
            "iterations": int(keras.ops.convert_to_numpy(opt.iterations)),
            "variables": [{"path": v.path, "shape": list(v.shape), "dtype": v.dtype,
                           "sha256": sha(keras.ops.convert_to_numpy(v))} for v in opt.variables],
        }
    return out


def main():
    expected = {"keras_version": keras.__version__, "backend": keras.backend.backend(), "files": {}, "inputs": {}}
    for name, model, opt, loss, shapes, dtypes, outputs in models():
        model.compile(optimizer=opt, loss=loss)
        xs = data(shapes, dtypes)
        y = RNG.integers(0, outputs, size=(8,)) if loss.startswith("sparse") else RNG.random((8, outputs)).astype("float32")
        model.fit(xs if len(xs) > 1 else xs[0], y, batch_size=4, epochs=1, verbose=0)
        path = HERE / f"{name}.keras"
        model.save(path)
        np.savez(HERE / f"{name}.inputs.npz", *xs)
        loaded = keras.models.load_model(path)
        expected["files"][f"{name}.keras"] = describe(loaded, xs if len(xs) > 1 else xs[0])
        expected["inputs"][f"{name}.keras"] = f"{name}.inputs.npz"
        if name in ("functional_multi", "custom_layer"):
            model.save_weights(HERE / f"{name}.weights.h5")
            (HERE / f"{name}.architecture.json").write_text(model.to_json())

    # Keras 3's Keras 2-layout writer (model_config, model_weights/, optimizer_weights/).
    mlp = keras.Sequential([keras.Input((3,)), L.Dense(4, name="d1"), L.Dense(2, name="d2")], name="mlp")
    mlp.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    mlp.fit(RNG.random((8, 3)).astype("float32"), RNG.random((8, 2)).astype("float32"), batch_size=4, verbose=0)
    mlp.save(HERE / "legacy_mlp.h5")
    with h5py.File(HERE / "legacy_mlp.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]] \
            if "optimizer_weights" in f else []
    expected["files"]["legacy_mlp.h5"] = {
        "weights": [{"path": v.path, "shape": list(v.shape), "dtype": v.dtype, "trainable": True,
                     "sha256": sha(keras.ops.convert_to_numpy(v))} for v in mlp.weights],
        "optimizer_weight_names": names,
        "optimizer": {"class_name": "Adam", "iterations": int(keras.ops.convert_to_numpy(mlp.optimizer.iterations)),
                      "variables": [{"path": v.path, "shape": list(v.shape), "dtype": v.dtype,
                                     "sha256": sha(keras.ops.convert_to_numpy(v))} for v in mlp.optimizer.variables]},
    }

    # Hostile: an external link where a weight should be.
    tiny = keras.Sequential([keras.Input((4,)), L.Dense(3, name="dense")], name="tiny")
    (HERE / "tiny_architecture.json").write_text(tiny.to_json())
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.attrs["name"] = "dense"
        g["0"] = h5py.ExternalLink("/etc/passwd.h5", "/secret")
        g["1"] = np.zeros(3, dtype="float32")
        f.create_group("vars").attrs["name"] = "tiny"
    with zipfile.ZipFile(HERE / "external_link.keras", "w") as z:
        with z.open("metadata.json", "w") as f:
            f.write(json.dumps({"keras_version": keras.__version__, "date_saved": "2000-01-01@00:00:00"}).encode())
        with z.open("config.json", "w") as f:
            f.write(tiny.to_json().encode())
        z.writestr(zipfile.ZipInfo("model.weights.h5", (1980, 1, 1, 0, 0, 0)), buf.getvalue())

    # Hostile: a kernel of the wrong shape for tiny_architecture.json.
    with h5py.File(HERE / "tiny_mismatch.weights.h5", "w") as f:
        g = f.create_group("layers/dense/vars")
        g.attrs["name"] = "dense"
        g["0"] = np.zeros((4, 2), dtype="float32")
        g["1"] = np.zeros(3, dtype="float32")
        f.create_group("vars").attrs["name"] = "tiny"

    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
