"""The numpy peers the benchmark times against `ckpt`: what a user without ckpt would write.

    python3 peers.py strip   FULL.npz OUT.npz            # weights only, np.savez_compressed
    python3 peers.py rebuild WEIGHTS.npz OUT.npz --trainable trainable.json   # + fresh Adam state
    python3 peers.py convert IN.safetensors|IN.npz OUT.npz   # np.savez_compressed
    python3 peers.py diff    A.npz B.npz                 # per tensor max |a-b| and mean |a-b| (float64)

Each is a separate process, so interpreter start and `import numpy` count, as they would for a user.
"""

import json
import sys

import numpy as np

OPT = "optimizer/"


def strip(src, dst):
    # np.load of an .npz is lazy: only the weights are read (and inflated), the optimizer arrays
    # are skipped, which is the fastest a numpy user can do.
    with np.load(src) as z:
        weights = {k: z[k] for k in z.files if not k.startswith(OPT)}
    np.savez_compressed(dst, **weights)


def rebuild(src, dst, trainable_json):
    with open(trainable_json) as f:
        trainable = json.load(f)
    with np.load(src) as z:
        out = {k: z[k] for k in z.files}
    out["optimizer/iteration"] = np.array(0, dtype=np.int64)
    out["optimizer/learning_rate"] = np.array(0.001, dtype=np.float32)
    for name in trainable:
        w = out[name]
        out[f"optimizer/momentum/{name}"] = np.zeros_like(w)
        out[f"optimizer/velocity/{name}"] = np.zeros_like(w)
    np.savez_compressed(dst, **out)


def _load_safetensors(path):
    try:
        import ml_dtypes  # noqa: F401 - registers bfloat16 with numpy, which safetensors needs for BF16
    except ImportError:
        pass
    try:
        from safetensors.numpy import load_file
        arrays = load_file(path)
    except (TypeError, ValueError):
        arrays = _load_safetensors_by_hand(path)
    out = {}
    for k, a in arrays.items():
        if a.dtype.name == "bfloat16":
            a = a.view(np.uint16)  # .npy has no bfloat16; store the bits, as the .ckpt spec does
        out[k] = a
    return out


def _load_safetensors_by_hand(path):
    """For a safetensors without ml_dtypes: BF16 comes back as its uint16 bits."""
    import struct
    types = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64, "I64": np.int64,
             "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for k, v in header.items():
            if k == "__metadata__":
                continue
            a, b = v["data_offsets"]
            f.seek(base + a)
            out[k] = np.frombuffer(f.read(b - a), dtype=types[v["dtype"]]).reshape(v["shape"])
    return out


def convert(src, dst):
    if src.endswith(".npz"):
        with np.load(src) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = _load_safetensors(src)
    np.savez_compressed(dst, **arrays)


def diff(a_path, b_path):
    differing = 0
    with np.load(a_path) as a, np.load(b_path) as b:
        names = a.files
        other = set(b.files)
        for k in names:
            if k not in other:
                print(f"only in A: {k}")
                differing += 1
                continue
            x = a[k].astype(np.float64)
            y = b[k].astype(np.float64)
            if x.shape != y.shape:
                print(f"{k}: shape {x.shape} vs {y.shape}")
                differing += 1
                continue
            d = np.abs(x - y)
            mx = float(d.max()) if d.size else 0.0
            mean = float(d.mean()) if d.size else 0.0
            if mx > 0:
                differing += 1
            print(f"{k}\t{mx:.6g}\t{mean:.6g}")
        for k in sorted(other - set(names)):
            print(f"only in B: {k}")
            differing += 1
    print(f"{differing} of {len(names)} tensors differ")
    return 1 if differing else 0


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cmd = argv[0]
    if cmd == "strip":
        strip(argv[1], argv[2])
    elif cmd == "rebuild":
        rebuild(argv[1], argv[2], argv[argv.index("--trainable") + 1])
    elif cmd == "convert":
        convert(argv[1], argv[2])
    elif cmd == "diff":
        return diff(argv[1], argv[2])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
