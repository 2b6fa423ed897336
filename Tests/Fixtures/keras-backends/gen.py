"""Keras 3 files written on the torch backend (the other fixtures come from TensorFlow and JAX).

    KERAS_BACKEND=torch python gen.py .

- torch_nadam_ema.keras: Functional Dense → BatchNormalization → Reshape → Conv1D → GRU → Dense,
  Nadam(learning_rate=0.003, use_ema=True), one epoch of 4 steps.
- torch_mixed_adam.keras: the same model under mixed_float16 (compile wraps Adam in a
  LossScaleOptimizer), one epoch of 4 steps.

compile_config names the torch optimizer module (keras.src.backend.torch.optimizers.torch_nadam):
Keras itself loads these files on the torch backend only (on JAX the torch update step is called).
"""
import os
import sys

import keras
import numpy as np

assert keras.backend.backend() == "torch", keras.backend.backend()
out = sys.argv[1] if len(sys.argv) > 1 else "."


def model():
    inp = keras.Input((8,), name="x")
    h = keras.layers.Dense(16, activation="relu", name="d1")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Conv1D(4, 3, padding="same", name="c")(keras.layers.Reshape((4, 4), name="r")(h))
    h = keras.layers.GRU(5, name="g")(h)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="o", dtype="float32")(h))


x = np.random.default_rng(0).standard_normal((64, 8)).astype("float32")
y = np.eye(3)[np.random.default_rng(1).integers(0, 3, 64)].astype("float32")
for name, policy, optimizer in [("torch_nadam_ema", "float32", lambda: keras.optimizers.Nadam(learning_rate=0.003, use_ema=True)),
                                ("torch_mixed_adam", "mixed_float16", lambda: keras.optimizers.Adam(learning_rate=0.002))]:
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(1)
    m = model()
    m.compile(optimizer=optimizer(), loss="categorical_crossentropy")
    m.fit(x, y, epochs=1, batch_size=16, verbose=0)
    m.save(os.path.join(out, name + ".keras"))
    print(name, type(m.optimizer).__name__, int(keras.ops.convert_to_numpy(m.optimizer.iterations)))
