"""Cross-check input for GGUFCrossCheckTests: random blocks of every type ckpt decodes.

python crosscheck.py OUT_DIR SEED writes OUT_DIR/random.gguf (GGUFWriter) and
OUT_DIR/random.npz: per tensor, the float32 values gguf.quants.dequantize gives (Q8_K, which
gguf-py does not decode: ggml's d * qs in float32), or the stored values of plain types.
Every byte of every block is random, scales included: NaN, inf and subnormal scales happen.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf.constants import GGML_QUANT_SIZES

out, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
w = gguf.GGUFWriter(os.path.join(out, "random.gguf"), arch="crosscheck")
w.add_uint32("test.seed", seed)
ref = {}

QUANTIZED = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K, QT.Q8_K,
             QT.IQ4_NL, QT.IQ4_XS, QT.TQ1_0, QT.TQ2_0, QT.MXFP4]
for qt in QUANTIZED:
    bs, ts = GGML_QUANT_SIZES[qt]
    rows, blocks_per_row = 3, 5
    raw = rng.integers(0, 256, size=(rows, blocks_per_row * ts), dtype=np.uint8)
    name = "q." + qt.name
    w.add_tensor(name, raw, raw_dtype=qt)
    if qt == QT.Q8_K:
        b = raw.reshape(-1, ts)
        d = b[:, :4].copy().view(np.float32)
        qs = b[:, 4:4 + 256].view(np.int8).astype(np.float32)
        val = (d * qs).reshape(rows, blocks_per_row * bs)
    else:
        val = gguf.quants.dequantize(raw, qt)
    ref[name] = np.ascontiguousarray(val.astype(np.float32, copy=False))

plain = {
    "p.F32": rng.integers(0, 2**32, size=(4, 7), dtype=np.uint32).view(np.float32),
    "p.F16": rng.integers(0, 2**16, size=(2, 3, 5), dtype=np.uint16).view(np.float16),
    "p.F64": rng.standard_normal((3, 2)),
    "p.I8": rng.integers(-128, 128, size=(9,), dtype=np.int8),
    "p.I16": rng.integers(-2**15, 2**15, size=(2, 2), dtype=np.int16),
    "p.I32": rng.integers(-2**31, 2**31, size=(3,), dtype=np.int32),
    "p.I64": rng.integers(-2**63, 2**63, size=(2, 1), dtype=np.int64),
}
for name, arr in plain.items():
    w.add_tensor(name, arr)
    ref[name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
bf = rng.integers(0, 2**16, size=(5, 4), dtype=np.uint16)
w.add_tensor("p.BF16", bf.view(np.uint8), raw_dtype=QT.BF16)
ref["p.BF16"] = gguf.quants.dequantize(bf.view(np.uint8), QT.BF16)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

# gguf-py's reader must agree about what was written.
r = gguf.GGUFReader(os.path.join(out, "random.gguf"))
assert [t.name for t in r.tensors] == list(ref), [t.name for t in r.tensors]
np.savez(os.path.join(out, "random.npz"), **ref)
print("ok", len(ref))
