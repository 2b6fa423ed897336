"""Writes the round-trip matrix sources: one small trained model per Keras optimizer class and
option, saved by Keras itself. Regenerate from this folder:

    KERAS_BACKEND=jax python gen.py .

Every optimizer class keras.optimizers ships (Keras 3.15) × {plain, use_ema, gradient
accumulation, a learning-rate schedule, mixed precision}: the model below, compiled with it, trained
one epoch of 2 batches, saved as `<Class>-<option>.keras`. `expected.json` lists each file with its
optimizer (`keras.optimizers.serialize`), policy and variable count. The Swift tests convert,
strip and rebuild these files; `verify.py` judges the results with Keras.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from keras import layers as L

O = keras.optimizers
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")

# Settings that make each class's state show (slots that exist only with them).
PLAIN = {
    "SGD": dict(momentum=0.9),
    "Adam": dict(amsgrad=True),
    "AdamW": dict(weight_decay=0.01),
    "RMSprop": dict(momentum=0.5, centered=True),
    "Adagrad": dict(initial_accumulator_value=0.2),
    "Adadelta": dict(),
    "Adamax": dict(),
    "Nadam": dict(),
    "Ftrl": dict(initial_accumulator_value=0.3, l2_regularization_strength=0.01),
    "Lion": dict(beta_1=0.95),
    "Adafactor": dict(),
    "Lamb": dict(),
    "ScheduleFreeAdamW": dict(warmup_steps=1),
    "Muon": dict(momentum=0.9, ns_steps=3, exclude_layers=["head"]),
}
OPTIONS = ["plain", "ema", "accumulate", "schedule", "mixed"]


def make(cls, option):
    kw = dict(PLAIN.get(cls, {}))
    if option == "ema":
        kw["use_ema"] = True
    elif option == "accumulate":
        kw["gradient_accumulation_steps"] = 2
    elif option == "schedule":
        kw["learning_rate"] = O.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.9)
    if cls == "LossScaleOptimizer":
        return O.LossScaleOptimizer(O.Adam(**kw), initial_scale=1024.0)
    return getattr(O, cls)(**kw)


def build():
    inp = keras.Input((5,), name="x")
    h = L.Dense(6, activation="relu", name="hidden")(inp)
    out = L.Dense(3, activation="softmax", name="head", dtype="float32")(h)
    return keras.Model(inp, out, name="tiny")


def main():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 5)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, 8), 3).astype("float32")
    cases = []
    for cls in list(PLAIN) + ["LossScaleOptimizer"]:
        for option in OPTIONS:
            keras.backend.clear_session()
            policy = "mixed_float16" if option == "mixed" else "float32"
            keras.mixed_precision.set_global_policy(policy)
            keras.utils.set_random_seed(1)
            model = build()
            model.compile(optimizer=make(cls, option), loss="categorical_crossentropy")
            model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
            name = "%s-%s.keras" % (cls, option)
            model.save(os.path.join(OUT, name))
            o = model.optimizer
            cases.append({
                "file": name, "class": cls, "option": option, "policy": policy,
                "optimizer": keras.optimizers.serialize(o),
                "variables": len(o.variables),
                "iterations": int(np.asarray(o.iterations)),
            })
    keras.mixed_precision.set_global_policy("float32")
    doc = {"keras": keras.__version__, "backend": keras.backend.backend(), "cases": cases}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)


if __name__ == "__main__":
    main()
