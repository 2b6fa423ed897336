# Writes expected.json: every key of each checkpoint here as TensorFlow reads it
# (tf.train.list_variables order: dtype, shape, SHA-256 of the little-endian C-order bytes).
import hashlib, json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
here = os.path.dirname(os.path.abspath(__file__))
out = {}
for name, prefix in [("mixed", "mixed/w"), ("nadam", "nadam/w"), ("variables", "variables/all"), ("sharded", "sharded/s")]:
    r = tf.train.load_checkpoint(f"{here}/{prefix}")
    keys = []
    for k, shape in tf.train.list_variables(f"{here}/{prefix}"):
        v = r.get_tensor(k)
        if isinstance(v, bytes) or (isinstance(v, np.ndarray) and v.dtype == object):
            keys.append({"key": k, "dtype": "string", "shape": shape}); continue
        v = np.ascontiguousarray(v)
        keys.append({"key": k, "dtype": tf.as_dtype(r.get_variable_to_dtype_map()[k]).name, "shape": shape,
                     "sha256": hashlib.sha256(v.astype(v.dtype.newbyteorder("<")).tobytes()).hexdigest()})
    out[name] = {"prefix": prefix, "keys": keys}
json.dump(out, open(f"{here}/expected.json", "w"), indent=1)
print("expected written")
