"""Item 6: serving one base-size member (random init with KcELECTRA-base's shapes: 12 layers, hidden
768, vocab 54,000; built from its config, no download) at batch 64 on real comments: comments/s with
torch fp32, ONNX Runtime fp32 and int8 on the CPU (needs `pip install -e ".[onnx]"`), torch fp16
autocast on CUDA when present, the size of each copy's weights, and the peak resident memory that
loading each copy and scoring 256 comments adds to a fresh process (Linux)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hf_trainer.data.labels import LabelSchema
from hf_trainer.members.transformer import TransformerMember
from hf_trainer.selection.ensemble import EnsembleSpec
from hf_trainer.serving.inference import Ensemble
from hf_trainer.training.modeling import build_wordpiece_tokenizer, set_label_config

from .common import repeated

logger = logging.getLogger("hf_trainer.benchmark")
MEMORY_PROBE_COMMENTS = 256  # comments each memory probe scores


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.warning('Item 6 skipped: ONNX Runtime is not installed (pip install -e ".[onnx]")')
        return False
    return True


def run(splits, args) -> dict:
    base = base_inference(splits, args.base_comments)
    result = {
        "inference_base": base,
        "inference_base_torch_fp32_per_s": base["torch_fp32_per_s"],
        "inference_base_onnx_fp32_per_s": base["onnx_fp32_per_s"],
        "inference_base_onnx_int8_per_s": base["onnx_int8_per_s"],
        "onnx_int8_speedup": base["onnx_int8_per_s"] / base["torch_fp32_per_s"],
        # Weight sizes (the ONNX files against the torch parameters), not process memory.
        "onnx_int8_weights_ratio": base["onnx_int8_bytes"] / base["torch_fp32_bytes"],
    }
    if "torch_fp32_peak_rss_bytes" in base and "onnx_int8_peak_rss_bytes" in base:
        result["onnx_int8_memory_ratio"] = (
            base["onnx_int8_peak_rss_bytes"] / base["torch_fp32_peak_rss_bytes"]
        )
    if "torch_fp16_cuda_per_s" in base:
        result["inference_base_torch_fp16_cuda_per_s"] = base["torch_fp16_cuda_per_s"]
    return result


def rows(result: dict) -> list[tuple[str, str]]:
    base = result["inference_base"]
    out = [(
        "base-size member, comments/s: torch fp32 / ONNX fp32 / ONNX int8",
        f"{base['torch_fp32_per_s']:.0f} / {base['onnx_fp32_per_s']:.0f} / {base['onnx_int8_per_s']:.0f} "
        f"(int8 {result['onnx_int8_speedup']:.2f}x; weights {base['onnx_int8_bytes'] / 2**20:.0f} MB vs "
        f"{base['torch_fp32_bytes'] / 2**20:.0f} MB)",
    )]  # fmt: skip
    if "onnx_int8_memory_ratio" in result:

        def megabytes(key: str) -> str:
            return " / ".join(
                f"{base[f'{kind}_{key}'] / 2**20:.0f}" if f"{kind}_{key}" in base else "?"
                for kind in ("torch_fp32", "onnx_fp32", "onnx_int8")
            )

        out.append((
            "base-size member, peak memory it adds: torch fp32 / ONNX fp32 / ONNX int8",
            f"{megabytes('peak_rss_bytes')} MB (int8 / torch fp32 {result['onnx_int8_memory_ratio']:.2f}); "
            f"loading alone {megabytes('load_peak_rss_bytes')} MB",
        ))  # fmt: skip
    return out


def one_member_spec(schema: LabelSchema) -> EnsembleSpec:
    """Item 6's ensemble: the one base-size member alone, thresholds 0.5."""
    return EnsembleSpec(labels=list(schema.names), members=[{"name": "base", "path": ".", "weight": 1.0}],
                        objective="none", objective_value=0.0, thresholds=[0.5] * schema.num_labels)  # fmt: skip


def _status_kib(field: str) -> int:
    """A `VmRSS` / `VmHWM` figure of /proc/self/status (Linux), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _member_memory_probe(kind: str, folder: str, texts: list[str], queue) -> None:
    """Runs in a fresh process that has already imported torch, transformers and ONNX Runtime: the
    peak resident memory that loading one member adds, and the peak once it has also scored `texts`
    at batch 64 (bytes), or None where the kernel cannot restart the peak count."""
    import onnxruntime  # noqa: F401  (imported before the baseline, as torch is)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hf_trainer.members.onnx import FILES, OnnxMember

    schema = LabelSchema()
    spec = one_member_spec(schema)
    before = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from the current RSS
    except OSError:
        queue.put(None)
        return
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if kind == "torch_fp32":
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        member = TransformerMember(model, tokenizer, device="cpu")
    else:
        member = OnnxMember(Path(folder) / FILES[kind.removeprefix("onnx_")], tokenizer, schema.names)
    loaded = (_status_kib("VmHWM") - before) * 1024
    Ensemble([member], spec).predict_proba(texts, batch_size=64)
    queue.put({"load_peak": loaded, "peak": (_status_kib("VmHWM") - before) * 1024})


def member_memory(kind: str, folder: Path, texts: list[str]) -> dict | None:
    """{"load_peak", "peak"}: bytes of resident memory one member adds (see _member_memory_probe);
    None off Linux, or when the probe could not run (logged: the other figures stand)."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    import multiprocessing
    import queue as queue_module

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    probe = context.Process(target=_member_memory_probe, args=(kind, str(folder), texts, results))
    probe.start()
    try:
        return results.get(timeout=600)
    except queue_module.Empty:
        logger.warning("Memory probe for %s gave no figure (exit code %s)", kind, probe.exitcode)
        return None
    finally:
        probe.join(timeout=60)
        if probe.is_alive():
            probe.kill()


def base_model(splits, schema: LabelSchema):
    """A random-init model with KcELECTRA-base's shapes and a WordPiece tokenizer of the train texts."""
    from transformers import ElectraConfig, ElectraForSequenceClassification

    config = ElectraConfig(vocab_size=54_000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, max_position_embeddings=512)  # fmt: skip
    set_label_config(config, schema)
    torch.manual_seed(0)
    model = ElectraForSequenceClassification(config).eval()
    return model, build_wordpiece_tokenizer(splits["train"]["text"], vocab_size=30_000)


def comments_per_s(member, texts: list[str], schema: LabelSchema) -> tuple[float, np.ndarray]:
    """Comments/s of one member alone on `texts` at batch 64 (after a one-batch warm-up), and its scores."""
    ensemble = Ensemble([member], one_member_spec(schema))
    ensemble.predict_proba(texts[:64], batch_size=64)  # warm-up
    start = time.perf_counter()
    probs = ensemble.predict_proba(texts, batch_size=64)
    return len(texts) / (time.perf_counter() - start), probs


def backend_rates(model, tokenizer, texts: list[str], work: Path, schema: LabelSchema) -> dict:
    """Comments/s of one member on `texts` (batch 64) with torch fp32 and its ONNX fp32 and int8
    exports (written to `work`), each copy's size and its largest probability difference from torch."""
    from hf_trainer.members.onnx import OnnxMember
    from hf_trainer.serving.export import export_member

    result = {
        "comments": len(texts),
        "batch_size": 64,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    result["torch_fp32_per_s"], reference = comments_per_s(
        TransformerMember(model, tokenizer, device="cpu"), texts, schema
    )
    files = export_member(model, tokenizer, work, "int8")
    for variant, name in files.items():
        per_s, probs = comments_per_s(OnnxMember(work / name, tokenizer, schema.names), texts, schema)
        result[f"onnx_{variant}_per_s"] = per_s
        result[f"onnx_{variant}_max_abs_prob_diff"] = float(np.abs(probs - reference).max())
        result[f"onnx_{variant}_decisions_agree_at_0.5"] = float(
            np.mean((probs >= 0.5) == (reference >= 0.5))
        )
        result[f"onnx_{variant}_bytes"] = (work / name).stat().st_size
    result["torch_fp32_bytes"] = sum(p.numel() * p.element_size() for p in model.parameters())
    return result


def base_inference(splits, comments: int) -> dict:
    """Item 6: one base-size member served by each backend on the same real comments (batch 64)."""
    schema = LabelSchema()
    texts = repeated(splits["test"]["text"], comments)
    model, tokenizer = base_model(splits, schema)
    work = Path(tempfile.mkdtemp(prefix="bench_onnx_"))
    try:
        result = backend_rates(model, tokenizer, texts, work, schema)
        model.save_pretrained(work)  # safetensors, for the probe of the torch copy
        tokenizer.save_pretrained(work)
        for kind in ("torch_fp32", "onnx_fp32", "onnx_int8"):
            memory = member_memory(kind, work, texts[:MEMORY_PROBE_COMMENTS])
            if memory is not None:
                result[f"{kind}_load_peak_rss_bytes"] = memory["load_peak"]
                result[f"{kind}_peak_rss_bytes"] = memory["peak"]
        if torch.cuda.is_available():
            cuda_member = TransformerMember(model, tokenizer, device="cuda")
            result["torch_fp16_cuda_per_s"], _ = comments_per_s(cuda_member, texts, schema)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
