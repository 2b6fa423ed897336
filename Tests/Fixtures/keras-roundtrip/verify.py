"""Judges files ckpt wrote with real Keras 3 (the round-trip matrix and the fidelity tests).

    KERAS_BACKEND=jax python verify.py cases.json

cases.json is a list of cases:
    {"id": ..., "mode": "converted" | "weights" | "rebuilt",
     "source": the .keras file Keras wrote, "result": what ckpt wrote,
     "policy": global dtype policy ("float32", "mixed_float16"),
     "custom": optional path of a Python file registering custom objects}

- converted: load_model(result) like load_model(source): same predictions, same optimizer class,
  config and variables (values equal), same compile_config, and one more training step on the same
  batch gives equal weights and optimizer variables.
- weights: load_model(source), then load_weights(result) into a second load_model(source):
  weights and optimizer variables equal the source's.
- migrated: the source is a Keras 2 (or Keras 3 legacy) .h5 that Keras 3 cannot load as it is:
  load_model(result) without warnings, predictions on "inputs" (.npy) equal to "outputs" (what the
  source model predicted) within float32 rounding (Keras 3 computes some layers with other
  kernels), the optimizer's class and step as "optimizer"/"iterations" say, and one training
  step runs.
- rebuilt: load_model(result) predicts like the source, its optimizer is the source's compile_config
  optimizer at step 0 with exactly the variables Keras builds itself (optimizer.build on the
  loaded model), and one training step equals one step of the source with a fresh optimizer.

Any warning Keras emits while loading fails the case. Prints one JSON line per case
({"id", "ok", "problems": [...]}); exits 0 when it could judge every case.
"""
import importlib.util
import json
import os
import re
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

loaded_custom = set()


def use_custom(path):
    if path and path not in loaded_custom:
        spec = importlib.util.spec_from_file_location("custom_objects_%d" % len(loaded_custom), path)
        module = importlib.util.module_from_spec(spec)
        argv = sys.argv
        sys.argv = [path, os.path.dirname(path)]
        try:
            spec.loader.exec_module(module)
        finally:
            sys.argv = argv
        loaded_custom.add(path)


def load(path, problems, what):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = keras.saving.load_model(path)
    for w in caught:
        text = str(w.message)
        if "compile_metrics" in text or "built" in text and "metrics" in text:
            continue
        problems.append("%s: Keras warned: %s" % (what, text[:300]))
    return m


def batch(model):
    shape = tuple(d if d is not None else 4 for d in model.inputs[0].shape)
    x = np.random.default_rng(7).standard_normal(shape).astype("float32")
    out = model.outputs[0].shape
    y = np.zeros((shape[0],) + tuple(out[1:]), "float32")
    y[..., 0] = 1.0
    return x, y


def numpy(v):
    """A variable or tensor as numpy on any backend (torch tensors that require grad included)."""
    return np.asarray(keras.ops.convert_to_numpy(v.value if hasattr(v, "value") else v))


def opt_values(o):
    return [numpy(v) for v in o.variables]


def same_arrays(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
                                   for x, y in zip(a, b))


def compile_config(m):
    c = m.get_compile_config() or {}
    return json.loads(json.dumps(c, default=str))


def predict(model, x):
    return numpy(model(x, training=False))


def step(model, x, y):
    """One training step (eager: tiny models train faster than they compile)."""
    model.jit_compile = False
    model.make_train_function(force=True)
    model.train_on_batch(x, y)
    return [np.asarray(w) for w in model.get_weights()], opt_values(model.optimizer)


def judge(case):
    problems = []
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(case.get("policy") or "float32")
    use_custom(case.get("custom"))
    if case["mode"] == "migrated":
        res = load(case["result"], problems, "load_model(result)")
        x, y = np.load(case["inputs"]), np.load(case["outputs"])
        p = res.predict(x, verbose=0)
        if p.shape != y.shape or not np.allclose(p, y, rtol=1e-5, atol=1e-6):
            problems.append("predictions differ from the source model's (max %g)" % float(np.abs(p - y).max()))
        if type(res.optimizer).__name__ != case["optimizer"]:
            problems.append("optimizer %s, expected %s" % (type(res.optimizer).__name__, case["optimizer"]))
        if int(numpy(res.optimizer.iterations)) != case["iterations"]:
            problems.append("optimizer at step %s, expected %s" % (numpy(res.optimizer.iterations), case["iterations"]))
        target = np.zeros(p.shape, "float32")
        target[..., 0] = 1
        res.train_on_batch(x, target)
        return problems
    keras.utils.set_random_seed(11)
    src = load(case["source"], [], "source")
    x, y = batch(src)
    mode = case["mode"]
    keras.utils.set_random_seed(11)
    if mode == "weights":
        res = load(case["source"], problems, "load_model(source) for load_weights")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res.load_weights(case["result"])
        problems += ["load_weights warned: %s" % str(w.message)[:300] for w in caught]
    else:
        res = load(case["result"], problems, "load_model(result)")
    if not np.array_equal(predict(src, x), predict(res, x)):
        problems.append("predictions differ")
    if not same_arrays([np.asarray(w) for w in src.get_weights()], [np.asarray(w) for w in res.get_weights()]):
        problems.append("weights differ")
    so, ro = src.optimizer, res.optimizer
    if type(so).__name__ != type(ro).__name__:
        problems.append("optimizer class %s, the source's is %s" % (type(ro).__name__, type(so).__name__))
    if mode in ("converted", "rebuilt"):
        if compile_config(src) != compile_config(res):
            problems.append("compile_config differs: %s vs %s" % (json.dumps(compile_config(res))[:400], json.dumps(compile_config(src))[:400]))
        if keras.optimizers.serialize(so) != keras.optimizers.serialize(ro):
            problems.append("optimizer config differs")
    if mode in ("converted", "weights"):
        if not same_arrays(opt_values(so), opt_values(ro)):
            problems.append("optimizer variables differ from the source's (%d vs %d)" % (len(ro.variables), len(so.variables)))
        a, b = step(src, x, y), step(res, x, y)
    else:
        # Keras's own fresh state for the loaded model.
        # (from_config, not deserialize: keras.optimizers.deserialize cannot find Lamb by its name.)
        fresh = type(ro).from_config(ro.get_config())
        fresh.build(res.trainable_variables)
        if int(numpy(ro.iterations)) != 0:
            problems.append("the rebuilt optimizer is at step %s, not 0" % numpy(ro.iterations))
        # Keras names unnamed variables (Nadam's u_product) variable, variable_1... per process.
        paths = lambda o: [re.sub(r"^variable(_[0-9]+)?$", "variable", v.path) for v in o.variables]
        if paths(fresh) != paths(ro):
            problems.append("optimizer variables %s, Keras builds %s" % (paths(ro), paths(fresh)))
        elif not same_arrays(opt_values(fresh), opt_values(ro)):
            problems.append("optimizer variables differ from the ones Keras builds")
        src.compile(optimizer=type(ro).from_config(ro.get_config()), loss=res.loss)
        src.optimizer.build(src.trainable_variables)
        a, b = step(src, x, y), step(res, x, y)
    if not same_arrays(a[0], b[0]):
        problems.append("one more training step gives different weights")
    if not same_arrays(a[1], b[1]):
        problems.append("one more training step gives different optimizer variables")
    return problems


def main():
    cases = json.load(open(sys.argv[1]))
    for case in cases:
        try:
            problems = judge(case)
        except Exception as e:  # a load Keras refuses is a verdict, not a crash
            problems = ["%s: %s" % (type(e).__name__, str(e)[:500])]
        print(json.dumps({"id": case["id"], "ok": not problems, "problems": problems}), flush=True)


if __name__ == "__main__":
    main()
