#!/usr/bin/env python3
"""legacy_adamax.h5: a tiny tf.keras (Keras 2, tf_keras 2.21) MLP trained two steps with Adamax and
saved in the Keras 2 HDF5 format with the legacy (OptimizerV2) Adamax, whose slots are m and v (tf.keras
names for Keras 3's momentum and norm slots).

    TF_USE_LEGACY_KERAS=1 python3 Tests/Fixtures/keras-files/make_legacy_adamax.py
"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tf_keras as keras

rng = np.random.default_rng(7)
keras.utils.set_random_seed(7)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", name="dense"), keras.layers.Dense(2, name="dense_1")])
model.compile(optimizer=keras.optimizers.legacy.Adamax(learning_rate=0.01), loss="mse")
model.fit(rng.random((8, 3)).astype("float32"), rng.random((8, 2)).astype("float32"), batch_size=4, epochs=1, verbose=0)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_adamax.h5")
model.save(out, save_format="h5")
print(out, keras.__version__, [v.name for v in model.optimizer.weights])
