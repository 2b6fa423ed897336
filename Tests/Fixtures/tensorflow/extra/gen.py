import os, sys, json
os.environ["TF_USE_LEGACY_KERAS"] = "1"; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf, tf_keras
O = sys.argv[1]
tf.random.set_seed(3); rs = np.random.RandomState(3)
def mk(d): os.makedirs(f"{O}/{d}", exist_ok=True); return f"{O}/{d}"
# a. dtypes
d = mk("dtypes")
vs = {}
for name, dt in [("f16", tf.float16), ("bf16", tf.bfloat16), ("f64", tf.float64), ("i8", tf.int8), ("i16", tf.int16), ("i32", tf.int32),
                 ("i64", tf.int64), ("u8", tf.uint8), ("u16", tf.uint16), ("u32", tf.uint32), ("u64", tf.uint64), ("b", tf.bool), ("c64", tf.complex64)]:
    base = rs.randn(3, 5) * 50
    if dt == tf.bool: val = base > 0
    elif dt == tf.complex64: val = (base + 1j * base).astype(np.complex64)
    else: val = tf.cast(base if dt.is_floating else np.abs(base), dt)
    vs[name] = tf.Variable(val)
vs["empty"] = tf.Variable(tf.zeros([0, 3]))
vs["s"] = tf.Variable(tf.constant(["ab", "", "xyz"]))
vs["scalar"] = tf.Variable(2.5)
ck = tf.train.Checkpoint(**vs); ck.write(f"{d}/all")
# b. custom loop with CheckpointManager
d = mk("manager")
net = tf_keras.Sequential([tf_keras.layers.Dense(4, input_shape=(3,)), tf_keras.layers.Dense(2)])
opt = tf_keras.optimizers.Adam(0.01)
step = tf.Variable(0, dtype=tf.int64)
ck = tf.train.Checkpoint(step=step, optimizer=opt, net=net)
man = tf.train.CheckpointManager(ck, d, max_to_keep=2)
x = rs.rand(5, 3).astype("float32")
for i in range(3):
    with tf.GradientTape() as t: loss = tf.reduce_sum(net(x) ** 2)
    opt.apply_gradients(zip(t.gradient(loss, net.trainable_variables), net.trainable_variables)); step.assign_add(1)
    man.save()
# c. mixed precision loss-scale optimizer
d = mk("mixed")
tf_keras.mixed_precision.set_global_policy("mixed_float16")
m = tf_keras.Sequential([tf_keras.layers.Dense(8, activation="relu", input_shape=(4,)), tf_keras.layers.Dense(2, dtype="float32")])
m.compile(optimizer="adam", loss="mse"); m.fit(rs.rand(16, 4).astype("float32"), rs.rand(16, 2).astype("float32"), epochs=1, verbose=0)
m.save_weights(f"{d}/w"); open(f"{d}/architecture.json", "w").write(m.to_json())
tf_keras.mixed_precision.set_global_policy("float32")
# d. subclassed
d = mk("subclassed")
class Net(tf_keras.Model):
    def __init__(self):
        super().__init__(); self.d1 = tf_keras.layers.Dense(4); self.bn = tf_keras.layers.BatchNormalization(); self.d2 = tf_keras.layers.Dense(2)
    def call(self, x): return self.d2(self.bn(self.d1(x)))
m = Net(); m.compile(optimizer=tf_keras.optimizers.SGD(0.1, momentum=0.5), loss="mse")
m.fit(rs.rand(16, 3).astype("float32"), rs.rand(16, 2).astype("float32"), epochs=1, verbose=0); m.save_weights(f"{d}/w")
# e. multi shard
d = mk("sharded")
big = {f"v{i}": tf.Variable(rs.randn(64, 64).astype("float32")) for i in range(6)}
ck = tf.train.Checkpoint(**big)
try:
    ck.write(f"{d}/s", options=tf.train.CheckpointOptions(experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(max_shard_size=40000)))
except Exception as e: print("sharding failed", e)
# f. same model as TF checkpoint and tf.keras .h5; non-trainable layer; nested sequential; other optimizers
for optname, opt in [("adagrad", tf_keras.optimizers.Adagrad(0.05)), ("nadam", tf_keras.optimizers.Nadam(0.01)), ("adamax", tf_keras.optimizers.Adamax(0.01)),
                     ("ftrl", tf_keras.optimizers.Ftrl(0.05)), ("adadelta", tf_keras.optimizers.Adadelta(1.0)), ("adamw", tf_keras.optimizers.AdamW(0.01, weight_decay=0.01)),
                     ("rmsprop_c", tf_keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)), ("amsgrad", tf_keras.optimizers.Adam(0.01, amsgrad=True))]:
    d = mk("opt_" + optname)
    tf_keras.backend.clear_session()
    inner = tf_keras.Sequential([tf_keras.layers.Dense(6, activation="tanh", input_shape=(5,), name="inner_dense")], name="inner")
    inp = tf_keras.Input((5,), name="x"); h = inner(inp); fro = tf_keras.layers.Dense(6, name="frozen"); h = fro(h); fro.trainable = False
    out = tf_keras.layers.Dense(3, name="head")(h); m = tf_keras.Model(inp, out, name="nested")
    m.compile(optimizer=opt, loss="mse"); xx = rs.rand(32, 5).astype("float32"); yy = rs.rand(32, 3).astype("float32")
    m.fit(xx, yy, epochs=2, batch_size=8, verbose=0)
    m.save_weights(f"{d}/w"); m.save_weights(f"{d}/w.h5"); open(f"{d}/architecture.json", "w").write(m.to_json())
    json.dump({k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in opt.get_config().items()}, open(f"{d}/optimizer.json", "w"))
    np.save(f"{d}/inputs.npy", xx[:4]); np.save(f"{d}/outputs.npy", m.predict(xx[:4], verbose=0))
    m.save(f"{d}/full")
print("probes written")
