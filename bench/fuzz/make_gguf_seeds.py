#!/usr/bin/env python3
"""Writes the GGUF seeds of bench/fuzz/corpus/gguf_inspect_fuzz: tiny files
with valid framing (a llama-shaped header, a small vocabulary, two small
tensors), one plain and others with the hostile values the test corpus
(tests/hostile_gguf_test.cpp) crafts from a real model, so that libFuzzer
starts from structure, not from the magic bytes alone.

    bench/fuzz/make_gguf_seeds.py bench/fuzz/corpus/gguf_inspect_fuzz
"""
import struct
import sys
from pathlib import Path

U16, U32, I32, F32, BOOL, STRING, ARRAY, U64 = 2, 4, 5, 6, 7, 8, 9, 10


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    if vtype == STRING:
        return s(v)
    if vtype == ARRAY:
        etype, items = v
        return struct.pack("<IQ", etype, len(items)) + b"".join(value(etype, i) for i in items)
    fmt = {U16: "<H", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q"}[vtype]
    return struct.pack(fmt, v)


def gguf(kvs, tensors, alignment=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, v in kvs:
        head += s(key) + struct.pack("<I", vtype) + value(vtype, v)
    data = b""
    for name, ne, payload in tensors:
        offset = len(data)
        head += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", d) for d in ne)
        head += struct.pack("<IQ", 0, offset)  # F32
        data += payload + b"\0" * (-len(payload) % alignment)
    head += b"\0" * (-len(head) % alignment)
    return head + data


def base_kvs(**changes):
    tokens = ["<s>", "</s>", "a", "b", "ab", " ", "c"]
    kvs = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "seed"),
        ("general.file_type", U32, 0),
        ("llama.block_count", U32, 1),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, 8),
        ("llama.feed_forward_length", U32, 16),
        ("llama.attention.head_count", U32, 2),
        ("llama.attention.head_count_kv", ARRAY, (I32, [2])),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [1] * len(tokens))),
        ("tokenizer.ggml.merges", ARRAY, (STRING, ["a b"])),
        ("tokenizer.chat_template", STRING, "{{ messages }}"),
    ]
    out = []
    for key, vtype, v in kvs:
        if key in changes:
            change = changes.pop(key)
            if change is None:
                continue
            vtype, v = change
        out.append((key, vtype, v))
    out += [(k, t, v) for k, (t, v) in changes.items()]
    return out


def main():
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    tensors = [
        ("token_embd.weight", [8, 7], struct.pack("<56f", *([0.5] * 56))),
        ("output_norm.weight", [8], struct.pack("<8f", *([1.0] * 8))),
    ]
    seeds = {
        "plain": base_kvs(),
        "int-key-as-strings": base_kvs(**{"llama.block_count": (ARRAY, (STRING, ["1", "x"]))}),
        "string-key-as-int": base_kvs(**{"general.architecture": (U32, 7)}),
        "split-first-part": base_kvs(**{"split.count": (U16, 2), "split.no": (U16, 0)}),
        "no-architecture": base_kvs(**{"general.architecture": None}),
        "huge-context": base_kvs(**{"llama.context_length": (U64, 2**63)}),
    }
    for name, kvs in seeds.items():
        (folder / f"{name}.gguf").write_bytes(gguf(kvs, tensors))


if __name__ == "__main__":
    main()
