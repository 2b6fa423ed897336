"""Synthetic checkpoints for the benchmark: a Keras-style Sequential model whose tensors have a
realistic spread of sizes, values drawn like trained weights, a second "epoch", Adam state, and the
same tensors in every format the peers read.

Everything is deterministic: tensor i's values come from numpy's PCG64 seeded with (seed, i, what),
so any file can be regenerated alone and every format holds the same numbers.
"""

import json
import math
import os
import queue
import struct
import threading
import zipfile

import numpy as np

from ckptwrite import CkptWriter

MiB = 1 << 20
WEIGHT_STD = 0.05          # trained weights ~ normal(0, 0.05)
EPOCH_NOISE = 1e-3         # epoch 2 = epoch 1 * (1 + normal(0, 1e-3))
ADAM_ITERATIONS = 12345
ADAM_LR = 0.0010000000474974513
ADAM_CONFIG = {"name": "adam", "learning_rate": ADAM_LR, "weight_decay": None, "clipnorm": None,
               "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
               "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
               "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}


# ---------------------------------------------------------------------------------------------
# The model plan

def _units_for(kernels):
    """Units u_0..u_n so that u_{i-1} * u_i ~ kernels[i-1] (elements) for a smooth sequence."""
    r = [math.sqrt(k) for k in kernels]
    u = [max(1, round(r[0]))]
    for i in range(len(r) - 1):
        u.append(max(1, round(math.sqrt(r[i] * r[i + 1]))))
    u.append(max(1, round(r[-1])))
    return u


def _mountain(values):
    """Ascending then descending, so neighbours have similar sizes (a chain of Dense layers can
    then hit every size: the net widens, then narrows, like an autoencoder)."""
    s = sorted(values)
    return s[0::2] + s[1::2][::-1]


def plan_model(total_bytes, n_tensors=1205, min_kernel_bytes=1024, max_kernel_bytes=64 * MiB, bn_layers=None):
    """A Sequential of Dense layers (and a few BatchNormalization layers, whose moving statistics
    are non-trainable weights) holding about `total_bytes` of float32 in about `n_tensors`
    tensors. Kernel sizes are log-uniform from `min_kernel_bytes` up to a maximum chosen so the
    total comes out right (capped at `max_kernel_bytes`); biases and BN vectors are as small as
    their layers make them, as in real models."""
    if bn_layers is None:
        bn_layers = 3 if n_tensors >= 100 else 0
    n_dense = max(2, (n_tensors + 1 - 4 * bn_layers) // 2)   # the last Dense has no bias

    def build(top):
        q = [(j + 0.5) / n_dense for j in range(n_dense)]
        lo = min_kernel_bytes
        sizes = [lo * (top / lo) ** x for x in q]
        kernels = _mountain([max(1, s / 4) for s in sizes])
        units = _units_for(kernels)
        layers = []
        bn_at = {n_dense * (k + 1) // (bn_layers + 1) for k in range(bn_layers)}
        n_bn = 0
        for i in range(n_dense):
            name = "dense" if i == 0 else f"dense_{i}"
            layers.append({"class": "Dense", "name": name, "in": units[i], "units": units[i + 1],
                           "bias": i != n_dense - 1})
            if i + 1 in bn_at and i != n_dense - 1:
                bname = "batch_normalization" if n_bn == 0 else f"batch_normalization_{n_bn}"
                layers.append({"class": "BatchNormalization", "name": bname, "units": units[i + 1]})
                n_bn += 1
        return units[0], layers

    def total_of(layers):
        t = 0
        for L in layers:
            if L["class"] == "Dense":
                t += 4 * L["in"] * L["units"] + (4 * L["units"] if L["bias"] else 0)
            else:
                t += 16 * L["units"]
        return t

    lo_b, hi_b = float(min_kernel_bytes) * 1.01, float(max_kernel_bytes)
    if total_of(build(hi_b)[1]) < total_bytes:
        hi_b = float(max_kernel_bytes)
        while total_of(build(hi_b)[1]) < total_bytes:
            hi_b *= 1.5   # beyond the 64 MB cap only for totals past ~7 GB
    for _ in range(60):
        mid = math.sqrt(lo_b * hi_b)
        if total_of(build(mid)[1]) < total_bytes:
            lo_b = mid
        else:
            hi_b = mid
    input_dim, layers = build(hi_b)
    tensors = []
    for L in layers:
        if L["class"] == "Dense":
            tensors.append({"name": L["name"] + "/kernel", "shape": [L["in"], L["units"]], "trainable": True, "var": "kernel"})
            if L["bias"]:
                tensors.append({"name": L["name"] + "/bias", "shape": [L["units"]], "trainable": True, "var": "bias"})
        else:
            for v, tr in (("gamma", True), ("beta", True), ("moving_mean", False), ("moving_variance", False)):
                tensors.append({"name": L["name"] + "/" + v, "shape": [L["units"]], "trainable": tr, "var": v})
    for i, t in enumerate(tensors):
        t["index"] = i
        t["bytes"] = 4 * int(np.prod(t["shape"]))
    frozen_layers = max(1, n_dense // 50)   # the first ~2% of Dense layers do not change in epoch 2
    frozen = {f"dense/{v}" for v in ("kernel", "bias")} | {
        f"dense_{i}/{v}" for i in range(1, frozen_layers) for v in ("kernel", "bias")}
    for t in tensors:
        t["frozen"] = t["name"] in frozen
    return {"input_dim": input_dim, "layers": layers, "tensors": tensors,
            "total_bytes": sum(t["bytes"] for t in tensors), "max_tensor_bytes": max(t["bytes"] for t in tensors),
            "min_tensor_bytes": min(t["bytes"] for t in tensors)}


def _policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _init(cls):
    cfg = {"seed": None, "input_axes": None, "output_axes": None} if cls == "GlorotUniform" else {}
    return {"module": "keras.initializers", "class_name": cls, "config": cfg, "registered_name": None}


def architecture_json(plan):
    """Keras 3 `model.to_json()` text for the plan (format of Tests/Fixtures/keras/mlp/architecture.json)."""
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, plan["input_dim"]], "dtype": "float32", "sparse": False,
                          "ragged": False, "name": "input_layer", "optional": False}, "registered_name": None}]
    for L in plan["layers"]:
        if L["class"] == "Dense":
            cfg = {"name": L["name"], "trainable": True, "dtype": _policy(), "units": L["units"], "activation": "relu",
                   "use_bias": L["bias"], "kernel_initializer": _init("GlorotUniform"), "bias_initializer": _init("Zeros"),
                   "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
                   "bias_constraint": None, "quantization_config": None}
            layers.append({"module": "keras.layers", "class_name": "Dense", "config": cfg, "registered_name": None,
                           "build_config": {"input_shape": [None, L["in"]]}})
        else:
            cfg = {"name": L["name"], "trainable": True, "dtype": _policy(), "axis": -1, "momentum": 0.99, "epsilon": 0.001,
                   "center": True, "scale": True, "beta_initializer": _init("Zeros"), "gamma_initializer": _init("Ones"),
                   "moving_mean_initializer": _init("Zeros"), "moving_variance_initializer": _init("Ones"),
                   "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
                   "synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99}
            layers.append({"module": "keras.layers", "class_name": "BatchNormalization", "config": cfg,
                           "registered_name": None, "build_config": {"input_shape": [None, L["units"]]}})
    model = {"module": "keras", "class_name": "Sequential",
             "config": {"name": "sequential", "trainable": True, "dtype": _policy(), "layers": layers,
                        "build_input_shape": [None, plan["input_dim"]]},
             "registered_name": None, "build_config": {"input_shape": [None, plan["input_dim"]]},
             "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": ADAM_CONFIG,
                                              "registered_name": None},
                                "loss": "mean_squared_error", "loss_weights": None, "metrics": None,
                                "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                                "jit_compile": False}}
    return json.dumps(model).encode()


# ---------------------------------------------------------------------------------------------
# Values

def _rng(seed, i, what):
    return np.random.default_rng([seed, i, what])


def weight_values(seed, t):
    n = int(np.prod(t["shape"]))
    g = _rng(seed, t["index"], 1).standard_normal(n, dtype=np.float32)
    v = t["var"]
    if v == "gamma":
        a = 1 + g * np.float32(WEIGHT_STD)
    elif v == "moving_variance":
        a = np.abs(1 + g * np.float32(0.1))
    else:
        a = g * np.float32(WEIGHT_STD)
    return a.astype(np.float32, copy=False).reshape(t["shape"])


def epoch2_values(seed, t, w):
    if t["frozen"]:
        return w
    n = w.size
    noise = _rng(seed, t["index"], 2).standard_normal(n, dtype=np.float32) * np.float32(EPOCH_NOISE)
    return (w * (1 + noise.reshape(w.shape))).astype(np.float32, copy=False)


def adam_m(seed, t):
    n = int(np.prod(t["shape"]))
    return (_rng(seed, t["index"], 3).standard_normal(n, dtype=np.float32) * np.float32(1e-4)).reshape(t["shape"])


def adam_v(seed, t):
    n = int(np.prod(t["shape"]))
    g = _rng(seed, t["index"], 4).standard_normal(n, dtype=np.float32) * np.float32(1e-4)
    return (g * g + np.float32(1e-12)).reshape(t["shape"])


def to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even (ml_dtypes if present)."""
    try:
        import ml_dtypes
        return a.astype(ml_dtypes.bfloat16).view(np.uint16)
    except ImportError:
        u = a.astype(np.float32, copy=False).view(np.uint32)
        return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# Writers ("sinks"): each takes tensors one at a time.

class NpzSink:
    """Exactly what np.savez / np.savez_compressed do, one array at a time."""

    def __init__(self, path, compressed):
        self.path = path
        self.tmp = path + ".tmp"
        self.zf = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED,
                                  allowZip64=True)

    def add(self, name, a):
        with self.zf.open(name + ".npy", "w", force_zip64=True) as fid:
            np.lib.format.write_array(fid, np.asanyarray(a), allow_pickle=False)

    def close(self):
        self.zf.close()
        os.replace(self.tmp, self.path)


class SafetensorsSink:
    """safetensors, streamed: the header is known from the plan, then the data in that order."""

    def __init__(self, path, specs, st_dtype, itemsize, metadata=None):
        self.path = path
        self.tmp = path + ".tmp"
        header = {}
        if metadata:
            header["__metadata__"] = metadata
        off = 0
        self.order = []
        for name, shape in specs:
            n = int(np.prod(shape)) * itemsize
            header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [off, off + n]}
            off += n
            self.order.append(name)
        hb = json.dumps(header, separators=(",", ":")).encode()
        hb += b" " * ((8 - len(hb) % 8) % 8)
        self.f = open(self.tmp, "wb")
        self.f.write(struct.pack("<Q", len(hb)) + hb)
        self.k = 0

    def add(self, name, a):
        if name != self.order[self.k]:
            raise ValueError(f"safetensors sink: expected {self.order[self.k]}, got {name}")
        self.k += 1
        self.f.write(memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8)))

    def close(self):
        if self.k != len(self.order):
            raise ValueError("safetensors sink: not every tensor was written")
        self.f.close()
        os.replace(self.tmp, self.path)


class H5Sink:
    """h5py, one dataset per tensor (groups from the '/' in names), gzip + shuffle."""

    def __init__(self, path):
        import h5py
        self.path = path
        self.tmp = path + ".tmp"
        self.f = h5py.File(self.tmp, "w")

    def add(self, name, a):
        self.f.create_dataset(name, data=a, compression="gzip", shuffle=True)

    def close(self):
        self.f.close()
        os.replace(self.tmp, self.path)


class Threaded:
    """Runs a sink on its own thread (zlib and file writes release the GIL: 2 cores are used)."""

    def __init__(self, sink, depth=3):
        self.sink = sink
        self.q = queue.Queue(maxsize=depth)
        self.error = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            item = self.q.get()
            if item is None:
                break
            if self.error is None:
                try:
                    self.sink.add(*item)
                except BaseException as e:  # noqa: BLE001 - reported on close
                    self.error = e
        if self.error is None:
            try:
                self.sink.close()
            except BaseException as e:  # noqa: BLE001
                self.error = e

    def add(self, name, a):
        if self.error:
            raise self.error
        self.q.put((name, a))

    def close(self):
        self.q.put(None)
        self.t.join()
        if self.error:
            raise self.error


# ---------------------------------------------------------------------------------------------
# One data set

FILES = {
    "e1.npz": "epoch 1, np.savez (uncompressed): source of e1.ckpt and of the npz->ckpt convert rows",
    "e1c.npz": "epoch 1, np.savez_compressed: what the numpy peers read (rebuild, diff)",
    "e1.safetensors": "epoch 1, float32 safetensors: convert input",
    "e1.f16.safetensors": "epoch 1 as float16: convert input",
    "e1.bf16.safetensors": "epoch 1 as bfloat16 (BF16): convert input",
    "e1.h5": "epoch 1, h5py gzip+shuffle, one dataset per tensor: h5diff input",
    "e2c.npz": "epoch 2 (x(1+N(0,1e-3)), first layers frozen), np.savez_compressed: diff input",
    "e2.h5": "epoch 2, h5py gzip+shuffle",
    "full.npz": "weights + Adam state (iteration, learning_rate, momentum and velocity per trainable weight), np.savez_compressed",
    "full.ckpt": "the same full checkpoint as a .ckpt (written by ckptwrite.py, spec-conformant): strip input",
    "e1.f16.ckpt": "float16 weights as .ckpt (ckptwrite.py; used for inspect only if ckpt cannot convert safetensors)",
    "e1.bf16.ckpt": "bfloat16 weights as .ckpt (ckptwrite.py; same fallback)",
    "model.json": "Keras 3 architecture JSON of the model (rebuild input)",
    "trainable.json": "the trainable weight names, model order (numpy rebuild peer)",
    "plan.json": "the model plan: every tensor's name, shape, size",
}


def adam_order(plan):
    """Full-checkpoint tensor order: weights (model.weights), iteration, learning rate, then per
    trainable weight its momentum and velocity (Keras's add_optimizer_variables interleaving)."""
    order = [t["name"] for t in plan["tensors"]] + ["optimizer/iteration", "optimizer/learning_rate"]
    for t in plan["tensors"]:
        if t["trainable"]:
            order += [f"optimizer/momentum/{t['name']}", f"optimizer/velocity/{t['name']}"]
    return order


def generate(dirpath, total_bytes, seed=0, n_tensors=1205, log=print, only=None):
    """Writes every file of FILES into `dirpath` (skips when plan.json matches and all exist)."""
    os.makedirs(dirpath, exist_ok=True)
    plan = plan_model(total_bytes, n_tensors)
    plan["seed"] = seed
    plan["requested_bytes"] = total_bytes
    stamp = os.path.join(dirpath, "plan.json")
    wanted = [f for f in FILES if only is None or f in only]
    if os.path.exists(stamp):
        try:
            old = json.load(open(stamp))
        except ValueError:
            old = None
        if old == json.loads(json.dumps(plan)) and all(os.path.exists(os.path.join(dirpath, f)) for f in wanted):
            log(f"  data in {dirpath} is up to date")
            return plan
    tensors = plan["tensors"]
    P = lambda f: os.path.join(dirpath, f)  # noqa: E731
    arch = architecture_json(plan)
    with open(P("model.json"), "wb") as f:
        f.write(arch)
    with open(P("trainable.json"), "w") as f:
        json.dump([t["name"] for t in tensors if t["trainable"]], f)
    log(f"  {len(tensors)} tensors, {plan['total_bytes'] / MiB:.1f} MiB float32, "
        f"{plan['min_tensor_bytes']} B .. {plan['max_tensor_bytes'] / MiB:.2f} MiB per tensor; writing {dirpath}")

    specs = [(t["name"], t["shape"]) for t in tensors]
    # Pass A, model order: the numpy / safetensors / HDF5 files.
    sinks = {
        "e1.npz": Threaded(NpzSink(P("e1.npz"), False)),
        "e1c.npz": Threaded(NpzSink(P("e1c.npz"), True)),
        "e1.safetensors": Threaded(SafetensorsSink(P("e1.safetensors"), specs, "F32", 4)),
        "e1.f16.safetensors": Threaded(SafetensorsSink(P("e1.f16.safetensors"), specs, "F16", 2)),
        "e1.bf16.safetensors": Threaded(SafetensorsSink(P("e1.bf16.safetensors"), specs, "BF16", 2)),
        "e1.h5": Threaded(H5Sink(P("e1.h5"))),
        "e2c.npz": Threaded(NpzSink(P("e2c.npz"), True)),
        "e2.h5": Threaded(H5Sink(P("e2.h5"))),
        "full.npz": Threaded(NpzSink(P("full.npz"), True)),
    }
    try:
        for t in tensors:
            w = weight_values(seed, t)
            for k in ("e1.npz", "e1c.npz", "e1.safetensors", "e1.h5", "full.npz"):
                sinks[k].add(t["name"], w)
            sinks["e1.f16.safetensors"].add(t["name"], w.astype(np.float16))
            sinks["e1.bf16.safetensors"].add(t["name"], to_bf16_bits(w))
            w2 = epoch2_values(seed, t, w)
            sinks["e2c.npz"].add(t["name"], w2)
            sinks["e2.h5"].add(t["name"], w2)
        sinks["full.npz"].add("optimizer/iteration", np.array(ADAM_ITERATIONS, dtype=np.int64))
        sinks["full.npz"].add("optimizer/learning_rate", np.array(ADAM_LR, dtype=np.float32))
        for t in tensors:
            if t["trainable"]:
                sinks["full.npz"].add(f"optimizer/momentum/{t['name']}", adam_m(seed, t))
                sinks["full.npz"].add(f"optimizer/velocity/{t['name']}", adam_v(seed, t))
    finally:
        errors = []
        for s in sinks.values():
            try:
                s.close()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        if errors:
            raise errors[0]

    # Pass B, member-name order: the .ckpt files this script writes itself.
    by_member = sorted(tensors, key=lambda t: (t["name"] + ".npy").encode())
    full = CkptWriter(P("full.ckpt"), kind="full", architecture=arch,
                      optimizer={"class_name": "Adam", "config": ADAM_CONFIG, "iterations": ADAM_ITERATIONS},
                      metadata={"epoch": 1, "source": "ckpt benchmark (synthetic)"})
    f16 = CkptWriter(P("e1.f16.ckpt"), kind="weights")
    bf16 = CkptWriter(P("e1.bf16.ckpt"), kind="weights")
    try:
        for t in by_member:
            w = weight_values(seed, t)
            full.add(t["name"], w, trainable=t["trainable"])
            f16.add(t["name"], w.astype(np.float16), trainable=t["trainable"])
            bf16.add(t["name"], to_bf16_bits(w), trainable=t["trainable"], dtype="bfloat16")
        full.add("optimizer/iteration", np.array(ADAM_ITERATIONS, dtype=np.int64), role="optimizer")
        full.add("optimizer/learning_rate", np.array(ADAM_LR, dtype=np.float32), role="optimizer")
        trainable = [t for t in by_member if t["trainable"]]
        for t in trainable:   # "optimizer/momentum/..." < "optimizer/velocity/..."
            full.add(f"optimizer/momentum/{t['name']}", adam_m(seed, t), role="optimizer", slot="momentum", weight=t["name"])
        for t in trainable:
            full.add(f"optimizer/velocity/{t['name']}", adam_v(seed, t), role="optimizer", slot="velocity", weight=t["name"])
        names = [t["name"] for t in tensors]
        full.close(order=adam_order(plan))
        f16.close(order=names)
        bf16.close(order=names)
    except BaseException:
        for w in (full, f16, bf16):
            w.abort()
        raise
    with open(stamp, "w") as f:
        json.dump(plan, f)
    return plan


# ---------------------------------------------------------------------------------------------
# Scale data (--scale): written as uncompressed .npz, streamed in blocks.

def write_npz_streamed(path, arrays, seed, block_elems=16 * MiB, epoch2=False):
    """arrays: [(name, shape)] of float32, values normal(0, 0.05), generated block by block so a
    tensor of several GiB never sits in memory; with epoch2, the same values x (1 + normal(0,
    1e-3)). Returns nothing; sha256 of each tensor's data is written to path + '.sha256.json'."""
    import hashlib
    sums = {}
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for i, (name, shape) in enumerate(arrays):
            n = int(np.prod(shape))
            h = hashlib.sha256()
            rng = _rng(seed, i, 7)
            noise = _rng(seed, i, 8)
            with zf.open(name + ".npy", "w", force_zip64=True) as fid:
                np.lib.format.write_array_header_1_0(fid, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
                left = n
                while left:
                    k = min(left, block_elems)
                    a = rng.standard_normal(k, dtype=np.float32) * np.float32(WEIGHT_STD)
                    if epoch2:
                        a *= 1 + noise.standard_normal(k, dtype=np.float32) * np.float32(EPOCH_NOISE)
                    b = a.view(np.uint8)
                    fid.write(memoryview(b))
                    h.update(memoryview(b))
                    left -= k
            sums[name] = h.hexdigest()
    os.replace(tmp, path)
    with open(path + ".sha256.json", "w") as f:
        json.dump(sums, f)
