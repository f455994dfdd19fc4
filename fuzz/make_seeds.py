#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (fuzz/corpus/<harness>/): a few small valid and
near-valid inputs each. Deterministic; run from the repository root after changing it:
    python3 fuzz/make_seeds.py
The spec seeds are copies of shipped specs (experiments/specs, studies/) plus hand-made ones.
The owner_record_fuzz seeds are not written here: they are records made by `wrsec mark` (each
with its own fresh 512-bit key, so not reproducible byte for byte), hand edits of them, and one
throwaway key file. Nor are the evidence_fuzz seeds: evidence.json files written by `wrsec verify
... --evidence` (512-bit keys, a handful of null keys), one of them edited, and a bare top level."""
import gzip
import hashlib
import json
import os
import random
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
rng = random.Random(16)


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors ------------------------------------------------------------------------------

PACK = {"F64": "<d", "F32": "<f", "F16": "<e", "I8": "<b", "U8": "<B", "I32": "<i", "I64": "<q"}


def encode(dtype, values):
    if dtype == "BF16":
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return b"".join(struct.pack(PACK[dtype], v) for v in values)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, values)."""
    header, buffer = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        data = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(buffer), len(buffer) + len(data)]}
        buffer += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def floats(n, scale=1.0):
    return [round(rng.uniform(-scale, scale), 3) for _ in range(n)]


def safetensors_seeds():
    h = "safetensors_fuzz"
    write(h, "f32_matrix", safetensors([("w", "F32", [2, 3], floats(6))]))
    write(h, "every_dtype", safetensors([
        ("a.f64", "F64", [2], [1.5, -2.25]), ("b.f16", "F16", [3], [0.5, -65504.0, 6e-8]),
        ("c.bf16", "BF16", [2], [1.0, -3.0]), ("d.i8", "I8", [2], [-128, 127]),
        ("e.u8", "U8", [2], [0, 255]), ("f.i32", "I32", [1], [-7]), ("g.i64", "I64", [1], [9]),
        ("h.empty", "F32", [0, 4], []), ("i.scalar", "F32", [], [3.0])],
        {"format": "pt", "k": "v"}))
    arch = json.dumps({"kind": "mlp", "sizes": [3, 4, 2], "activation": "relu"})
    write(h, "wrsec_mlp_model", safetensors([
        ("layers.0.weight", "F32", [4, 3], floats(12)), ("layers.0.bias", "F32", [4], floats(4)),
        ("layers.1.weight", "F32", [2, 4], floats(8)), ("layers.1.bias", "F32", [2], floats(2))],
        {"wrsec.architecture": arch}))
    arch = json.dumps({"kind": "swiglu", "sizes": [2, 3], "activation": "silu"})
    write(h, "wrsec_swiglu_model", safetensors([
        ("mlp.gate_proj.weight", "F16", [3, 2], floats(6)),
        ("mlp.up_proj.weight", "F16", [3, 2], floats(6)),
        ("mlp.down_proj.weight", "F16", [2, 3], floats(6))], {"wrsec.architecture": arch}))
    write(h, "llama_layers", safetensors([
        ("model.layers.%d.mlp.%s_proj.weight" % (i, p), "BF16", s, floats(6))
        for i in (0, 2) for p, s in (("gate", [3, 2]), ("up", [3, 2]), ("down", [2, 3]))]))
    write(h, "null_metadata", struct.pack("<Q", 24) + b'{"__metadata__":null}   ')
    # Near-valid: overlapping ranges, a hole, wrong size, a huge shape, a truncated buffer.
    good = safetensors([("a", "F32", [2], [1.0, 2.0]), ("b", "F32", [1], [3.0])])
    text = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
    write(h, "overlap", struct.pack("<Q", len(text)) + text + b"\0" * 8)
    text = json.dumps({"a": {"dtype": "F16", "shape": [4294967296, 4294967296],
                             "data_offsets": [0, 8]}}).encode()
    write(h, "huge_shape", struct.pack("<Q", len(text)) + text + b"\0" * 8)
    write(h, "truncated", good[:-3])


# ---- official TaylorMLP releases --------------------------------------------------------------

def official_layer(prefix, d, hs, hp, order, dtype="F32", leftover=False):
    t = [(prefix + "up_proj_weight", dtype, [hs, d], floats(hs * d)),
         (prefix + "gate_proj_weight", dtype, [hs, d], floats(hs * d)),
         (prefix + "local_point", dtype, [hs], floats(hs)),
         (prefix + "local_approx_output", dtype, [d, hs], floats(d * hs)),
         (prefix + "fuse_weight", dtype, [d, hs, order], floats(d * hs * order)),
         (prefix + "discount_factor", dtype, [order], [1.0 / (i + 1) for i in range(order)]),
         (prefix + "ffn_gate_proj_weight", dtype, [hp, d], floats(hp * d)),
         (prefix + "ffn_up_proj_weight", dtype, [hp, d], floats(hp * d)),
         (prefix + "ffn_down_proj_weight", dtype, [d, hp], floats(d * hp))]
    if leftover:
        t.append((prefix + "gate_proj.weight", dtype, [hs + hp, d], floats((hs + hp) * d)))
    return t


def official_seeds():
    h = "official_release_fuzz"
    write(h, "one_layer_f32", safetensors(official_layer("", 3, 2, 1, 3)))
    write(h, "one_layer_bf16_gelu", safetensors(official_layer("", 4, 2, 2, 2, "BF16"),
                                                {"wrsec.activation": "gelu"}))
    write(h, "leftover_gate_f16", safetensors(official_layer("", 3, 2, 1, 4, "F16", True)))
    write(h, "two_layers", safetensors(official_layer("model.layers.0.mlp.", 2, 1, 1, 2) +
                                       official_layer("model.layers.3.mlp.", 2, 2, 0, 1)))
    write(h, "all_selected_f64", safetensors(official_layer("", 2, 2, 0, 5, "F64")))
    bad = official_layer("", 3, 2, 1, 3)
    bad[4] = ("fuse_weight", "F32", [3, 1, 3], floats(9))
    write(h, "mismatched_fuse", safetensors(bad))


# ---- IDX --------------------------------------------------------------------------------------

def idx_images(count, rows, cols):
    return struct.pack(">IIII", 0x803, count, rows, cols) + bytes(
        rng.randrange(256) for _ in range(count * rows * cols))


def idx_labels(count):
    return struct.pack(">II", 0x801, count) + bytes(i % 10 for i in range(count))


def idx_seeds():
    h = "idx_fuzz"  # first byte: bit 0 = the harness gzips the rest
    write(h, "images_plain", b"\0" + idx_images(2, 3, 4))
    write(h, "labels_plain", b"\0" + idx_labels(5))
    write(h, "images_harness_gzip", b"\1" + idx_images(3, 2, 2))
    write(h, "labels_harness_gzip", b"\1" + idx_labels(12))
    write(h, "images_gzip_file", b"\0" + gzip.compress(idx_images(2, 2, 3), mtime=0))
    write(h, "labels_gzip_file", b"\0" + gzip.compress(idx_labels(4), mtime=0))
    write(h, "images_truncated", b"\0" + idx_images(2, 3, 4)[:-1])
    write(h, "labels_trailing", b"\0" + idx_labels(3) + b"\7")
    write(h, "images_huge_header", b"\0" + struct.pack(">IIII", 0x803, 1 << 26, 4096, 4096))
    write(h, "labels_bad_label", b"\0" + struct.pack(">II", 0x801, 2) + b"\3\12")


# ---- specs ------------------------------------------------------------------------------------

def spec_seeds():
    h = "spec_fuzz"
    os.makedirs(os.path.join(CORPUS, h), exist_ok=True)
    for src in ["experiments/specs/bernoulli_power.ini", "studies/taylormlp/extraction_paper.ini",
                "studies/taylormlp/misuse_official.ini",
                "studies/watermark_robustness/removal_transforms.ini",
                "studies/watermark_robustness/forgery_signature.ini"]:
        shutil.copy(os.path.join(ROOT, src), os.path.join(CORPUS, h, os.path.basename(src)))
    head = "game = bernoulli_ind\nattack = likelihood_ratio\ntrials = 100\nseed = 3\n"
    write(h, "ranges", head + "[game]\np0 = 0.5\n[sweep]\ngame.p1 = 0.45:0.05:0.6\n"
          "game.samples = 1, 4:4:12, 100\n")
    write(h, "integer_extremes", head + "[sweep]\n"
          "game.a = -9223372036854775808:4611686018427387904:9223372036854775807\n"
          "game.b = 9007199254740993:1:9007199254740995\n")
    write(h, "component_axis", "game = wm_removal\nscheme = qim\ntrials = 8\nseed = 1\n"
          "alpha = 0.01\ncorrection = none\nstop_when = lower > 0.1\nfirst_look = 4\nbatch = 2\n"
          "[scheme]\nlayers = \"0,1\"\n[sweep]\n"
          "attack = quantize, quantize(bits=4 granularity=channel), prune(rate=0.5)\n")
    write(h, "quoted", head.replace("attack = likelihood_ratio\n", "") +
          "[sweep]\nattack = \"likelihood_ratio\", coin_flip\n"
          "game.model = \"random:mlp:784,64,10:silu\", \"zoo:mlp_784_64_10_relu@1\"\n")
    write(h, "cell_config", "game = bernoulli_ind\nattack = likelihood_ratio\ntrials = 10\n"
          "first-trial = 5\nthreads = 2\nout = r.jsonl\n[game]\np0 = 0.4\n# comment\n")
    write(h, "bad_line", head + "this line has no equals sign\n")
    write(h, "cells_overflow", head + "[sweep]\n" + "".join(
        "game.%s = 1:1:65536\n" % k for k in "abcd"))


# ---- owner claims -----------------------------------------------------------------------------

def is_probable_prime(n):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(32):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def prime(bits):
    while True:
        p = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if is_probable_prime(p) and (p - 1) % 65537 != 0:
            return p


def fdh(n, message):
    """wrsec's FDH: the first |n| bits of SHA-256(i ‖ "wrsec.fdh" ‖ m), i = 0, 1, …, mod n."""
    bits = n.bit_length()
    nbytes = (bits + 7) // 8
    stream = b""
    i = 0
    while len(stream) < nbytes:
        stream += hashlib.sha256(struct.pack(">I", i) + b"wrsec.fdh" + message).digest()
        i += 1
    x = int.from_bytes(stream[:nbytes], "big") >> (8 * nbytes - bits)
    return x % n


def claim_seeds():
    h = "claim_fuzz"
    p, q = prime(256), prime(256)
    n, e = p * q, 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    statement = "wrsec owner statement v1: model 0123abcd"
    sig = pow(fdh(n, statement.encode()), d, n)
    key = {"n": format(n, "x"), "e": e}
    claim = {"statement": statement, "public_key": key, "signature": format(sig, "x")}
    write(h, "signed", json.dumps(claim))
    write(h, "unbound", json.dumps(dict(claim, key_seed="ab" * 32, message=[0, 1, 1, 0, 1])))
    write(h, "wrong_signature", json.dumps(dict(claim, signature=format(sig + 2, "x"))))
    write(h, "public_key_only", json.dumps(key))
    write(h, "bad_fields", json.dumps({"statement": 1, "public_key": {"n": "0a", "e": 2},
                                       "signature": "zz", "extra": None}))


# ---- --param values ---------------------------------------------------------------------------

def params_seeds():
    # Three bytes choose a game, scheme and attack among the registered ones (255: the defaults
    # bernoulli_ind, none, likelihood_ratio), then one key=value per line (game=, scheme= and
    # attack= lines override the choice).
    h = "params_fuzz"
    default = bytes([255, 255, 255])
    write(h, "bernoulli", default + b"game.p0=0.4\ngame.p1=0.6\ngame.samples=8\n")
    write(h, "typed_values", default + b"a=1\nb=-0.25\nc=true\nd=1,2,4\ne=no\nf=1e308\ng=-9223372036854775808\n")
    write(h, "qim_removal", default + b"game=wm_removal\nscheme=qim\nattack=quantize\nscheme.layers=0,1\n"
          b"scheme.ecc_t=2\nattack.bits=4\nattack.granularity=channel\n"
          b"game.model=zoo:mlp_784_64_64_10_relu@1\ngame.delta=0.05\n")
    write(h, "taylor_extraction", default + b"game=param_extraction\nscheme=taylor_mlp\n"
          b"attack=taylor_ratio_inversion\nscheme.order=6\nscheme.format=paper\n"
          b"game.model=random:mlp:784,64,10:silu\ngame.tau=0.001\ngame.rho=0.99\n")
    write(h, "official_misuse", default + b"game=misuse\nscheme=taylor_mlp\nattack=taylor_sign_hypothesis\n"
          b"scheme.format=official\nscheme.select_dim=8\nscheme.dtype=bf16\n"
          b"game.model=llama_synthetic:16,32:silu\ngame.epsilon=0.01\ngame.kappa=2\n")
    write(h, "forgery", default + b"game=wm_forgery\nscheme=uchida\nattack=ambiguity\n"
          b"attack.strategy=copy_bits\ngame.target=independent\ngame.null_first=0\n"
          b"game.null_count=20\nscheme.binding=none\n")
    write(h, "malformed", default + b"novalue\n=x\ngame.=1\nfoo.bar=2\nscheme=none\n")
    # Chosen by the bytes (registries in id order): wm_removal, spread_spectrum, prune; and
    # ind_release, plaintext, query_regression.
    write(h, "removal_by_bytes", bytes([6, 3, 11]) +
          b"scheme.strength=2\nattack.rate=0.3\nattack.granularity=global\n")
    write(h, "ind_release_by_bytes", bytes([1, 1, 13]) + b"game.queries=16\nattack.ridge=0.1\n")


if __name__ == "__main__":
    if os.path.isdir(CORPUS):
        for h in ("safetensors_fuzz", "official_release_fuzz", "idx_fuzz", "spec_fuzz",
                  "claim_fuzz", "params_fuzz"):
            shutil.rmtree(os.path.join(CORPUS, h), ignore_errors=True)
    safetensors_seeds()
    official_seeds()
    idx_seeds()
    spec_seeds()
    claim_seeds()
    params_seeds()
