#!/usr/bin/env python3
"""Independent GGUF block dequantization (numpy, float32 arithmetic in ggml's order) for
test_kernels_weight: quant_oracle.py TYPE IN.bin OUT.bin writes OUT as little-endian f32."""
import sys

import numpy as np

F32 = np.float32


def f16(raw):
    return raw.view(np.float16).astype(F32)


def q8_0(b):
    b = b.reshape(-1, 34)
    d = f16(b[:, 0:2].copy()).reshape(-1, 1)
    q = b[:, 2:].view(np.int8).astype(F32)
    return (q * d).reshape(-1)


def q4_0(b):
    b = b.reshape(-1, 18)
    d = f16(b[:, 0:2].copy()).reshape(-1, 1)
    qs = b[:, 2:]
    lo = ((qs & 0xF).astype(np.int32) - 8).astype(F32)
    hi = ((qs >> 4).astype(np.int32) - 8).astype(F32)
    return (np.concatenate([lo, hi], axis=1) * d).reshape(-1)


def k_scales(s):
    """s: [nb, 12] u8 -> (sc, m) each [nb, 8]."""
    sc = np.zeros((s.shape[0], 8), np.uint8)
    m = np.zeros((s.shape[0], 8), np.uint8)
    sc[:, :4] = s[:, 0:4] & 63
    m[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    m[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(F32), m.astype(F32)


def k45(b, has_qh):
    size = 176 if has_qh else 144
    b = b.reshape(-1, size)
    d = f16(b[:, 0:2].copy()).reshape(-1, 1)
    dmin = f16(b[:, 2:4].copy()).reshape(-1, 1)
    sc, m = k_scales(b[:, 4:16])
    qh = b[:, 16:48] if has_qh else None
    qs = b[:, 48:] if has_qh else b[:, 16:]
    out = []
    for j in range(4):
        q = qs[:, 32 * j:32 * j + 32]
        for half, vals in ((0, q & 0xF), (1, q >> 4)):
            s = 2 * j + half
            v = vals.astype(np.int32)
            if has_qh:
                v = v + np.where((qh >> s) & 1, 16, 0)
            d1 = d[:, 0] * sc[:, s]
            m1 = dmin[:, 0] * m[:, s]
            out.append(d1.reshape(-1, 1) * v.astype(F32) - m1.reshape(-1, 1))
    return np.concatenate(out, axis=1).reshape(-1)


def q6_k(b):
    b = b.reshape(-1, 210)
    ql, qh = b[:, 0:128], b[:, 128:192]
    sc = b[:, 192:208].view(np.int8).astype(F32)
    d = f16(b[:, 208:210].copy()).reshape(-1)
    y = np.zeros((b.shape[0], 256), F32)
    for n in range(2):
        l_ = ql[:, 64 * n:64 * n + 64].astype(np.int32)
        h_ = qh[:, 32 * n:32 * n + 32].astype(np.int32)
        qs = [(l_[:, :32] & 0xF) | ((h_ & 3) << 4), (l_[:, 32:] & 0xF) | (((h_ >> 2) & 3) << 4),
              (l_[:, :32] >> 4) | (((h_ >> 4) & 3) << 4), (l_[:, 32:] >> 4) | (((h_ >> 6) & 3) << 4)]
        for g in range(4):
            for l in range(32):
                s = 8 * n + 2 * g + l // 16
                y[:, 128 * n + 32 * g + l] = d * sc[:, s] * (qs[g][:, l] - 32).astype(F32)
    return y.reshape(-1)


DECODERS = {"q8_0": q8_0, "q4_0": q4_0, "q4_K": lambda b: k45(b, False),
            "q5_K": lambda b: k45(b, True), "q6_K": q6_k,
            "f16": lambda b: f16(b.copy()),
            "bf16": lambda b: (b.view(np.uint16).astype(np.uint32) << 16).view(F32)}


def main():
    kind, src, dst = sys.argv[1:4]
    raw = np.fromfile(src, dtype=np.uint8)
    DECODERS[kind](raw).astype("<f4").tofile(dst)


if __name__ == "__main__":
    main()
