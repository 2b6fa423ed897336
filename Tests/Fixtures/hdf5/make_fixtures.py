#!/usr/bin/env python3
"""Writes the small HDF5 files the HDF5 binding tests read (Tests/Fixtures/hdf5).

Run from this directory:  python3 make_fixtures.py
Needs h5py and numpy (ml_dtypes for the Keras-style bfloat16 dataset). Output is deterministic for
a given h5py/HDF5 (no timestamps); expected.json records what the tests compare against:
per dataset the shape, dtype name and sha256 of the little-endian C-order bytes.
"""
import hashlib
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
expected = {"generator": "make_fixtures.py", "h5py": h5py.__version__,
            "hdf5": h5py.version.hdf5_version, "files": {}}


def path(name):
    return os.path.join(HERE, name)


def le_sha(arr):
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and not np.little_endian):
        a = a.astype(a.dtype.newbyteorder("<"))
    return hashlib.sha256(a.tobytes()).hexdigest()


def record(fname, key, arr, dtype_name=None):
    expected["files"].setdefault(fname, {"datasets": {}})["datasets"][key] = {
        "shape": list(arr.shape), "dtype": dtype_name or arr.dtype.name, "sha256": le_sha(arr)}


rng = np.random.default_rng(20240601)

# --- types.h5: every supported dtype, both byte orders, layouts, filters, attribute kinds.
fname = "types.h5"
with h5py.File(path(fname), "w") as f:
    d = f.create_group("data")
    for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64"]:
        dt = np.dtype(name)
        if dt.kind == "f":
            a = rng.standard_normal((3, 5)).astype(dt)
        else:
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max, size=(3, 5), dtype=dt, endpoint=True)
        d[name + "_le"] = a.astype(dt.newbyteorder("<"))
        record(fname, "data/" + name + "_le", a, name)
        if dt.itemsize > 1:
            d[name + "_be"] = a.astype(dt.newbyteorder(">"))
            record(fname, "data/" + name + "_be", a, name)
    b = rng.integers(0, 2, size=(4, 3)).astype(bool)
    d["bool"] = b
    record(fname, "data/bool", b.astype(np.uint8), "bool")
    # bfloat16 as Keras 3 saves it: h5py stores ml_dtypes.bfloat16 as 2-byte opaque + dtype attribute.
    raw = (rng.standard_normal(6).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    try:
        import ml_dtypes
        ds = d.create_dataset("bfloat16_keras", data=raw.view(ml_dtypes.bfloat16))
        ds.attrs["dtype"] = "bfloat16"
        record(fname, "data/bfloat16_keras", raw, "bfloat16")
    except ImportError:
        pass
    # bfloat16 as an HDF5 float type (sign 15, exponent 7..14, mantissa 0..6, bias 127), big-endian.
    t = h5py.h5t.IEEE_F32BE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_size(2)
    t.set_ebias(127)
    space = h5py.h5s.create_simple((6,))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    dsid = h5py.h5d.create(d.id, b"bfloat16_float_be", t, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, raw.astype(">u2"), mtype=t)  # raw bits, no conversion
    record(fname, "data/bfloat16_float_be", raw, "bfloat16")
    # an opaque type without Keras' marker: refused.
    d.create_dataset("opaque", data=np.zeros(3, dtype="V2"))
    # strings and compounds are not tensors: refused.
    d["strings"] = np.array([b"a", b"bc"])
    d["compound"] = np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")])
    d["null"] = h5py.Empty("f4")
    # shapes
    s = np.float64(3.25)
    d["scalar"] = s
    record(fname, "data/scalar", np.array(s), "float64")
    e = np.zeros((0, 4), dtype=np.float32)
    d["empty"] = e
    record(fname, "data/empty", e, "float32")
    r5 = rng.standard_normal((2, 3, 1, 4, 5)).astype(np.float32)
    d["rank5"] = r5
    record(fname, "data/rank5", r5, "float32")
    # layouts and filters
    big = rng.standard_normal((37, 23)).astype(np.float32)
    l = f.create_group("layouts")
    l.create_dataset("chunked_gzip", data=big, chunks=(8, 5), compression="gzip", shuffle=True, fletcher32=True)
    record(fname, "layouts/chunked_gzip", big, "float32")
    l.create_dataset("chunked_be", data=big.astype(">f4"), chunks=(10, 23))
    record(fname, "layouts/chunked_be", big, "float32")
    l.create_dataset("contiguous", data=big)
    record(fname, "layouts/contiguous", big, "float32")
    small = np.arange(12, dtype=np.int32).reshape(3, 4)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dcpl.set_obj_track_times(False)
    dsid = h5py.h5d.create(l.id, b"compact", h5py.h5t.STD_I32LE, h5py.h5s.create_simple((3, 4)), dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, small)
    record(fname, "layouts/compact", small, "int32")
    l.create_dataset("lzf", data=big, compression="lzf")  # libhdf5 alone cannot decode it
    # attributes
    a = f.create_group("attrs")
    a.attrs["vlen_utf8"] = "dense_1 \u00e9\u4e2d"
    a.attrs["vlen_ascii"] = b"tensorflow"
    a.attrs["fixed_array"] = np.array([b"dense", b"dense_1", b""])
    a.attrs["vlen_array"] = ["kernel:0", "bias:0"]
    a.attrs["float_empty"] = np.zeros(0, dtype=np.float64)
    a.attrs["int_scalar"] = np.int64(-7)
    a.attrs["float_array"] = np.array([1.5, -2.0], dtype=">f4")
    a.attrs["bool_scalar"] = np.bool_(True)
    a.attrs["empty"] = h5py.Empty("f4")
    a.attrs["compound"] = np.zeros(1, dtype=[("x", "<f4")])[0]
    for pad, label in [(h5py.h5t.STR_NULLTERM, "nullterm"), (h5py.h5t.STR_SPACEPAD, "spacepad")]:
        st = h5py.h5t.C_S1.copy()
        st.set_size(6)
        st.set_strpad(pad)
        aid = h5py.h5a.create(a.id, ("fixed_" + label).encode(), st, h5py.h5s.create_simple((2,)))
        aid.write(np.array([b"ab", b"cdef"], dtype="S6"), mtype=st)

# --- links.h5: soft links (inside, dangling, cyclic), a hard-link cycle, creation order.
fname = "links.h5"
with h5py.File(path(fname), "w") as f:
    g = f.create_group("g")
    v = np.arange(6, dtype=np.float32)
    g["x"] = v
    record(fname, "g/x", v, "float32")
    f["soft_to_x"] = h5py.SoftLink("/g/x")
    f["g/relative"] = h5py.SoftLink("x")
    f["dangling"] = h5py.SoftLink("/nowhere")
    f["loop_a"] = h5py.SoftLink("/loop_b")
    f["loop_b"] = h5py.SoftLink("/loop_a")
    g["parent"] = f["/"]          # hard link back to the root: a cycle
    g["alias"] = g["x"]            # a second hard link to the same dataset
    o = f.create_group("ordered", track_order=True)
    for name in ["zeta", "alpha", "mid", "10", "2"]:
        o.create_group(name)

# --- external link: to a dataset in another file.
with h5py.File(path("external_target.h5"), "w") as f:
    f["secret"] = np.arange(4, dtype=np.int64)
with h5py.File(path("external_link.h5"), "w") as f:
    f["local"] = np.ones(3, dtype=np.float32)
    f.create_group("g")
    f["g/ext"] = h5py.ExternalLink("external_target.h5", "/secret")
    f["via_soft"] = h5py.SoftLink("/g/ext")

# --- external storage: the dataset's bytes live in a raw file next to it.
raw_bytes = np.arange(8, dtype="<f4")
raw_bytes.tofile(path("external_storage.bin"))
with h5py.File(path("external_storage.h5"), "w") as f:
    f.create_dataset("outside", shape=(8,), dtype="<f4", external=[("external_storage.bin", 0, 32)])
    f["inside"] = np.arange(3, dtype=np.int16)

# --- virtual dataset: its data comes from another file.
with h5py.File(path("virtual_source.h5"), "w") as f:
    f["src"] = np.arange(5, dtype=np.int32)
layout = h5py.VirtualLayout(shape=(5,), dtype="i4")
layout[:] = h5py.VirtualSource("virtual_source.h5", "src", shape=(5,))
with h5py.File(path("virtual.h5"), "w", libver=("v110", "v110")) as f:
    f.create_virtual_dataset("vds", layout)

with open(path("expected.json"), "w") as out:
    json.dump(expected, out, indent=1, sort_keys=True)
    out.write("\n")
