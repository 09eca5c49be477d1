"""Converts an EfficientNet-Lite ImageNet checkpoint (a PyTorch state dict in
the legacy, pre-zip pickle format, with efficientnet_pytorch's key names) into
an ONNX model, with the Python standard library only (no torch, numpy or onnx).

    python3 efficientnet_lite.py CHECKPOINT.pth OUT.onnx

The output is a pure function of the checkpoint's bytes: weights are copied
byte for byte, the graph is fixed, nothing carries a time or a path. The model
takes (N, 3, 224, 224) float images normalised as (x - 127) / 128 and gives
(N, 1000) ImageNet logits. Layers (EfficientNet-Lite: no squeeze-excite,
ReLU6): a 3x3 stride-2 stem, 16 inverted-residual blocks in 7 stages, a 1x1
head to 1280 channels, global average pooling and a fully connected layer.
Convolutions pad like TensorFlow's SAME (the checkpoint's weights come from
TensorFlow), batch norms keep their running statistics (epsilon 1e-3).
"""
import array
import collections
import itertools
import pickle
import struct
import sys

# Stride of the first block of each stage; the stages of EfficientNet-B0/Lite0.
STAGE_STRIDES = [1, 2, 2, 2, 1, 2, 1]
BN_EPSILON = 1e-3


class Storage:
    def __init__(self, kind, count):
        self.kind, self.count, self.data = kind, count, None


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def raw(self):
        """The values in row-major order (the checkpoint keeps some in
        TensorFlow's layout, i.e. strided), as little-endian float32 bytes."""
        numel = 1
        for d in self.size:
            numel *= d
        row_major, acc = [], 1
        for d in reversed(self.size):
            row_major.insert(0, acc)
            acc *= d
        data = memoryview(self.storage.data).cast("f")
        if numel <= 1 or tuple(row_major) == self.stride:
            return data[self.offset:self.offset + numel].tobytes()
        out = array.array("f", bytes(4 * numel))
        for i, index in enumerate(itertools.product(*(range(d) for d in self.size))):
            out[i] = data[self.offset + sum(a * b for a, b in zip(index, self.stride))]
        if sys.byteorder != "little":
            out.byteswap()
        return out.tobytes()


def load_legacy(path):
    storages = {}

    def rebuild(storage, offset, size, stride, *_):
        return Tensor(storage, offset, size, stride)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return rebuild
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module == "torch" and name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in the checkpoint")

        def persistent_load(self, pid):
            _, kind, key, _, count = pid[:5]
            if key not in storages:
                storages[key] = Storage(kind, count)
            return storages[key]

    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        state = Unpickler(f).load()
        keys = pickle.load(f)
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            s = storages[key]
            size = {"FloatStorage": 4, "LongStorage": 8}[s.kind]
            s.data = f.read(count * size)
            if len(s.data) != count * size:
                raise ValueError("the checkpoint is truncated")
    return state


# --- protobuf, the few wire types ONNX needs ---
def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, n):
    return varint(num << 3) + varint(n)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_float(num, x):
    return varint(num << 3 | 5) + struct.pack("<f", x)


FLOAT, INT64 = 1, 7


def tensor(name, dims, raw, dtype=FLOAT):
    return b"".join(field_varint(1, d) for d in dims) + field_varint(2, dtype) + \
        field_bytes(8, name) + field_bytes(9, raw)


def attr_int(name, v):
    return field_bytes(1, name) + field_varint(3, v) + field_varint(20, 2)


def attr_float(name, v):
    return field_bytes(1, name) + field_float(2, v) + field_varint(20, 1)


def attr_str(name, v):
    return field_bytes(1, name) + field_bytes(4, v) + field_varint(20, 3)


def attr_ints(name, vs):
    return field_bytes(1, name) + b"".join(field_varint(8, v) for v in vs) + field_varint(20, 7)


def node(op, inputs, outputs, name, attrs=()):
    return b"".join(field_bytes(1, i) for i in inputs) + b"".join(field_bytes(2, o) for o in outputs) + \
        field_bytes(3, name) + field_bytes(4, op) + b"".join(field_bytes(5, a) for a in attrs)


def value_info(name, dims):
    shape = b"".join(field_bytes(1, field_bytes(2, d) if isinstance(d, str) else field_varint(1, d))
                     for d in dims)
    return field_bytes(1, name) + field_bytes(2, field_bytes(1, field_varint(1, FLOAT) + field_bytes(2, shape)))


class Graph:
    def __init__(self, state):
        self.state, self.nodes, self.inits, self.n = state, [], [], 0

    def weight(self, key):
        t = self.state[key]
        self.inits.append(tensor(key, t.size, t.raw()))
        return key

    def const(self, name, value):
        self.inits.append(tensor(name, [], struct.pack("<f", value)))
        return name

    def add(self, op, inputs, attrs=()):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(node(op, inputs, [out], f"{op.lower()}_{self.n}", attrs))
        return out

    def conv(self, x, key, stride=1, group=1):
        k = self.state[key].size
        return self.add("Conv", [x, self.weight(key)], [
            attr_str("auto_pad", "SAME_UPPER"), attr_int("group", group),
            attr_ints("kernel_shape", k[2:]), attr_ints("strides", [stride, stride])])

    def bn(self, x, prefix, relu6=True):
        y = self.add("BatchNormalization", [x] + [self.weight(f"{prefix}.{p}") for p in
                                                  ("weight", "bias", "running_mean", "running_var")],
                     [attr_float("epsilon", BN_EPSILON)])
        return self.add("Clip", [y, "zero", "six"]) if relu6 else y


def convert(state):
    g = Graph(state)
    g.const("zero", 0.0)
    g.const("six", 6.0)
    x = g.bn(g.conv("image", "_conv_stem.weight", stride=2), "_bn0")
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("_blocks.")})
    stage, last_out = -1, None
    for b in blocks:
        p = f"_blocks.{b}"
        out_ch = state[f"{p}._project_conv.weight"].size[0]
        first = out_ch != last_out
        if first:
            stage += 1
        stride = STAGE_STRIDES[stage] if first else 1
        y = x
        if f"{p}._expand_conv.weight" in state:
            y = g.bn(g.conv(y, f"{p}._expand_conv.weight"), f"{p}._bn0")
        dw = state[f"{p}._depthwise_conv.weight"].size[0]
        y = g.bn(g.conv(y, f"{p}._depthwise_conv.weight", stride=stride, group=dw), f"{p}._bn1")
        y = g.bn(g.conv(y, f"{p}._project_conv.weight"), f"{p}._bn2", relu6=False)
        in_ch = state[f"{p}._depthwise_conv.weight"].size[0] if f"{p}._expand_conv.weight" not in state \
            else state[f"{p}._expand_conv.weight"].size[1]
        if stride == 1 and in_ch == out_ch:
            y = g.add("Add", [y, x])
        x, last_out = y, out_ch
    if stage != len(STAGE_STRIDES) - 1:
        raise ValueError(f"the checkpoint has {stage + 1} stages, EfficientNet-Lite has 7")
    x = g.bn(g.conv(x, "_conv_head.weight"), "_bn1")
    x = g.add("GlobalAveragePool", [x])
    x = g.add("Flatten", [x], [attr_int("axis", 1)])
    g.nodes.append(node("Gemm", [x, g.weight("_fc.weight"), g.weight("_fc.bias")], ["logits"], "fc",
                        [attr_int("transB", 1)]))
    classes = state["_fc.weight"].size[0]
    graph = b"".join(field_bytes(1, n) for n in g.nodes) + field_bytes(2, "efficientnet_lite0") + \
        b"".join(field_bytes(5, t) for t in g.inits) + \
        field_bytes(11, value_info("image", ["N", 3, 224, 224])) + \
        field_bytes(12, value_info("logits", ["N", classes]))
    opset = field_bytes(1, "") + field_varint(2, 13)
    return field_varint(1, 8) + field_bytes(2, "resident") + field_bytes(7, graph) + field_bytes(8, opset)


def main():
    src, out = sys.argv[1:3]
    data = convert(load_legacy(src))
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
