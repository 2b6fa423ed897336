"""Writes the small safetensors / npz fixtures next to this file with the real libraries.

Run from anywhere: python3 make.py  (numpy, safetensors). Deterministic: same bytes every run,
except the order of `__metadata__` keys in files with more than one key (safetensors writes a
Rust HashMap), so every file here has at most one metadata key.

- mixed.safetensors: every numpy dtype safetensors knows, a 0-d scalar, an empty tensor, a
  non-ASCII name; metadata {"format": "np"}. (Tensors bigger than a read piece are made by the
  tests themselves, to keep these files small.)
- sharded/: the same tensors as a transformers-style sharded set (model-0000k-of-00003 +
  model.safetensors.index.json, `json.dumps(indent=2, sort_keys=True)`), metadata {"format": "pt"}.
- savez.npz / savez_compressed.npz: the same tensors with np.savez (stored) and
  np.savez_compressed (deflated).
- expected.json: per tensor name, dtype (numpy str), shape and sha256 of the C-order bytes.
"""
import hashlib
import json
import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def tensors():
    rng = np.random.default_rng(20261129)
    t = {}
    for i, dt in enumerate(['bool', 'uint8', 'int8', 'int16', 'uint16', 'float16', 'int32', 'uint32',
                            'float32', 'float64', 'int64', 'uint64']):
        raw = rng.integers(0, 256, size=(2, i + 1))
        t[f'layer_{i}/{dt}'] = (raw % 2).astype(dt) if dt == 'bool' else raw.astype(dt)
    t['scalar'] = np.array(2.5, dtype=np.float64)
    t['empty'] = np.zeros((0, 3), dtype=np.float32)
    t['dense/kérnel'] = rng.standard_normal((3, 4)).astype(np.float32)
    t['big/embeddings'] = rng.standard_normal((30, 50)).astype(np.float32)
    return t


def main():
    t = tensors()
    save_file(t, os.path.join(HERE, 'mixed.safetensors'), metadata={'format': 'np'})
    os.makedirs(os.path.join(HERE, 'sharded'), exist_ok=True)
    names = list(t)
    parts = [names[:8], names[8:15], names[15:]]
    weight_map = {}
    for k, part in enumerate(parts):
        fn = f'model-{k + 1:05d}-of-{len(parts):05d}.safetensors'
        save_file({n: t[n] for n in part}, os.path.join(HERE, 'sharded', fn), metadata={'format': 'pt'})
        weight_map.update({n: fn for n in part})
    index = {'metadata': {'total_size': int(sum(a.nbytes for a in t.values()))}, 'weight_map': weight_map}
    with open(os.path.join(HERE, 'sharded', 'model.safetensors.index.json'), 'w') as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + '\n')
    np.savez(os.path.join(HERE, 'savez.npz'), **t)
    np.savez_compressed(os.path.join(HERE, 'savez_compressed.npz'), **t)
    expected = [{'name': n, 'dtype': a.dtype.str, 'shape': list(a.shape),
                 'sha256': hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()} for n, a in t.items()]
    for root, _, files in os.walk(HERE):
        for fn in files:
            if fn.endswith(('.safetensors', '.npz', '.json')):
                os.chmod(os.path.join(root, fn), 0o644)  # save_file creates files 0600
    with open(os.path.join(HERE, 'expected.json'), 'w') as f:
        json.dump({'numpy': np.__version__, 'tensors': expected}, f, indent=1, ensure_ascii=False)
        f.write('\n')


if __name__ == '__main__':
    main()
