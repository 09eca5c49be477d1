#!/usr/bin/env python3
"""Makes the benchmark models: a transformer of a real model's shape with
generated weights and SmolLM2's tokenizer, in Q4_0.

  --shape 0.5b  Qwen2.5-0.5B's shape, written in F16 and quantized by
                llama-quantize to --type (default Q4_0); 238 MiB.
  --shape 7b    Llama-2-7B's shape (the brief's 4.65 GB model class), written
                directly as Q4_0 blocks (output.weight Q6_K, as llama-quantize
                makes a Q4_0 model), so no 13 GB F16 file is ever needed; with
                SmolLM2's 49152-token vocabulary it is 3.7 GiB.

Speed on a CPU depends on the shape of the matrices, not on what is in them, so
a model of the exact shape with random weights times like the real one; and it
is made here from registry packages alone (no model hub on these machines).

    bench/make_bench_model.py [--shape 0.5b|7b] [--vocab-from SMOLLM2.gguf] [--type Q4_0] [--force]

Prints the path of the model on its last line. The model is cached in
$RESIDENT_CACHE_DIR/bench-models (default ~/.cache/resident/bench-models): a
second run does nothing. Runs itself inside the venv
$RESIDENT_CACHE_DIR/venv-bench, which it makes from bench/requirements.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "requirements.txt"

# Bump when the generated weights or metadata change, so that a stale cached
# model is never used.
GENERATOR_VERSION = 1

# Qwen2.5-0.5B (config.json of Qwen/Qwen2.5-0.5B), run as llama architecture.
# Qwen2 is llama plus q/k/v biases, which llama.cpp's llama graph also applies
# when present, and NeoX rope, which costs the same as llama's.
SHAPE = {
    "n_layer": 24,
    "n_embd": 896,
    "n_head": 14,
    "n_head_kv": 2,
    "head_dim": 64,
    "n_ff": 4864,
    "rope_theta": 1_000_000.0,
    "rms_eps": 1e-6,
    "n_ctx": 32768,
}


# Llama-2-7B (config.json of meta-llama/Llama-2-7b-hf): 32 layers, 4096 wide,
# 32 heads (no GQA), FFN 11008, untied output.
SHAPE_7B = {
    "n_layer": 32,
    "n_embd": 4096,
    "n_head": 32,
    "n_head_kv": 32,
    "head_dim": 128,
    "n_ff": 11008,
    "rope_theta": 10_000.0,
    "rms_eps": 1e-5,
    "n_ctx": 4096,
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    if os.environ.get("RESIDENT_CACHE_DIR"):
        return Path(os.environ["RESIDENT_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "resident"


def model_dir() -> Path:
    if os.environ.get("RESIDENT_MODEL_DIR"):
        return Path(os.environ["RESIDENT_MODEL_DIR"])
    return cache_dir() / "models"


def default_llama_bin() -> Path:
    """The bin folder of the pinned llama.cpp build (as cmake/LlamaCpp.cmake). Pass a
    bench/llama_view.py view instead on a machine whose CPU advertises more than it runs."""
    lock = {}
    for line in (ROOT / "third_party" / "llama.cpp.lock").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            lock[k.strip()] = v.strip()
    version, commit = lock["LLAMA_CPP_VERSION"], lock["LLAMA_CPP_COMMIT"][:8]
    return cache_dir() / "llama.cpp" / f"{version}-{commit}" / "build-portable" / "bin"


# --- the venv -------------------------------------------------------------------


def venv_dir() -> Path:
    return cache_dir() / "venv-bench"


def ensure_venv_and_reexec(script: str = __file__) -> None:
    """Runs `script` (this one by default) again inside the bench venv, making
    the venv first."""
    venv = venv_dir()
    py = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = venv / ".requirements-sha256"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with locked(venv.parent / ".venv-bench.lock"):
        if not (py.exists() and stamp.exists() and stamp.read_text().strip() == want):
            log(f"making the venv {venv} from {REQUIREMENTS.name}")
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 "-r", str(REQUIREMENTS)],
                check=True)
            stamp.write_text(want + "\n")
    os.execv(str(py), [str(py), str(Path(script).resolve()), *sys.argv[1:]])


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on `path`, so two runs never build the same file at once."""
    import fcntl

    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- the model ------------------------------------------------------------------


def copy_tokenizer(reader, writer) -> int:
    """Copies every tokenizer.* key; returns the vocabulary size."""
    from gguf import GGUFValueType

    n_vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        value = field.contents()
        writer.add_key_value(key, value, vtype, sub_type=sub)
        if key == "tokenizer.ggml.tokens":
            n_vocab = len(value)
    if n_vocab == 0:
        raise SystemExit("the vocabulary source has no tokenizer.ggml.tokens")
    return n_vocab


def tensor_plan(n_vocab: int):
    """(name, numpy shape, dtype, kind) of every tensor, in file order.

    numpy shapes are [rows, cols] = [out, in]; ggml's ne is the reverse. No
    output.weight: the embedding is tied, as in Qwen2.5-0.5B.
    """
    import numpy as np

    s = SHAPE
    d, kv, ff = s["n_embd"], s["n_head_kv"] * s["head_dim"], s["n_ff"]
    plan = [("token_embd.weight", (n_vocab, d), np.float16, "w")]
    for i in range(s["n_layer"]):
        b = f"blk.{i}."
        plan += [
            (b + "attn_norm.weight", (d,), np.float32, "norm"),
            (b + "attn_q.weight", (s["n_head"] * s["head_dim"], d), np.float16, "w"),
            (b + "attn_q.bias", (s["n_head"] * s["head_dim"],), np.float32, "w"),
            (b + "attn_k.weight", (kv, d), np.float16, "w"),
            (b + "attn_k.bias", (kv,), np.float32, "w"),
            (b + "attn_v.weight", (kv, d), np.float16, "w"),
            (b + "attn_v.bias", (kv,), np.float32, "w"),
            (b + "attn_output.weight", (d, s["n_head"] * s["head_dim"]), np.float16, "w"),
            (b + "ffn_norm.weight", (d,), np.float32, "norm"),
            (b + "ffn_gate.weight", (ff, d), np.float16, "w"),
            (b + "ffn_up.weight", (ff, d), np.float16, "w"),
            (b + "ffn_down.weight", (d, ff), np.float16, "w"),
        ]
    plan.append(("output_norm.weight", (d,), np.float32, "norm"))
    return plan


def start_gguf(path: Path, vocab_from: Path, shape: dict, name: str, file_type,
               head_dims: bool):
    """A GGUF writer for a llama-architecture model of `shape`, its metadata
    and SmolLM2's tokenizer written; returns it and the vocabulary size.
    `head_dims` writes the key/value head sizes explicitly."""
    import gguf

    reader = gguf.GGUFReader(str(vocab_from))
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_type("model")
    writer.add_context_length(shape["n_ctx"])
    writer.add_embedding_length(shape["n_embd"])
    writer.add_block_count(shape["n_layer"])
    writer.add_feed_forward_length(shape["n_ff"])
    writer.add_head_count(shape["n_head"])
    writer.add_head_count_kv(shape["n_head_kv"])
    if head_dims:
        writer.add_key_length(shape["head_dim"])
        writer.add_value_length(shape["head_dim"])
    writer.add_rope_dimension_count(shape["head_dim"])
    writer.add_rope_freq_base(shape["rope_theta"])
    writer.add_layer_norm_rms_eps(shape["rms_eps"])
    writer.add_file_type(file_type)
    n_vocab = copy_tokenizer(reader, writer)
    writer.add_vocab_size(n_vocab)
    return writer, n_vocab


def write_f16(path: Path, vocab_from: Path, seed: int, std: float) -> None:
    import gguf
    import numpy as np

    writer, n_vocab = start_gguf(
        path, vocab_from, SHAPE,
        f"Resident bench 0.5B (Qwen2.5-0.5B shape, random weights, seed {seed})",
        gguf.LlamaFileType.MOSTLY_F16, head_dims=True)

    plan = tensor_plan(n_vocab)
    for name, shape, dtype, _ in plan:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    # One tensor in memory at a time: the F16 file is ~0.8 GB.
    rng = np.random.default_rng(seed)
    n_params = 0
    for name, shape, dtype, kind in plan:
        if kind == "norm":
            data = np.ones(shape, dtype=np.float32)
        else:
            data = (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(dtype)
        n_params += data.size
        writer.write_tensor_data(data)
    writer.close()
    log(f"wrote {path.name}: {n_params / 1e6:.1f} M parameters, vocabulary {n_vocab}")


def write_7b_q4_0(path: Path, vocab_from: Path, seed: int, std: float) -> None:
    """Writes Llama-2-7B's shape as ready Q4_0 blocks of random 4-bit values
    whose scale gives the weights the standard deviation `std`."""
    import gguf
    import numpy as np

    Q = gguf.GGMLQuantizationType
    s = SHAPE_7B
    writer, n_vocab = start_gguf(
        path, vocab_from, s, f"Resident bench 7B (Llama-2-7B shape, random weights, seed {seed})",
        gguf.LlamaFileType.MOSTLY_Q4_0, head_dims=False)

    d, ff = s["n_embd"], s["n_ff"]
    plan = [("token_embd.weight", (n_vocab, d), Q.Q4_0)]
    for i in range(s["n_layer"]):
        b = f"blk.{i}."
        plan += [
            (b + "attn_norm.weight", (d,), Q.F32),
            (b + "attn_q.weight", (d, d), Q.Q4_0),
            (b + "attn_k.weight", (d, d), Q.Q4_0),
            (b + "attn_v.weight", (d, d), Q.Q4_0),
            (b + "attn_output.weight", (d, d), Q.Q4_0),
            (b + "ffn_norm.weight", (d,), Q.F32),
            (b + "ffn_gate.weight", (ff, d), Q.Q4_0),
            (b + "ffn_up.weight", (ff, d), Q.Q4_0),
            (b + "ffn_down.weight", (d, ff), Q.Q4_0),
        ]
    plan += [("output_norm.weight", (d,), Q.F32), ("output.weight", (n_vocab, d), Q.Q6_K)]

    def nbytes(shape, qtype):
        if qtype == Q.F32:
            return int(np.prod(shape)) * 4
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        return shape[0] * (shape[1] // block) * size

    for name, shape, qtype in plan:
        if qtype == Q.F32:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes(shape, qtype))
        else:
            byte_shape = (shape[0], nbytes(shape, qtype) // shape[0])
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes(shape, qtype),
                                   raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    # Q4_0: w = d * (q - 8), q uniform in 0..15 (standard deviation 4.61).
    q4_scale = np.array([std / 4.61], dtype=np.float16).view(np.uint8)
    # Q6_K: w = d * scale * (q - 32), q uniform in 0..63 (18.5); scales 8.
    q6_scale = np.array([std / (18.5 * 8)], dtype=np.float16).view(np.uint8)
    n_params = 0
    for name, shape, qtype in plan:
        n_params += int(np.prod(shape))
        if qtype == Q.F32:
            writer.write_tensor_data(np.ones(shape, dtype=np.float32))
            continue
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        data = rng.integers(0, 256, size=nbytes(shape, qtype), dtype=np.uint8)
        blocks = data.reshape(-1, size)
        if qtype == Q.Q4_0:
            blocks[:, 0:2] = q4_scale
        else:
            blocks[:, 192:208] = 8
            blocks[:, 208:210] = q6_scale
        writer.write_tensor_data(data.reshape(shape[0], -1))
    writer.close()
    log(f"wrote {path.name}: {n_params / 1e9:.2f} B parameters, vocabulary {n_vocab}")


def verify(model: Path, llama_bin: Path) -> None:
    """Loads the model and runs a few tokens through llama-bench."""
    out = subprocess.run(
        [str(llama_bin / "llama-bench"), "-m", str(model), "-p", "16", "-n", "4", "-r", "1",
         "-t", str(os.cpu_count() or 1)],
        capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"llama-bench could not run {model} (exit {out.returncode})")
    sys.stderr.write(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab-from", type=Path,
                    default=model_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf",
                    help="GGUF whose tokenizer and vocabulary to copy (default: the SmolLM2 in "
                         "the model cache; `resident models pull smollm2-135m-instruct`)")
    ap.add_argument("--shape", default="0.5b", choices=["0.5b", "7b"])
    ap.add_argument("--type", default="Q4_0",
                    help="llama-quantize type (default Q4_0; the 7b shape is Q4_0 only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--out-dir", type=Path, default=cache_dir() / "bench-models")
    ap.add_argument("--llama-bin", type=Path, default=default_llama_bin(),
                    help="folder of llama-quantize and llama-bench")
    ap.add_argument("--force", action="store_true", help="make it again even when cached")
    args = ap.parse_args()

    if args.shape == "7b" and args.type != "Q4_0":
        raise SystemExit("--shape 7b is written as Q4_0 directly: drop --type")
    name = f"resident-bench-{args.shape}-v{GENERATOR_VERSION}-s{args.seed}"
    if args.std != 0.02:
        name += f"-std{args.std:g}"
    final = args.out_dir / f"{name}.{args.type}.gguf"
    verified = final.with_name(final.name + ".verified")
    if final.exists() and verified.exists() and not args.force:
        print(final)
        return

    ensure_venv_and_reexec()
    if not args.vocab_from.exists():
        raise SystemExit(f"no vocabulary source at {args.vocab_from}: run "
                         "`resident models pull smollm2-135m-instruct` or pass --vocab-from")
    for tool in ("llama-quantize", "llama-bench"):
        if not (args.llama_bin / tool).exists():
            raise SystemExit(f"no {tool} in {args.llama_bin}: run scripts/bootstrap.sh tools")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with locked(args.out_dir / f".{name}.lock"):
        if args.force or not final.exists():
            start = time.monotonic()
            if args.shape == "7b":
                tmp = final.with_name(final.name + ".tmp")
                write_7b_q4_0(tmp, args.vocab_from, args.seed, args.std)
                verified.unlink(missing_ok=True)
                os.replace(tmp, final)
                log(f"made {final} ({final.stat().st_size / 2**30:.2f} GiB) in "
                    f"{time.monotonic() - start:.0f} s")
        if args.shape != "7b" and (args.force or not final.exists()):
            start = time.monotonic()
            f16 = args.out_dir / f"{name}.F16.gguf.tmp"
            write_f16(f16, args.vocab_from, args.seed, args.std)
            tmp = final.with_name(final.name + ".tmp")
            log(f"llama-quantize to {args.type}")
            q = subprocess.run(
                [str(args.llama_bin / "llama-quantize"), str(f16), str(tmp), args.type,
                 str(os.cpu_count() or 1)],
                capture_output=True, text=True)
            f16.unlink(missing_ok=True)
            if q.returncode != 0:
                sys.stderr.write(q.stdout[-4000:] + q.stderr[-4000:])
                raise SystemExit(f"llama-quantize failed (exit {q.returncode})")
            verified.unlink(missing_ok=True)
            os.replace(tmp, final)
            log(f"made {final} ({final.stat().st_size / 2**20:.0f} MiB) in "
                f"{time.monotonic() - start:.0f} s")
        if not verified.exists():
            verify(final, args.llama_bin)
            verified.write_text("loaded by llama-bench\n")
    print(final)


if __name__ == "__main__":
    main()
