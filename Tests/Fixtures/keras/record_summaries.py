"""Records what Keras's `model.summary()` prints for every .keras model the summary tests use.

Run from the package root:
    COLUMNS=400 KERAS_BACKEND=jax python3 Tests/Fixtures/keras/record_summaries.py
Writes Tests/Fixtures/keras/summaries.json: per file, the rows of the layer table as Keras prints
them (name, class, output shape, parameter count, "Connected to" for Functional models that are
not sequential-like) and the four totals. The text is captured from `model.summary(print_fn=...)`
(a wide terminal, so no cell wraps) and split on the table's column rules.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ["COLUMNS"] = "400"
import keras  # noqa: E402

FILES = [
    "Tests/Fixtures/keras/cnn/cnn.keras",
    "Tests/Fixtures/keras/lstm/lstm.keras",
    "Tests/Fixtures/keras/mlp/mlp.keras",
    "Tests/Fixtures/keras-files/functional_multi.keras",
    "Tests/Fixtures/keras-files/image_nested.keras",
    "Tests/Fixtures/keras-files/recurrent_attention.keras",
    "Tests/Fixtures/keras-files/opt_adam_ema.keras",
]


def number(text):
    return int(text.split(" ")[0].replace(",", ""))


def record(path):
    model = keras.saving.load_model(path, compile=True)
    lines = []
    model.summary(print_fn=lambda s, **kw: lines.append(s), line_length=300)
    text = "\n".join(lines)
    header = None
    rows = []
    totals = {}
    for line in text.splitlines():
        if line.startswith("┃"):
            header = [c.strip() for c in line.strip("┃").split("┃")]
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            label = cells[0]
            cut = label.rindex(" (")
            row = {"name": label[:cut], "class_name": label[cut + 2:-1], "output_shape": cells[1],
                   "params": number(cells[2])}
            if len(cells) > 3:
                row["connected_to"] = cells[3]
            rows.append(row)
        elif line.startswith(" ") and "params:" in line:
            key, value = line.strip().split(":", 1)
            totals[key.replace(" params", "").lower().replace("-", "_")] = number(value.strip())
    return {"model_name": model.name, "model_class": type(model).__name__, "columns": header,
            "rows": rows, "totals": totals, "text": text}


def main():
    out = {"keras": keras.__version__, "backend": keras.backend.backend(),
           "generator": "Tests/Fixtures/keras/record_summaries.py", "models": {}}
    for path in FILES:
        out["models"][path.removeprefix("Tests/Fixtures/")] = record(path)
    with open("Tests/Fixtures/keras/summaries.json", "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
