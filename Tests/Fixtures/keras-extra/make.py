#!/usr/bin/env python3
"""Generates the extra Keras ground truth in this directory with real Keras 3.

    KERAS_BACKEND=jax python3 Tests/Fixtures/keras-extra/make.py

Needs keras (3.15.1 was used), jax, h5py. For every model below it writes
`<model>/architecture.json` (exact `model.to_json()`), optionally
`<model>/architecture_keras2.json` (the same model rewritten in the Keras 2 /
tf.keras dialect: no `module`/`build_config`, list-form `inbound_nodes`,
`batch_input_shape`, dtype strings; Keras 3 cannot read that dialect, so the
expected variables are those of the Keras 3 model), and `<model>/expected.json`:

- `backend`: the Keras backend (decides the dtype of `dtype="int"` variables).
- `weights[]`: `model.weights` after `keras.models.model_from_json(architecture.json)`
  in a cleared session: `path`, `shape`, `dtype`, `trainable` (member of
  `model.trainable_variables`), `h5_path` (dataset the Keras 3 saver writes it to,
  recorded by running `saving_lib._save_state` against a recording store).
- `h5_groups[]`: every object the saver visits (`h5_group`, `object_name`,
  `num_datasets`), in visiting order.
- `stripped_paths`: `model.weights` paths after `model_from_json` of the same JSON
  with every `build_config` removed (Keras then builds nested layers inside their
  parent's name scope).
- `optimizers[]`: for a few optimizers, `optimizer.variables` after
  `optimizer.build(model.trainable_variables)` (`path`, `shape`, `dtype`,
  `reference_index`, `initial` fill for constant initial values).

`optimizer_configs.json`: `get_config()` of optimizers built from a class name and
keyword overrides (the overrides are given as the text a user would type).
"""
import copy
import json
import os
import pathlib
import shutil

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from keras.src.saving import saving_lib  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent


class RecordingStore(saving_lib.H5IOStore):
    """Stands in for the H5 store: records where every variable would be written."""

    def __init__(self):
        self.paths = {}
        self.groups = []

    def __bool__(self):
        return True

    def make(self, path, metadata=None):
        self.groups.append(
            {"h5_group": (path + "/vars") if path else "vars",
             "object_name": (metadata or {}).get("name"),
             "num_datasets": 0})
        return self

    def __setitem__(self, key, value):
        group = self.groups[-1]
        group["num_datasets"] += 1
        self.paths[id(value)] = group["h5_group"] + "/" + key


def strip_build_config(o):
    if isinstance(o, dict):
        return {k: strip_build_config(v) for k, v in o.items() if k != "build_config"}
    if isinstance(o, list):
        return [strip_build_config(x) for x in o]
    return o


def describe(model):
    store = RecordingStore()
    saving_lib._save_state(model, weights_store=store, assets_store=None,
                           inner_path="", visited_saveables=set())
    trainable = {id(v) for v in model.trainable_variables}
    weights = [
        {"path": v.path, "shape": list(v.shape), "dtype": v.dtype,
         "trainable": id(v) in trainable, "h5_path": store.paths.get(id(v))}
        for v in model.weights
    ]
    groups = [g for g in store.groups if not g["h5_group"].startswith("optimizer")]
    return weights, groups


def initial_fill(v):
    a = np.asarray(keras.ops.convert_to_numpy(v.value))
    if a.size == 0:
        return None
    flat = a.reshape(-1)
    if not np.all(flat == flat[0]):
        return None
    x = flat[0].item()
    return x


def describe_optimizer(opt, model):
    opt.build(model.trainable_variables)
    refs = {id(v): i for i, v in enumerate(model.trainable_variables)}
    out = []
    for i, v in enumerate(opt.variables):
        ref = None
        # find the reference variable by the slot lists
        for attr, val in vars(opt).items():
            if isinstance(val, list) and any(x is v for x in val):
                j = [k for k, x in enumerate(val) if x is v][0]
                if attr not in ("_variables", "_trainable_variables") and len(val) == len(model.trainable_variables):
                    ref = j
        out.append({"index": i, "path": v.path, "shape": list(v.shape), "dtype": v.dtype,
                    "reference_index": ref, "initial": initial_fill(v)})
    return {"class_name": type(opt).__name__, "get_config": opt.get_config(), "variables": out}


# ----------------------------------------------------------------------------------------
# Keras 2 (tf.keras) dialect rewriting

def policy_to_keras2(d):
    if isinstance(d, dict) and d.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        name = d["config"]["name"]
        if name.startswith("mixed_"):
            return {"class_name": "Policy", "config": {"name": name}}
        return name
    return d


def tensor_to_keras2(t, offsets):
    h = t["config"]["keras_history"]
    return [h[0], h[1] + offsets.get(h[0], 0), h[2]]


def is_tensor(x):
    return isinstance(x, dict) and x.get("class_name") == "__keras_tensor__"


def node_to_keras2(node, offsets, ops=()):
    args = node["args"]
    kwargs = {}
    tensor_kwargs = {}
    for k, v in node.get("kwargs", {}).items():
        if is_tensor(v) and v["config"]["keras_history"][0] in ops:
            continue  # tf.keras propagates masks implicitly; no op layer exists
        if is_tensor(v):
            tensor_kwargs[k] = tensor_to_keras2(v, offsets)
        elif v is not None:
            kwargs[k] = v
    flat = []
    first = args[0] if args else []
    if is_tensor(first):
        flat = [first]
    elif isinstance(first, list):
        flat = [x for x in first if is_tensor(x)]
    for extra in args[1:]:
        if is_tensor(extra):
            # positional tensors after the first (MHA(query, value)) become kwargs in tf.keras
            tensor_kwargs.setdefault(["value", "key"][len(tensor_kwargs) % 2], tensor_to_keras2(extra, offsets))
    entries = []
    for i, t in enumerate(flat):
        kw = dict(kwargs) if i == 0 else {}
        if i == 0:
            kw.update(tensor_kwargs)
        entries.append(tensor_to_keras2(t, offsets) + [kw])
    return entries


def layer_to_keras2(entry, functional, offsets, ops=()):
    cls = entry["class_name"]
    cfg = copy.deepcopy(entry["config"])
    if "dtype" in cfg:
        cfg["dtype"] = policy_to_keras2(cfg["dtype"])
    if cls == "InputLayer":
        cfg["batch_input_shape"] = cfg.pop("batch_shape")
        cfg.pop("optional", None)
    if cls == "BatchNormalization" and isinstance(cfg.get("axis"), int):
        shape = (entry.get("build_config") or {}).get("input_shape")
        if shape is not None and cfg["axis"] < 0:
            cfg["axis"] = [cfg["axis"] + len(shape)]
    if cls in ("Bidirectional", "TimeDistributed"):
        cfg["layer"] = layer_to_keras2(cfg["layer"], False, {})
        if cls == "Bidirectional":
            # tf.keras writes the wrapped layer under its own name ("lstm"), and the backward
            # layer only when one was given.
            inner_name = cfg["layer"]["config"]["name"]
            if inner_name.startswith("forward_"):
                cfg["layer"]["config"]["name"] = inner_name[len("forward_"):]
            back = cfg.get("backward_layer")
            if back is not None and back["config"]["name"] == "backward_" + cfg["layer"]["config"]["name"]:
                del cfg["backward_layer"]
            elif back is not None:
                cfg["backward_layer"] = layer_to_keras2(back, False, {})
    if cls in ("Sequential", "Functional"):
        cfg = model_config_to_keras2(cls, cfg)
    out = {"class_name": cls, "config": cfg}
    if functional:
        out["name"] = entry["name"]
        out["inbound_nodes"] = [node_to_keras2(n, offsets, ops) for n in entry["inbound_nodes"]]
    return out


def io_to_keras2(x):
    if isinstance(x, list) and len(x) == 3 and isinstance(x[0], str):
        return [x]
    return x


def model_config_to_keras2(cls, cfg):
    cfg = copy.deepcopy(cfg)
    cfg.pop("dtype", None)
    cfg.pop("build_input_shape", None)
    if cls == "Sequential":
        cfg["layers"] = [layer_to_keras2(e, False, {}) for e in cfg["layers"]]
        return cfg
    offsets = {e["name"]: 1 for e in cfg["layers"] if e["class_name"] in ("Functional", "Sequential")}
    ops = {e["name"] for e in cfg["layers"] if e.get("module", "").startswith("keras.src.ops")}
    cfg["layers"] = [layer_to_keras2(e, True, offsets, ops) for e in cfg["layers"] if e["name"] not in ops]

    def fix(x):
        return x  # output/input layer indices already count the built-in node (Keras 3 does too)

    cfg["input_layers"] = fix(io_to_keras2(cfg["input_layers"]))
    cfg["output_layers"] = fix(io_to_keras2(cfg["output_layers"]))
    return cfg


def to_keras2(arch):
    return {"class_name": arch["class_name"],
            "config": model_config_to_keras2(arch["class_name"], arch["config"]),
            "keras_version": "2.15.0", "backend": "tensorflow"}


# ----------------------------------------------------------------------------------------
# Models


def m_functional_multi_input():
    a = keras.Input((8,), name="features")
    b = keras.Input((4, 6), name="sequence")
    c = keras.Input((3,), name="unused_extra")
    x = L.Dense(16, activation="relu", name="dense_a")(a)
    y = L.Flatten()(b)
    y = L.Dense(16, use_bias=False)(y)
    z = L.Concatenate()([x, y])
    s = L.Add()([x, y])
    m = L.Multiply()([x, s])
    z = L.Concatenate(axis=-1)([z, m, s])
    out1 = L.Dense(3, name="head")(z)
    out2 = L.Dense(1, name="aux")(s)
    return keras.Model([a, b, c], [out1, out2], name="two_heads")


def m_image_net():
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.BatchNormalization()(x)
    x = L.SeparableConv2D(16, 3, depth_multiplier=2, padding="valid")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, padding="same")(x)
    x = L.BatchNormalization(center=False, momentum=0.9)(x)
    x = L.MaxPooling2D()(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)))(x)
    x = L.Conv2D(8, (2, 3), dilation_rate=(1, 2), groups=4)(x)
    x = L.AveragePooling2D(pool_size=2, strides=1, padding="same")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, output_padding=1)(x)
    x = L.Cropping2D(((1, 1), (0, 2)))(x)
    x = L.UpSampling2D((2, 1))(x)
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.2)(x)
    out = L.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out, name="image_net")


def m_image_net_sequential():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(6, 5, padding="same"),
        L.BatchNormalization(scale=False),
        L.MaxPooling2D(),
        L.SeparableConv2D(12, 3),
        L.DepthwiseConv2D((3, 3), strides=2),
        L.Flatten(),
        L.Dense(10),
    ], name="lenet")


def m_channels_first():
    inp = keras.Input((3, 16, 16))
    x = L.Conv2D(4, 3, data_format="channels_first")(inp)
    x = L.BatchNormalization(axis=1)(x)
    x = L.DepthwiseConv2D(3, data_format="channels_first", depth_multiplier=3)(x)
    x = L.SeparableConv2D(5, 3, data_format="channels_first")(x)
    x = L.MaxPooling2D(data_format="channels_first")(x)
    x = L.Conv2DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")(x)
    x = L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True)(x)
    x = L.Flatten()(x)
    out = L.Dense(2)(x)
    return keras.Model(inp, out, name="channels_first")


def m_conv_misc():
    seq = keras.Input((20, 4), name="seq")
    vol = keras.Input((8, 8, 8, 2), name="vol")
    x = L.Conv1D(6, 3, padding="causal", dilation_rate=2)(seq)
    x = L.Conv1D(6, 4, strides=3, padding="same", groups=2, use_bias=False)(x)
    x = L.DepthwiseConv1D(3, depth_multiplier=2)(x)
    x = L.SeparableConv1D(5, 2, depth_multiplier=3, padding="same")(x)
    x = L.Conv1DTranspose(3, 4, strides=2, padding="valid")(x)
    x = L.ZeroPadding1D((2, 1))(x)
    x = L.Cropping1D((1, 3))(x)
    x = L.UpSampling1D(3)(x)
    x = L.MaxPooling1D(3)(x)
    x = L.AveragePooling1D(2, padding="same")(x)
    x = L.GlobalMaxPooling1D()(x)
    v = L.Conv3D(4, 3, padding="same")(vol)
    v = L.MaxPooling3D()(v)
    v = L.Conv3DTranspose(3, 2, strides=2)(v)
    v = L.ZeroPadding3D(1)(v)
    v = L.Cropping3D(((1, 0), (0, 1), (1, 1)))(v)
    v = L.UpSampling3D((1, 2, 1))(v)
    v = L.AveragePooling3D(pool_size=(2, 2, 2), strides=(1, 2, 2))(v)
    v = L.GlobalAveragePooling3D()(v)
    z = L.Concatenate()([x, v])
    r = L.RepeatVector(4)(z)
    r = L.Permute((2, 1))(r)
    r = L.Reshape((-1, 2))(r)
    r = L.GlobalAveragePooling1D(keepdims=True)(r)
    r = L.Flatten()(r)
    out = L.Dense(2)(r)
    return keras.Model([seq, vol], out, name="conv_misc")


def m_mha_block():
    inp = keras.Input((10, 16))
    ctx = keras.Input((7, 12))
    a = L.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
    x = L.Add()([inp, a])
    x = L.LayerNormalization(epsilon=1e-6)(x)
    c = L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, use_bias=False, output_shape=(6,))(x, ctx)
    g = L.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(1,))(query=x, value=ctx, key=ctx)
    f = L.Dense(32, activation="gelu")(x)
    f = L.Dense(16)(f)
    x = L.Add()([x, f, g])
    x = L.LayerNormalization(axis=[-2, -1], center=False)(x)
    q = L.EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d")(x)
    at = L.Attention(use_scale=True, score_mode="concat")([q, c])
    ad = L.AdditiveAttention()([q, c, c])
    ad2 = L.AdditiveAttention(use_scale=False)([q, c])
    x = L.Concatenate()([at, ad, ad2])
    x = L.GlobalAveragePooling1D()(x)
    out = L.Dense(2)(x)
    return keras.Model([inp, ctx], out, name="mha_block")


def m_einsum():
    inp = keras.Input((5, 7))
    a = L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")(inp)
    b = L.EinsumDense("abc,cde->abde", output_shape=(None, 3, 2), bias_axes="de")(inp)
    c = L.EinsumDense("...b,bc->...c", output_shape=4, bias_axes="c")(inp)
    d = L.EinsumDense("abc,bcd->ad", output_shape=9)(inp)
    e = L.EinsumDense("abc,cd->abd", output_shape=(5, 4), bias_axes="bd")(inp)
    f = L.EinsumDense("abc,cde->abde", output_shape=(None, 3, 2), bias_axes="e")(inp)
    x = L.Concatenate()([a, c, e])
    x = L.Flatten()(x)
    y = L.Flatten()(b)
    fl = L.Flatten()(f)
    return keras.Model(inp, [x, y, d, fl], name="einsum")


def m_rnn_zoo():
    inp = keras.Input((12, 8))
    ids = keras.Input((12,), dtype="int32")
    e = L.Embedding(100, 8, mask_zero=True)(ids)
    x = L.GRU(6, return_sequences=True)(inp)
    y = L.GRU(5, reset_after=False, return_sequences=True, use_bias=True)(e)
    z = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    w = L.Bidirectional(L.GRU(3), merge_mode="sum")(y)
    s = L.SimpleRNN(7, return_sequences=True, use_bias=False)(z)
    t = L.TimeDistributed(L.Dense(3))(s)
    o, h, c = L.LSTM(5, return_state=True, unit_forget_bias=False)(t)
    k = L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="ave",
                        backward_layer=L.SimpleRNN(2, return_sequences=True, go_backwards=True, name="custom_back"))(t)
    k = L.Flatten()(k)
    out = L.Concatenate()([o, h, c, w, k])
    out = L.Dense(2)(out)
    return keras.Model([inp, ids], out, name="rnn_zoo")


def m_bidirectional_seq():
    return keras.Sequential([
        keras.Input((9, 4)),
        L.Bidirectional(L.LSTM(6, return_sequences=True)),
        L.Bidirectional(L.GRU(3, reset_after=True)),
        L.Dense(1),
    ], name="bidi_seq")


def m_nested():
    inner_seq = keras.Sequential([keras.Input((8,)), L.Dense(6), L.BatchNormalization(), L.Dense(4)], name="inner_seq")
    ii = keras.Input((4,))
    inner_fun = keras.Model(ii, L.Dense(3, name="inner_dense")(L.Dense(5, name="inner_hidden")(ii)), name="inner_fun")
    frozen = keras.Sequential([keras.Input((8,)), L.Dense(2, name="frozen_dense"), L.LayerNormalization(name="frozen_ln")], name="frozen_block")
    frozen.trainable = False
    inp = keras.Input((8,))
    x = inner_seq(inp)
    x = inner_fun(x)
    f = frozen(inp)
    x2 = inner_fun(inner_seq(inp))
    out = L.Concatenate()([x, f, x2])
    out = L.Dense(1, trainable=False, name="frozen_head")(out)
    return keras.Model(inp, out, name="outer")


def m_nested_in_sequential():
    inner = keras.Sequential([keras.Input((6,)), L.Dense(5), L.Dense(4)], name="block")
    return keras.Sequential([keras.Input((6,)), inner, L.Dense(2)], name="outer_seq")


def m_mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inp = keras.Input((10,), dtype="int32")
        x = L.Embedding(50, 8)(inp)
        x = L.Conv1D(4, 3)(x)
        x = L.BatchNormalization()(x)
        x = L.LayerNormalization()(x)
        x = L.LSTM(3)(x)
        x = L.Dense(5, dtype="float16")(x)
        x = L.Dense(4, dtype="bfloat16")(x)
        x = L.Dense(2, dtype="float64")(x)
        out = L.Activation("softmax", dtype="float32")(x)
        return keras.Model(inp, out, name="mixed")
    finally:
        keras.config.set_dtype_policy("float32")


def m_norm_misc():
    inp = keras.Input((6, 4))
    x = L.Normalization()(inp)
    x = L.Normalization(axis=(1, 2))(x)
    x = L.Normalization(axis=None)(x)
    x = L.Normalization(mean=0.5, variance=2.0)(x)
    x = L.GroupNormalization(groups=2)(x)
    x = L.GroupNormalization(groups=-1, center=False, axis=1)(x)
    x = L.UnitNormalization()(x)
    x = L.PReLU()(x)
    x = L.PReLU(shared_axes=[1])(x)
    x = L.RMSNormalization()(x)
    x = L.LayerNormalization(rms_scaling=True)(x)
    x = L.BatchNormalization(renorm=True)(x)
    x = L.BatchNormalization(axis=1, trainable=False)(x)
    x = L.LayerNormalization(axis=1, scale=False)(x)
    return keras.Model(inp, x, name="norm_misc")


def m_weightless_zoo():
    inp = keras.Input((8, 8, 3))
    x = L.Rescaling(1.0 / 255)(inp)
    x = L.Resizing(12, 10)(x)
    x = L.CenterCrop(10, 8)(x)
    x = L.RandomFlip()(x)
    x = L.RandomCrop(6, 6)(x)
    x = L.SpatialDropout2D(0.1)(x)
    x = L.GaussianNoise(0.1)(x)
    x = L.GaussianDropout(0.1)(x)
    x = L.AlphaDropout(0.1)(x)
    x = L.ActivityRegularization(l1=0.01)(x)
    x = L.Activation("tanh")(x)
    x = L.LeakyReLU(negative_slope=0.2)(x)
    x = L.ELU()(x)
    x = L.Softmax()(x)
    x = L.Identity()(x)
    x = L.Reshape((36, 3))(x)
    x = L.Masking()(x)
    x = L.SpatialDropout1D(0.1)(x)
    a = L.Dense(4)(x)
    b = L.Dense(4)(x)
    d = L.Subtract()([a, b])
    e = L.Average()([a, b, d])
    f = L.Maximum()([a, b])
    g = L.Minimum()([e, f])
    h = L.Dot(axes=(1, 1))([g, a])
    h = L.Flatten()(h)
    i = L.Dot(axes=-1, normalize=True)([L.Flatten()(a), L.Flatten()(b)])
    out = L.Concatenate()([h, i])
    out = L.Dense(1)(out)
    return keras.Model(inp, out, name="weightless_zoo")


def m_misc_layers():
    inp = keras.Input((4, 6, 6, 2))
    x = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True)(inp)
    x = L.ConvLSTM2D(2, (2, 2), strides=2)(x)
    x = L.Flatten()(x)
    ids = keras.Input((5,), dtype="int32")
    q = L.Embedding(20, 8)(ids)
    gqa = L.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)(q, q)
    gqa = L.GlobalAveragePooling1D()(gqa)
    gated = L.MultiHeadAttention(num_heads=2, key_dim=3, use_gate=True)(q, q)
    gated = L.GlobalMaxPooling1D()(gated)
    out = L.Concatenate()([x, gqa, gated])
    out = L.Dense(2)(out)
    return keras.Model([inp, ids], out, name="misc_layers")


def m_generic_rnn():
    inp = keras.Input((5, 3))
    x = L.RNN(L.LSTMCell(4), return_sequences=True)(inp)
    y = L.RNN([L.GRUCell(2), L.SimpleRNNCell(3, use_bias=False), L.GRUCell(2, reset_after=False)],
              return_sequences=True)(x)
    z, h = L.RNN(L.SimpleRNNCell(2), return_state=True)(y)
    out = L.Concatenate()([z, h])
    return keras.Model(inp, out, name="generic_rnn")


def m_misc_more():
    img = keras.Input((4, 8, 8, 3))
    seq = keras.Input((6, 5))
    ids = keras.Input((6,), dtype="int32")
    t = L.TimeDistributed(L.Conv2D(2, 3))(img)
    t = L.TimeDistributed(L.AdaptiveAveragePooling2D((2, 2)))(t)
    t = L.ConvLSTM1D(3, 2, data_format="channels_last")(L.Reshape((4, 4, 2))(t))
    t = L.Flatten()(t)
    f, b, fh, fc, bh, bc = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None)(seq)
    a, scores = L.MultiHeadAttention(2, 3)(f, b, return_attention_scores=True)
    e = L.ReversibleEmbedding(30, 5, tie_weights=False)(ids)
    att, w = L.Attention()([e, seq], return_attention_scores=True)
    lam = L.Lambda(lambda x: x[:, :2] * 2.0, output_shape=(2, 5))(att)
    x = L.Concatenate()([L.Flatten()(a), L.Flatten()(scores), fh, bc, L.Flatten()(lam), L.Flatten()(w), t])
    x = L.EinsumDense("...b,bc->...c", output_shape=4, bias_axes="c")(L.Reshape((-1, 2, 4))(L.Dense(8)(x)))
    x = L.Flatten()(x)
    out = L.Dense(1)(x)
    return keras.Model([img, seq, ids], out, name="misc_more")


def m_mlp_sequential_compiled():
    m = keras.Sequential([keras.Input((12,)), L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(3)], name="small_mlp")
    m.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.003, weight_decay=0.01), loss="mse")
    return m


MODELS = {
    "functional_multi_input": (m_functional_multi_input, True),
    "image_net": (m_image_net, True),
    "image_net_sequential": (m_image_net_sequential, True),
    "channels_first": (m_channels_first, True),
    "conv_misc": (m_conv_misc, True),
    "mha_block": (m_mha_block, False),
    "einsum": (m_einsum, False),
    "rnn_zoo": (m_rnn_zoo, True),
    "bidirectional_seq": (m_bidirectional_seq, True),
    "nested": (m_nested, True),
    "nested_in_sequential": (m_nested_in_sequential, True),
    "mixed_float16": (m_mixed_float16, True),
    "norm_misc": (m_norm_misc, False),
    "weightless_zoo": (m_weightless_zoo, False),
    "misc_layers": (m_misc_layers, False),
    "small_mlp_compiled": (m_mlp_sequential_compiled, True),
    "generic_rnn": (m_generic_rnn, False),
    "misc_more": (m_misc_more, False),
}

OPTIMIZER_MODELS = {
    "image_net": [
        ("adam", lambda: keras.optimizers.Adam()),
        ("adafactor", lambda: keras.optimizers.Adafactor()),
        ("nadam", lambda: keras.optimizers.Nadam()),
        ("rmsprop_centered_momentum", lambda: keras.optimizers.RMSprop(centered=True, momentum=0.5)),
        ("sgd", lambda: keras.optimizers.SGD()),
        ("lamb", lambda: keras.optimizers.Lamb()),
        ("adam_ema_accum", lambda: keras.optimizers.Adam(use_ema=True, gradient_accumulation_steps=3)),
        ("adagrad_schedule", lambda: keras.optimizers.Adagrad(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.9), initial_accumulator_value=0.25)),
    ],
    "rnn_zoo": [
        ("adam_amsgrad", lambda: keras.optimizers.Adam(amsgrad=True)),
        ("adafactor", lambda: keras.optimizers.Adafactor()),
        ("ftrl", lambda: keras.optimizers.Ftrl(initial_accumulator_value=0.5)),
    ],
    "nested": [
        ("sgd_momentum", lambda: keras.optimizers.SGD(momentum=0.9)),
        ("adadelta", lambda: keras.optimizers.Adadelta()),
    ],
    "mixed_float16": [
        ("nadam", lambda: keras.optimizers.Nadam()),
        ("adamax", lambda: keras.optimizers.Adamax()),
        ("lion", lambda: keras.optimizers.Lion()),
    ],
    "norm_misc": [
        ("adam", lambda: keras.optimizers.Adam()),
        ("adafactor", lambda: keras.optimizers.Adafactor()),
    ],
}

# (class name as typed, overrides as typed, Python constructor)
OPTIMIZER_CONFIGS = [
    ("adam", {}, lambda: keras.optimizers.Adam()),
    ("Adam", {"learning_rate": "0.01"}, lambda: keras.optimizers.Adam(learning_rate=0.01)),
    ("ADAMW", {"weight_decay": "0.01", "amsgrad": "true"}, lambda: keras.optimizers.AdamW(weight_decay=0.01, amsgrad=True)),
    ("sgd", {"momentum": "0.9", "nesterov": "True"}, lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True)),
    ("SGD", {"learning_rate": "0.1"}, lambda: keras.optimizers.SGD(learning_rate=0.1)),
    ("rmsprop", {"rho": "0.8", "centered": "true", "epsilon": "1e-8"}, lambda: keras.optimizers.RMSprop(rho=0.8, centered=True, epsilon=1e-8)),
    ("adagrad", {"initial_accumulator_value": "0.5"}, lambda: keras.optimizers.Adagrad(initial_accumulator_value=0.5)),
    ("adadelta", {"learning_rate": "1.0", "rho": "0.9"}, lambda: keras.optimizers.Adadelta(learning_rate=1.0, rho=0.9)),
    ("adamax", {"beta_2": "0.99"}, lambda: keras.optimizers.Adamax(beta_2=0.99)),
    ("nadam", {"clipnorm": "1.0"}, lambda: keras.optimizers.Nadam(clipnorm=1.0)),
    ("ftrl", {"l1_regularization_strength": "0.01", "beta": "0.1"}, lambda: keras.optimizers.Ftrl(l1_regularization_strength=0.01, beta=0.1)),
    ("lion", {"beta_1": "0.95"}, lambda: keras.optimizers.Lion(beta_1=0.95)),
    ("adafactor", {"relative_step": "false", "clip_threshold": "2"}, lambda: keras.optimizers.Adafactor(relative_step=False, clip_threshold=2.0)),
    ("lamb", {}, lambda: keras.optimizers.Lamb()),
    ("adam", {"use_ema": "true", "ema_overwrite_frequency": "5", "gradient_accumulation_steps": "4"},
     lambda: keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=5, gradient_accumulation_steps=4)),
    ("adam", {"name": "my_adam", "global_clipnorm": "0.5", "loss_scale_factor": "128"},
     lambda: keras.optimizers.Adam(name="my_adam", global_clipnorm=0.5, loss_scale_factor=128.0)),
]


def dump(obj):
    """JSON with one list entry per line: small, still diffable."""
    def enc(v, indent):
        pad = " " * indent
        if isinstance(v, dict) and indent == 0:
            items = [f'{pad} {json.dumps(k)}: {enc(x, indent + 1)}' for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n}"
        if isinstance(v, list) and v and isinstance(v[0], dict):
            return "[\n" + ",\n".join(pad + "  " + (enc(x, indent + 2) if "variables" in x else json.dumps(x)) for x in v) + "\n" + pad + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {enc(x, indent + 1)}" for k, x in v.items()) + "}"
        return json.dumps(v)
    return enc(obj, 0) + "\n"


def fresh():
    """A cleared session (fresh automatic names); Lambda layers may be deserialized."""
    keras.backend.clear_session()
    keras.config.enable_unsafe_deserialization()


def main():
    backend = keras.backend.backend()
    for name, (fn, keras2) in MODELS.items():
        fresh()
        model = fn()
        arch_text = model.to_json()
        arch = json.loads(arch_text)
        d = HERE / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        (d / "architecture.json").write_text(arch_text)
        if keras2:
            (d / "architecture_keras2.json").write_text(json.dumps(to_keras2(arch)))
        fresh()
        loaded = keras.models.model_from_json(arch_text)
        weights, groups = describe(loaded)
        fresh()
        stripped = keras.models.model_from_json(json.dumps(strip_build_config(arch)))
        expected = {
            "keras_version": keras.__version__,
            "backend": backend,
            "model_class": type(loaded).__name__,
            "model_name": loaded.name,
            "weights": weights,
            "h5_groups": groups,
            "stripped_paths": [v.path for v in stripped.weights],
            "optimizers": [],
        }
        for label, make in OPTIMIZER_MODELS.get(name, []):
            fresh()
            m = keras.models.model_from_json(arch_text)
            o = describe_optimizer(make(), m)
            o["label"] = label
            expected["optimizers"].append(o)
        (d / "expected.json").write_text(dump(expected))
        print(name, len(weights), "weights")
    configs = []
    for cls, overrides, make in OPTIMIZER_CONFIGS:
        fresh()
        o = make()
        configs.append({"class": cls, "overrides": overrides, "class_name": type(o).__name__,
                        "get_config": o.get_config()})
    (HERE / "optimizer_configs.json").write_text(dump({"keras_version": keras.__version__, "configs": configs}))


if __name__ == "__main__":
    main()
