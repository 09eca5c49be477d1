#!/usr/bin/env python3
"""Makes the image benchmark's ResNet-50: the real ResNet-50 topology with
generated weights, as an ONNX image classifier Resident's onnx engine serves.

The topology comes from the PyPI package onnx==1.21.0, which ships
onnx/backend/test/data/light/light_resnet50.onnx (80 KB): Caffe2's ImageNet
ResNet-50 (opset 9; 53 convolutions, each followed by a batch norm, 16
bottleneck blocks, 1000 classes, a softmax) whose large weights were replaced by
ConstantOfShape nodes. Here every weight becomes an initializer again with
seeded values: convolutions and the classifier normal with He's standard
deviation sqrt(2 / fan_in), batch norms the identity (scale 1, bias 0, mean 0,
variance 1), the classifier's bias 0, so activations stay finite and far from
denormals. The batch dimension is made dynamic ("N"), the classifier's reshape
made batch-agnostic, and the weights are no longer graph inputs (so ONNX
Runtime may fold the batch norms into the convolutions, as it does for an
exported model). Speed on a CPU depends on the shapes, not the values.

    bench/make_resnet50.py [--seed 0] [--force] [--resident BIN] [--photos DIR]

Prints the model's sha256 and size, and its path on the last line. The model
is cached as $RESIDENT_CACHE_DIR/bench-models/resnet50-bench.onnx (default
~/.cache/resident), beside a "resnet50-bench.onnx.resident.json" that says its
scores are probabilities: a second run does nothing. After making it, it runs
`resident classify` on the photos once to check that the engine loads it and
gives finite scores (skipped, and tried again next time, without the binary).
Runs itself inside the venv $RESIDENT_CACHE_DIR/venv-bench, made from
bench/requirements.txt as make_bench_model.py does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from make_bench_model import ROOT, cache_dir, ensure_venv_and_reexec, locked, log

# The topology's file inside the onnx wheel, and its hash, so that a
# different file is never filled silently.
LIGHT_MEMBER = ("backend", "test", "data", "light", "light_resnet50.onnx")
LIGHT_SHA256 = "05e77a5c9c9ce0913f549a50d6ebaced5e0ff6817b61e09bae26e4c5bd9055e4"
MODEL_NAME = "resnet50-bench.onnx"
# Bump when the generated weights or the graph edits change; kept in the
# model's metadata, and a cached model of another version is made again.
GENERATOR_VERSION = 1


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe(path: Path) -> None:
    size = path.stat().st_size
    log(f"{path.name}: sha256 {sha256_of(path)}, {size} bytes ({size / 2**20:.1f} MiB)")


def generator_of(path: Path) -> str:
    """The generator stamp in a model's metadata ("" when unreadable)."""
    import onnx

    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any unreadable file is simply made again
        return ""
    return next((p.value for p in m.metadata_props if p.key == "resident.generator"), "")


def build(out: Path, seed: int) -> None:
    """Fills the light ResNet-50 with generated weights and writes it to `out`."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    light = Path(onnx.__file__).parent.joinpath(*LIGHT_MEMBER)
    if sha256_of(light) != LIGHT_SHA256:
        raise SystemExit(f"{light} is not the pinned onnx==1.21.0 file (sha256 differs)")
    m = onnx.load(str(light))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    rng = np.random.default_rng(seed)

    # Each ConstantOfShape stands for a weight of the shape in its "__SHAPE"
    # initializer; the small weights are still initializers (Caffe2's values).
    shapes: dict[str, tuple[int, ...]] = {}
    for node in g.node:
        if node.op_type == "ConstantOfShape":
            dims = numpy_helper.to_array(inits[node.input[0]])
            shapes[node.output[0]] = tuple(int(d) for d in dims)
    for t in g.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and not t.name.endswith("__SHAPE"):
            shapes[t.name] = tuple(t.dims)

    def weight(name: str, shape: tuple[int, ...], role: str) -> np.ndarray:
        if role in ("conv", "fc"):  # [out, in, kh, kw]; [classes, features] (transB)
            fan_in = int(np.prod(shape[1:]))
            return rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2 / fan_in))
        if role in ("bn_s", "bn_riv"):
            return np.ones(shape, dtype=np.float32)
        return np.zeros(shape, dtype=np.float32)  # bn_b, bn_rm, fc bias

    roles: dict[str, str] = {}
    for node in g.node:
        if node.op_type == "Conv":
            roles[node.input[1]] = "conv"
            if len(node.input) > 2:
                roles[node.input[2]] = "bias"
        elif node.op_type == "BatchNormalization":
            for name, role in zip(node.input[1:5], ("bn_s", "bn_b", "bn_rm", "bn_riv")):
                roles[name] = role
        elif node.op_type == "Gemm":
            roles[node.input[1]] = "fc"
            roles[node.input[2]] = "bias"

    used = {name for node in g.node for name in node.input}
    data = g.input[0]
    new_inits = []
    for name in sorted(roles):  # a fixed order: the same seed gives the same bytes
        if name not in shapes:
            raise SystemExit(f"no shape for the weight {name}: not the expected topology")
        new_inits.append(numpy_helper.from_array(weight(name, shapes[name], roles[name]), name))
    # The classifier's reshape to [1, 2048] becomes [-1, 2048]: any batch.
    reshape = next(n for n in g.node if n.op_type == "Reshape")
    target = numpy_helper.to_array(inits[reshape.input[1]]).copy()
    target[0] = -1
    new_inits.append(numpy_helper.from_array(target.astype(np.int64), reshape.input[1]))
    kept = {t.name for t in new_inits}
    for t in g.initializer:
        if t.name not in kept and t.name in used and not t.name.endswith("__SHAPE"):
            raise SystemExit(f"an initializer {t.name} that is neither a weight nor the reshape")

    nodes = [n for n in g.node if n.op_type != "ConstantOfShape"]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    # The image is the only input; its batch and the output's are dynamic.
    del g.input[:]
    g.input.append(data)
    g.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    g.output[0].type.tensor_type.shape.dim[0].dim_param = "N"
    del g.value_info[:]
    # IR 4 and later let initializers be constants rather than default inputs.
    m.ir_version = 7
    m.producer_name = "resident bench/make_resnet50.py"
    m.producer_version = str(GENERATOR_VERSION)
    g.name = "resnet50_bench"
    g.doc_string = (f"ResNet-50 topology of onnx==1.21.0's light_resnet50.onnx, generated weights "
                    f"(seed {seed}, He normal convolutions, identity batch norms)")
    del m.metadata_props[:]
    helper.set_model_props(m, {"resident.generator": stamp(seed)})
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(out))
    n_params = sum(int(np.prod(t.dims)) for t in new_inits)
    log(f"wrote {out.name}: {n_params / 1e6:.1f} M parameters, {len(nodes)} nodes, opset "
        f"{m.opset_import[0].version}")


def stamp(seed: int) -> str:
    return f"v{GENERATOR_VERSION}-s{seed}"


def default_photos() -> Path:
    return cache_dir() / "test-data" / "skimage-0.25.2"


def verify(model: Path, resident: Path, photos: Path) -> bool:
    """Classifies the photos with `resident classify`; True when it ran and
    every image got finite scores."""
    if not resident.exists():
        log(f"not verified: no {resident} (build it, or pass --resident)")
        return False
    if not photos.is_dir():
        log(f"not verified: no photos in {photos} (the tests fetch them; or pass --photos)")
        return False
    with tempfile.TemporaryDirectory(prefix="resident-resnet50-") as tmp:
        out = Path(tmp) / "out.jsonl"
        r = subprocess.run([str(resident), "classify", "-m", str(model), "-i", str(photos),
                            "-o", str(out), "--progress", "none"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
            raise SystemExit(f"resident classify could not run {model} (exit {r.returncode})")
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    # A failed image has an "error"; a NaN or infinite score is written as null.
    def finite(row: dict) -> bool:
        scores = [c.get("score") for c in row.get("top_k") or []]
        return bool(scores) and all(isinstance(x, float) and math.isfinite(x) for x in scores)

    bad = [row for row in rows if row.get("error") is not None or not finite(row)]
    if not rows or bad:
        raise SystemExit(f"resident classify failed or gave non-finite scores for {model}: "
                         f"{(bad or rows)[:2]}")
    first = rows[0]
    log(f"verified: resident classify ran {len(rows)} photos, e.g. "
        f"{Path(first['path']).name} -> {first['label']} {first['score']:.3f}")
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=cache_dir() / "bench-models")
    ap.add_argument("--resident", type=Path,
                    default=ROOT / "build" / "release" / "tools" / "resident" / "resident",
                    help="the resident binary that verifies the model")
    ap.add_argument("--photos", type=Path, default=default_photos(),
                    help="a folder of images to verify it with (default: the tests' photos)")
    ap.add_argument("--force", action="store_true", help="make it again even when cached")
    args = ap.parse_args()

    name = MODEL_NAME if args.seed == 0 else MODEL_NAME.replace(".onnx", f"-s{args.seed}.onnx")
    final = args.out_dir / name
    verified = final.with_name(final.name + ".verified")
    if (final.exists() and verified.exists() and not args.force
            and verified.read_text().strip() == stamp(args.seed)):
        describe(final)
        print(final)
        return

    ensure_venv_and_reexec(__file__)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with locked(args.out_dir / f".{name}.lock"):
        if args.force or not final.exists() or generator_of(final) != stamp(args.seed):
            tmp = final.with_name(final.name + ".tmp")
            build(tmp, args.seed)
            verified.unlink(missing_ok=True)
            os.replace(tmp, final)
            sidecar = final.with_name(final.name + ".resident.json")
            sidecar.write_text(json.dumps({"preprocess": {"scores": "probabilities"}}) + "\n")
        describe(final)
        if not verified.exists() or verified.read_text().strip() != stamp(args.seed):
            if verify(final, args.resident, args.photos):
                verified.write_text(stamp(args.seed) + "\n")
    print(final)


if __name__ == "__main__":
    main()
