"""Writes Keras 2 (tf.keras / tf_keras 2.x) models for the Keras 2 → Keras 3 migration tests:
each model trained a few steps and saved with `model.save("<name>.h5")` (the Keras 2 HDF5 format:
model_config, training_config, weights, optimizer weights), with `<name>.inputs.npy` and the
predictions tf.keras makes on them (`<name>.outputs.npy`). Regenerate from this folder:

    python gen.py .            # everything
    python gen.py . renamed    # only the renamed-layer files

The models cover the layer classes ckpt translates (see KerasMigration.swift), with initializer,
regularizer and constraint objects and a mixed_float16 layer.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tf_keras as keras
from tf_keras import layers as L

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")


def dense_mlp():
    m = keras.Sequential([
        L.Dense(8, activation="relu", input_shape=(6,), kernel_regularizer=keras.regularizers.L2(0.01),
                kernel_constraint=keras.constraints.MaxNorm(3.0), name="d1"),
        L.BatchNormalization(name="bn"),
        L.Dropout(0.1, name="drop"),
        L.Dense(4, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1), name="out"),
    ], name="mlp")
    return m, (6,), keras.optimizers.Adam(learning_rate=0.01, amsgrad=True)


def conv_net():
    inp = keras.Input((12, 12, 3), name="img")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.SeparableConv2D(6, 3, name="sep")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Conv2DTranspose(3, 2, strides=2, name="up")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.Dense(5, name="side")(x)
    z = L.Dense(5, name="main")(x)
    out = L.Add(name="add")([y, z])
    out = L.Activation("softmax", name="act")(out)
    return keras.Model(inp, out, name="convnet"), (12, 12, 3), keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)


def sequence_net():
    inp = keras.Input((7,), name="tokens")
    x = L.Embedding(20, 8, name="emb")(inp)
    x = L.Bidirectional(L.LSTM(5, return_sequences=True), name="bilstm")(x)
    x = L.GRU(4, return_sequences=True, name="gru")(x)
    x = L.TimeDistributed(L.Dense(3), name="td")(x)
    x = L.Conv1D(4, 3, name="c1d")(x)
    x = L.SimpleRNN(3, name="rnn")(x)
    out = L.Dense(2, activation="softmax", name="out")(x)
    return keras.Model(inp, out, name="seqnet"), (7,), keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.5)


def attention_net():
    inp = keras.Input((5, 8), name="seq")
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(inp, inp)
    x = L.Add(name="res")([inp, a])
    x = L.LayerNormalization(name="ln")(x)
    x = L.Conv1D(6, 1, activation="relu", name="ff", dtype="mixed_float16")(x)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(4, name="proj", bias_regularizer=keras.regularizers.L1L2(l1=0.001, l2=0.001))(x)
    x = L.PReLU(name="prelu")(x)
    out = L.Dense(3, activation="softmax", name="out", dtype="float32")(x)
    return keras.Model(inp, out, name="attn"), (5, 8), keras.optimizers.Adagrad(learning_rate=0.05)


MODELS = {"mlp": dense_mlp, "convnet": conv_net, "seqnet": sequence_net, "attn": attention_net}


def renamed():
    """tf.keras numbers default layer names per process: the weights of a model built first
    (dense, dense_1) and the architecture of the same model built again (dense_2, dense_3)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(4)

    def build():
        return keras.Sequential([L.Dense(5, activation="relu", input_shape=(3,)), L.Dense(2)])

    first = build()
    x = np.random.default_rng(1).standard_normal((8, 3)).astype("float32")
    first.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    first.fit(x, np.zeros((8, 2), "float32"), verbose=0)
    first.save_weights(os.path.join(OUT, "renamed_weights.h5"))
    second = build()
    with open(os.path.join(OUT, "renamed.architecture.json"), "w") as f:
        f.write(second.to_json())
    three = keras.Sequential([L.Dense(5, input_shape=(3,)), L.Dense(4), L.Dense(2)])
    with open(os.path.join(OUT, "renamed_mismatch.architecture.json"), "w") as f:
        f.write(three.to_json())


def main():
    if sys.argv[2:] == ["renamed"]:
        renamed()
        return
    rng = np.random.default_rng(9)
    doc = {"tf_keras": keras.__version__, "models": {}}
    for name, make in MODELS.items():
        keras.utils.set_random_seed(2)
        model, shape, opt = make()
        if name == "seqnet":
            x = rng.integers(0, 20, (16,) + shape).astype("float32")
        else:
            x = rng.standard_normal((16,) + shape).astype("float32")
        n = model.output_shape[-1]
        y = keras.utils.to_categorical(rng.integers(0, n, 16), n)
        model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        model.save(os.path.join(OUT, name + ".h5"))
        np.save(os.path.join(OUT, name + ".inputs.npy"), x[:4])
        np.save(os.path.join(OUT, name + ".outputs.npy"), model.predict(x[:4], verbose=0))
        doc["models"][name] = {"optimizer": type(opt).__name__, "iterations": int(model.optimizer.iterations.numpy()),
                               "layers": sorted({type(l).__name__ for l in model.layers})}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    renamed()


if __name__ == "__main__":
    main()
