"""A small, independent writer of the .ckpt container (spec: Sources/CheckpointKit/CheckpointKit.docc/
ContainerFormat.md), used by the benchmark to make files that `ckpt` has no command to make from the
formats the benchmark generates: a *full* checkpoint with trained-looking Adam state (the input of
`ckpt strip`) and, as a fallback while `ckpt convert` cannot read safetensors, bfloat16 weights.

It follows the spec as written (member order, npy headers, 1 MiB independently deflated chunks,
manifest last, ZIP64 only where a field does not fit, fixed timestamps), so `ckpt` reading these
files is also a small conformance check of the reader against a second implementation.

Usage (streaming, one tensor at a time; members must be added sorted by member name):

    w = CkptWriter(path, kind="full", architecture=json_bytes, optimizer=opt_dict)
    w.add("dense/kernel", array)                       # in sorted member-name order
    w.add("optimizer/momentum/dense/kernel", m, role="optimizer", slot="momentum", weight="dense/kernel")
    w.close(order=[...tensor names in model order...])
"""

import io
import json
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK = 1 << 20
ZIP64_THRESHOLD = 0xFFFFFFFF
DOS_TIME = 0x0000
DOS_DATE = 0x0021
VERSION_MADE_BY = 0x031E
EXTERNAL_ATTRS = 0o100644 << 16

_DTYPES = {  # numpy dtype str -> manifest dtype
    "|b1": "bool", "|i1": "int8", "<i2": "int16", "<i4": "int32", "<i8": "int64",
    "|u1": "uint8", "<u2": "uint16", "<u4": "uint32", "<u8": "uint64",
    "<f2": "float16", "<f4": "float32", "<f8": "float64",
}


def npy_header(descr, shape):
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return b.getvalue()


def _fragment(data, last, strategy, level):
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def _deflate_bound(n):
    return n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 5 * (n // CHUNK + 2)


class CkptWriter:
    def __init__(self, path, kind="weights", architecture=None, optimizer=None, metadata=None,
                 producer="ckpt-bench ckptwrite.py", threads=None):
        self.path = path
        self.tmp = path + ".tmp-ckptwrite"
        self.f = open(self.tmp, "wb")
        self.kind = kind
        self.architecture = architecture
        self.optimizer = optimizer  # {"class_name", "module", "config", "iterations"}
        self.metadata = metadata or {}
        self.producer = producer
        self.central = []
        self.entries = {}
        self.last_member = None
        self.pool = ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 2)

    # -- members -------------------------------------------------------------------------------

    def _member_bytes_check(self, member):
        key = member.encode("utf-8")
        if self.last_member is not None and key <= self.last_member:
            raise ValueError(f"members must be added in byte order: {member!r} after {self.last_member!r}")
        self.last_member = key

    def _write_member(self, name, fragments, usize, crc):
        """fragments: list of compressed byte strings making one raw deflate stream."""
        offset = self.f.tell()
        csize = sum(len(x) for x in fragments)
        zip64 = _deflate_bound(usize) >= ZIP64_THRESHOLD
        nb = name.encode("utf-8")
        flags = 0x0800 if any(b >= 0x80 for b in nb) else 0
        h = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, 8, DOS_TIME, DOS_DATE, crc,
                        0xFFFFFFFF if zip64 else csize, 0xFFFFFFFF if zip64 else usize, len(nb), 20 if zip64 else 0)
        h += nb
        if zip64:
            h += struct.pack("<HHQQ", 1, 16, usize, csize)
        self.f.write(h)
        for x in fragments:
            self.f.write(x)
        self.central.append((nb, flags, crc, csize, usize, offset))
        return csize

    def add(self, name, array, role="weight", trainable=True, slot=None, weight=None, dtype=None):
        """Adds a tensor. `dtype` overrides the manifest dtype (e.g. "bfloat16" for uint16 bits)."""
        member = name + ".npy"
        self._member_bytes_check(member)
        a = np.asarray(array)
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        descr = a.dtype.str
        mdtype = dtype or _DTYPES[descr]
        header = npy_header(descr, a.shape)
        data = memoryview(a.reshape(-1).view(np.uint8)) if a.size else memoryview(b"")
        n = len(data)
        floating = a.dtype.kind == "f" or mdtype == "bfloat16"
        pieces = [data[i:i + CHUNK] for i in range(0, n, CHUNK)]

        def job(k):
            p = pieces[k]
            last = k == len(pieces) - 1
            itemsize = a.dtype.itemsize
            arr = np.frombuffer(p, dtype=np.uint8)
            constant = len(p) <= itemsize or bool(np.all(arr.reshape(-1, itemsize) == arr[:itemsize]))
            if floating and not constant:
                return _fragment(p, last, zlib.Z_HUFFMAN_ONLY, 1)
            return _fragment(p, last, zlib.Z_DEFAULT_STRATEGY, 1)

        frags = [_fragment(header, n == 0, zlib.Z_DEFAULT_STRATEGY, 1)]
        crc = zlib.crc32(header)
        results = list(self.pool.map(job, range(len(pieces)))) if len(pieces) > 1 else [job(k) for k in range(len(pieces))]
        chunk_offsets = []
        pos = len(frags[0])
        for k, comp in enumerate(results):
            chunk_offsets.append(pos)
            pos += len(comp)
            frags.append(comp)
            crc = zlib.crc32(pieces[k], crc)
        usize = len(header) + n
        csize = self._write_member(member, frags, usize, crc)
        entry = {"name": name, "member": member, "dtype": mdtype, "shape": list(a.shape), "role": role,
                 "trainable": bool(trainable) if role == "weight" else False}
        if slot is not None:
            entry["slot"] = slot
        if weight is not None:
            entry["weight"] = weight
        entry.update({"crc32": crc, "size": usize, "stored_size": csize, "header_size": len(header)})
        if len(pieces) > 1:
            entry["chunks"] = chunk_offsets
        self.entries[name] = entry

    def _add_small(self, member, data):
        frag = _fragment(data, True, zlib.Z_DEFAULT_STRATEGY, 1)
        self._write_member(member, [frag], len(data), zlib.crc32(data))

    def close(self, order):
        """Writes the JSON members, the manifest (tensors in `order`), the directory; renames."""
        if self.architecture is not None:
            self._add_small("architecture.json", self.architecture)
        opt = None
        if self.optimizer is not None:
            o = {"module": self.optimizer.get("module", "keras.optimizers"), "class_name": self.optimizer["class_name"],
                 "config": self.optimizer["config"], "iterations": self.optimizer["iterations"]}
            self._add_small("optimizer.json", json.dumps(o).encode())
            opt = {"member": "optimizer.json", "class_name": o["class_name"], "iterations": o["iterations"]}
        manifest = {
            "format": "ckpt", "format_version": [1, 0], "kind": self.kind, "producer": self.producer,
            "chunk_size": CHUNK, "metadata": self.metadata,
            "architecture": "architecture.json" if self.architecture is not None else None,
            "optimizer": opt,
            "tensors": [self.entries[n] for n in order],
        }
        if len(order) != len(self.entries):
            raise ValueError("close(order=...) must list every tensor once")
        self._add_small("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        self._finish()
        self.f.close()
        self.pool.shutdown()
        os.replace(self.tmp, self.path)

    def _finish(self):
        cd_start = self.f.tell()
        cd = bytearray()
        for nb, flags, crc, csize, usize, offset in self.central:
            big_u, big_c, big_o = usize >= ZIP64_THRESHOLD, csize >= ZIP64_THRESHOLD, offset >= ZIP64_THRESHOLD
            extra = b""
            if big_u or big_c or big_o:
                fields = (struct.pack("<Q", usize) if big_u else b"") + (struct.pack("<Q", csize) if big_c else b"") + \
                         (struct.pack("<Q", offset) if big_o else b"")
                extra = struct.pack("<HH", 1, len(fields)) + fields
            cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, VERSION_MADE_BY, 45 if extra else 20, flags, 8,
                              DOS_TIME, DOS_DATE, crc, 0xFFFFFFFF if big_c else csize, 0xFFFFFFFF if big_u else usize,
                              len(nb), len(extra), 0, 0, 0, EXTERNAL_ATTRS, 0xFFFFFFFF if big_o else offset)
            cd += nb + extra
        self.f.write(cd)
        cd_size = len(cd)
        count = len(self.central)
        end = b""
        if count >= 0xFFFF or cd_size >= ZIP64_THRESHOLD or cd_start >= ZIP64_THRESHOLD:
            z64_at = cd_start + cd_size
            end += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, VERSION_MADE_BY, 45, 0, 0, count, count, cd_size, cd_start)
            end += struct.pack("<IIQI", 0x07064B50, 0, z64_at, 1)
        end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                           min(cd_size, 0xFFFFFFFF), min(cd_start, 0xFFFFFFFF), 0)
        self.f.write(end)

    def abort(self):
        try:
            self.f.close()
            os.unlink(self.tmp)
        except OSError:
            pass
        self.pool.shutdown()
