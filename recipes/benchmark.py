"""Benchmarks: prints a table and writes JSON. Not a test: numbers depend on the machine.

    python recipes/benchmark.py --data_dir ../shared/data/unsmile --json bench.json          # CPU items 1-4
    python recipes/benchmark.py --data_dir /path/to/unsmile --json bench.json --gpu          # + item 5 (GPU)

1. training throughput of one tiny model: the design's fixed padding to 128 vs per-batch padding
   with length grouping (samples/s, real tokens/s);
2. data preparation of the whole data set (load, validate, split, AEDA, tokenise), cold and cached;
3. ensemble weights + thresholds for three members on the validation split;
4. inference comments/s of a three-member (tiny) ensemble; the char n-gram member's whole fit
   (its C grid) on the original train rows and its inference comments/s;
   the thresholds stage (with its cross-validation) and the whole one-shot test evaluation
   (recipes/evaluate_test.py as a user runs it: report, intervals, plots, errors.tsv) of a
   three-member ensemble with synthetic member scores on the real val/test rows;
6. serving one base-size member (random init with KcELECTRA-base's shapes: 12 layers, hidden 768,
   vocab 54,000; built from its config, no download) at batch 64 on real comments: comments/s with
   torch fp32, ONNX Runtime fp32 and int8 on the CPU (needs `pip install -e ".[onnx]"`), torch fp16
   autocast on CUDA when present, the size of each copy's weights, and the peak resident memory that
   loading each copy and scoring 256 comments adds to a fresh process (Linux);
5. (--gpu) seconds per epoch of base-size ELECTRA and RoBERTa (random init, real shapes) at batch 16,
   fixed-128 vs ours, fp16 and bf16, and the projected wall time of the three-model pipeline.
Without --data_dir the shipped synthetic demo sample is used (small: the figures are then rough).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from transformers import DataCollatorWithPadding, set_seed

from hf_trainer import io
from hf_trainer.char_ngram import C_GRID, CharNgramClassifier
from hf_trainer.configs import DataArguments, RecipeTrainingArguments
from hf_trainer.data import save_prepared_splits, tokenize_splits
from hf_trainer.ensemble import EnsembleSpec, combine, optimise_weights, save_predictions
from hf_trainer.errors import InvalidArgument, run_recipe
from hf_trainer.inference import Ensemble
from hf_trainer.labels import LabelSchema
from hf_trainer.log import setup_logging
from hf_trainer.modeling import build_wordpiece_tokenizer, load_model_and_tokenizer, set_label_config
from hf_trainer.preparation import prepare_splits
from hf_trainer.thresholds import tune_thresholds
from hf_trainer.trainer import MultiLabelTrainer, compute_pos_weight

logger = logging.getLogger("hf_trainer.benchmark")
DEMO = Path(__file__).resolve().parent / "demo_data"
MEMORY_PROBE_COMMENTS = 256  # comments each memory probe scores (item 6)


def demo_data_args() -> DataArguments:
    return DataArguments(train_file=str(DEMO / "demo_train.tsv"), test_file=str(DEMO / "demo_test.tsv"))


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def tiny_builder(preset: str, splits):
    def build():
        return load_model_and_tokenizer(
            schema=LabelSchema(), model=preset, train_texts=splits["train"]["text"]
        )

    return build


def throughput(splits, build, fixed_padding: bool, steps: int, device_kwargs: dict) -> dict:
    """Train `steps` steps of batch 16 and report samples/s and real (non-pad) tokens/s."""
    set_seed(0)
    model, tokenizer, _ = build()
    tokenized = tokenize_splits(splits, tokenizer, 128)
    train = tokenized["train"]
    collator = (
        DataCollatorWithPadding(tokenizer, padding="max_length", max_length=128)
        if fixed_padding
        else DataCollatorWithPadding(
            tokenizer,
            pad_to_multiple_of=8 if device_kwargs.get("fp16") or device_kwargs.get("bf16") else None,
        )
    )
    with tempfile.TemporaryDirectory() as out:
        args = RecipeTrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=16,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            load_best_model_at_end=False,
            warmup_steps=0,
            disable_tqdm=True,
            train_sampling_strategy="random" if fixed_padding else "group_by_length",
            seed=0,
            **device_kwargs,
        )
        trainer = MultiLabelTrainer(
            model=model,
            args=args,
            train_dataset=train,
            processing_class=tokenizer,
            data_collator=collator,
            pos_weight=compute_pos_weight(np.asarray(splits["train"]["labels"])),
        )
        # Warm up (allocations, kernels), then time.
        trainer.args.max_steps = max(3, steps // 10)
        trainer.train()
        trainer.args.max_steps = steps
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.train()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    samples = steps * 16
    mean_tokens = float(np.mean(train["length"]))
    return {
        "seconds": seconds,
        "samples_per_s": samples / seconds,
        "real_tokens_per_s": samples * mean_tokens / seconds,
        "seconds_per_epoch": len(train) / (samples / seconds),
        "train_rows": len(train),
        "mean_tokens": mean_tokens,
    }


def data_prep(data_args: DataArguments) -> dict:
    """Cold: read, validate, split, AEDA, save, tokenise. Cached: read the saved splits, tokenise (cache hit)."""
    work = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        start = time.perf_counter()
        splits, report = prepare_splits(data_args, seed=42)
        save_prepared_splits(splits, report, list(LabelSchema().names), work)
        prepared = DataArguments(prepared_data_dir=str(work))
        loaded, _ = prepare_splits(prepared, seed=42)
        tokenizer = build_wordpiece_tokenizer(loaded["train"]["text"])
        tokenize_splits(loaded, tokenizer, 128)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        loaded, _ = prepare_splits(prepared, seed=42)
        tokenize_splits(loaded, tokenizer, 128)
        cached = time.perf_counter() - start
        return {"cold_s": cold, "cached_s": cached, "rows": report["rows"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensemble_timing(splits) -> dict:
    """Weights + thresholds for three members on the real validation labels (member scores synthetic)."""
    labels = np.asarray(splits["validation"]["labels"], dtype=np.float32)
    rng = np.random.default_rng(0)
    members = [
        np.clip(labels * rng.uniform(0.3, 0.6) + rng.random(labels.shape) * 0.6, 0, 1) for _ in range(3)
    ]
    start = time.perf_counter()
    weights, _ = optimise_weights(members, labels)
    tune_thresholds(combine(members, weights), labels)
    return {"seconds": time.perf_counter() - start, "val_rows": len(labels), "members": 3}


def inference(splits, comments: int) -> dict:
    schema = LabelSchema()
    models, tokenizers = [], []
    for preset in ("tiny-electra", "tiny-bert", "tiny-roberta"):
        model, tokenizer, _ = load_model_and_tokenizer(
            schema=schema, model=preset, train_texts=splits["train"]["text"]
        )
        models.append(model)
        tokenizers.append(tokenizer)
    spec = EnsembleSpec(
        labels=list(schema.names),
        members=[{"name": f"m{i}", "path": ".", "weight": w} for i, w in enumerate((0.4, 0.3, 0.3))],
        objective="none",
        objective_value=0.0,
        thresholds=[0.5] * schema.num_labels,
    )
    ensemble = Ensemble(models, tokenizers, spec)
    test_texts = list(splits["test"]["text"])
    texts = (test_texts * (comments // len(test_texts) + 1))[:comments]
    ensemble.predict(texts[:256])  # warm-up
    start = time.perf_counter()
    ensemble.predict(texts, batch_size=64)
    seconds = time.perf_counter() - start
    return {
        "comments": comments,
        "seconds": seconds,
        "comments_per_s": comments / seconds,
        "device": str(ensemble.device),
    }


def char_ngram_timing(splits, comments: int) -> dict:
    """The char n-gram member: a whole fit (its C grid) on the original train rows, and inference."""
    train = splits["train"].filter(lambda row: not row["augmented"])
    names = LabelSchema().names
    start = time.perf_counter()
    model, search = CharNgramClassifier.fit(
        train["text"],
        np.asarray(train["labels"]),
        names,
        splits["validation"]["text"],
        np.asarray(splits["validation"]["labels"]),
    )
    train_s = time.perf_counter() - start
    test_texts = list(splits["test"]["text"])
    texts = (test_texts * (comments // len(test_texts) + 1))[:comments]
    start = time.perf_counter()
    model.predict_proba(texts)
    per_s = comments / (time.perf_counter() - start)
    return {"train_rows": len(train), "train_s": train_s, "c": model.c, "inference_comments_per_s": per_s}


def test_evaluation_timing(splits) -> dict:
    """thresholds.py and evaluate_test.py, each run as a user runs it (a fresh Python process), on a
    three-member ensemble whose member scores are synthetic but whose rows, ids and texts are real."""
    schema = LabelSchema()
    work = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    rng = np.random.default_rng(0)
    try:
        save_prepared_splits(
            splits, {"rows": {k: len(v) for k, v in splits.items()}}, list(schema.names), work / "data"
        )
        members = []
        for i in range(3):
            member = work / f"member{i}"
            strength = rng.uniform(0.3, 0.6)
            for split, name in (("validation", "val"), ("test", "test")):
                labels = np.asarray(splits[split]["labels"], dtype=np.float32)
                probs = np.clip(labels * strength + rng.random(labels.shape) * 0.6, 0, 1)
                save_predictions(member, name, splits[split]["id"], probs, labels, schema)
            io.write_json(member / "run_config.json", {"data": {"prepared_data_dir": str(work / "data")}})
            members.append(str(member))
        recipes = Path(__file__).resolve().parent
        ensemble = str(work / "ensemble")
        seconds = {}
        for name, args in (
            ("ensemble", ["ensemble.py", "--members", *members, "--output_dir", ensemble]),
            ("thresholds", ["thresholds.py", "--ensemble_dir", ensemble]),
            ("test_evaluation", ["evaluate_test.py", "--ensemble_dir", ensemble]),
        ):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, str(recipes / args[0]), *args[1:]], check=True, capture_output=True
            )
            seconds[name] = time.perf_counter() - start
        metrics = io.read_json(work / "ensemble" / "report" / "test_metrics.json")
        return {
            "thresholds_s": seconds["thresholds"],
            "test_evaluation_s": seconds["test_evaluation"],
            "inside": metrics["seconds"],  # as measured by the recipe: scoring, and everything
            "val_rows": len(splits["validation"]),
            "test_rows": metrics["test_rows"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _one_member_spec(schema: LabelSchema) -> EnsembleSpec:
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

    from hf_trainer.onnx_backend import FILES, OnnxClassifier

    schema = LabelSchema()
    spec = _one_member_spec(schema)
    before = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from the current RSS
    except OSError:
        queue.put(None)
        return
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if kind == "torch_fp32":
        member = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    else:
        member = OnnxClassifier(Path(folder) / FILES[kind.removeprefix("onnx_")], schema.names)
    loaded = (_status_kib("VmHWM") - before) * 1024
    Ensemble([member], [tokenizer], spec, device="cpu").predict_proba(texts, batch_size=64)
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


def base_inference(splits, comments: int) -> dict:
    """Item 6: one base-size member served by each backend on the same real comments (batch 64)."""
    from transformers import ElectraConfig, ElectraForSequenceClassification

    from hf_trainer.onnx_backend import OnnxClassifier, export_member

    schema = LabelSchema()
    texts = list(splits["test"]["text"])
    texts = (texts * (comments // len(texts) + 1))[:comments]
    config = ElectraConfig(vocab_size=54_000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, max_position_embeddings=512)  # fmt: skip
    set_label_config(config, schema)
    torch.manual_seed(0)
    model = ElectraForSequenceClassification(config).eval()
    tokenizer = build_wordpiece_tokenizer(splits["train"]["text"], vocab_size=30_000)
    spec = _one_member_spec(schema)

    def rate(member, device: str = "cpu") -> tuple[float, np.ndarray]:
        ensemble = Ensemble([member], [tokenizer], spec, device=device)
        ensemble.predict_proba(texts[:64], batch_size=64)  # warm-up
        start = time.perf_counter()
        probs = ensemble.predict_proba(texts, batch_size=64)
        return comments / (time.perf_counter() - start), probs

    work = Path(tempfile.mkdtemp(prefix="bench_onnx_"))
    try:
        result = {
            "comments": comments,
            "batch_size": 64,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        result["torch_fp32_per_s"], reference = rate(model)
        files = export_member(model, tokenizer, work, "int8")
        for variant, name in files.items():
            per_s, probs = rate(OnnxClassifier(work / name, schema.names))
            result[f"onnx_{variant}_per_s"] = per_s
            result[f"onnx_{variant}_max_abs_prob_diff"] = float(np.abs(probs - reference).max())
            result[f"onnx_{variant}_bytes"] = (work / name).stat().st_size
        result["torch_fp32_bytes"] = sum(p.numel() * p.element_size() for p in model.parameters())
        model.save_pretrained(work)  # safetensors, for the probe of the torch copy
        tokenizer.save_pretrained(work)
        for kind in ("torch_fp32", "onnx_fp32", "onnx_int8"):
            memory = member_memory(kind, work, texts[:MEMORY_PROBE_COMMENTS])
            if memory is not None:
                result[f"{kind}_load_peak_rss_bytes"] = memory["load_peak"]
                result[f"{kind}_peak_rss_bytes"] = memory["peak"]
        if torch.cuda.is_available():
            result["torch_fp16_cuda_per_s"], _ = rate(model, device="cuda")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def gpu_items(splits, steps: int) -> dict:
    """Base-size shapes (random init) at batch 16 on the GPU, fixed-128 vs ours, fp16 and bf16."""
    from transformers import AutoModelForSequenceClassification, ElectraConfig, RobertaConfig

    schema = LabelSchema()
    tokenizer = build_wordpiece_tokenizer(splits["train"]["text"], vocab_size=32000)
    results = {}
    configs = {
        "electra-base": ElectraConfig(
            vocab_size=len(tokenizer),
            embedding_size=768,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
        ),
        "roberta-base": RobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=514,
            pad_token_id=0,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
        ),
    }
    for name, config in configs.items():
        set_label_config(config, schema)
        config._attn_implementation = "sdpa"

        def build(config=config):
            return AutoModelForSequenceClassification.from_config(config), tokenizer, None

        for precision in ("fp16", "bf16"):
            for fixed in (True, False):
                key = f"{name}/{precision}/{'fixed128' if fixed else 'ours'}"
                results[key] = throughput(splits, build, fixed, steps, {"precision": precision})
                logger.warning("%s: %.1f s/epoch", key, results[key]["seconds_per_epoch"])
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", default=None, help="UnSmile folder (default: the demo sample)")
    parser.add_argument("--json", default="benchmark.json", help="Where to write the results")
    parser.add_argument("--steps", type=int, default=120, help="Timed training steps per configuration")
    parser.add_argument("--comments", type=int, default=4000, help="Comments for the inference item")
    parser.add_argument("--gpu", action="store_true", help="Also run item 5 (needs CUDA)")
    parser.add_argument(
        "--base_comments", type=int, default=1024, help="Comments for item 6 (a base-size member per backend)"
    )
    parser.add_argument("--gpu_steps", type=int, default=200)
    args = parser.parse_args(argv)
    if min(args.steps, args.comments, args.gpu_steps, args.base_comments) < 1:
        raise InvalidArgument("--steps, --comments, --gpu_steps and --base_comments must be at least 1")
    setup_logging(logging.WARNING)
    data_args = DataArguments(data_dir=args.data_dir) if args.data_dir else demo_data_args()
    splits, _ = prepare_splits(data_args, seed=42)

    result: dict = {
        "machine": machine(),
        "data": args.data_dir or "demo sample",
        "command": " ".join(sys.argv),
    }
    fixed = throughput(splits, tiny_builder("tiny-electra", splits), True, args.steps, {})
    ours = throughput(splits, tiny_builder("tiny-electra", splits), False, args.steps, {})
    result["training_fixed128"], result["training_ours"] = fixed, ours
    result["padding_speedup"] = ours["samples_per_s"] / fixed["samples_per_s"]
    prep = data_prep(data_args)
    result["data_prep_cold_s"], result["data_prep_cached_s"] = prep["cold_s"], prep["cached_s"]
    result["ensemble_thresholds_s"] = ensemble_timing(splits)["seconds"]
    result["inference"] = inference(splits, args.comments)
    result["inference_comments_per_s"] = result["inference"]["comments_per_s"]
    result["char_ngram"] = char_ngram_timing(splits, args.comments)
    result["char_ngram_train_s"] = result["char_ngram"]["train_s"]
    result["char_ngram_inference_per_s"] = result["char_ngram"]["inference_comments_per_s"]
    result["evaluation"] = test_evaluation_timing(splits)
    result["thresholds_s"] = result["evaluation"]["thresholds_s"]
    result["test_evaluation_s"] = result["evaluation"]["test_evaluation_s"]
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.warning('Item 6 skipped: ONNX Runtime is not installed (pip install -e ".[onnx]")')
    else:
        base = result["inference_base"] = base_inference(splits, args.base_comments)
        result["inference_base_torch_fp32_per_s"] = base["torch_fp32_per_s"]
        result["inference_base_onnx_fp32_per_s"] = base["onnx_fp32_per_s"]
        result["inference_base_onnx_int8_per_s"] = base["onnx_int8_per_s"]
        result["onnx_int8_speedup"] = base["onnx_int8_per_s"] / base["torch_fp32_per_s"]
        # Weight sizes (the ONNX files against the torch parameters), not process memory.
        result["onnx_int8_weights_ratio"] = base["onnx_int8_bytes"] / base["torch_fp32_bytes"]
        if "torch_fp32_peak_rss_bytes" in base and "onnx_int8_peak_rss_bytes" in base:
            result["onnx_int8_memory_ratio"] = (
                base["onnx_int8_peak_rss_bytes"] / base["torch_fp32_peak_rss_bytes"]
            )
        if "torch_fp16_cuda_per_s" in base:
            result["inference_base_torch_fp16_cuda_per_s"] = base["torch_fp16_cuda_per_s"]
    # The analysis this recipe added to the evaluation (intervals, CV table, calibration, errors,
    # the new plots) is inside `total - scoring`, together with the plots that were there before.
    result["test_evaluation_analysis_s"] = (
        result["evaluation"]["inside"]["total"] - result["evaluation"]["inside"]["scoring"]
    )
    if args.gpu:
        if not torch.cuda.is_available():
            raise InvalidArgument("--gpu: no CUDA device here; run the benchmark without --gpu")
        result["gpu"] = gpu_items(splits, args.gpu_steps)
        # The design's pipeline: 3 models x 80 epochs (upper bound, before early stopping), ours with fp16.
        per_epoch = [
            result["gpu"][f"{m}/fp16/ours"]["seconds_per_epoch"] for m in ("electra-base", "roberta-base")
        ]
        per_epoch_fixed = [
            result["gpu"][f"{m}/fp16/fixed128"]["seconds_per_epoch"] for m in ("electra-base", "roberta-base")
        ]
        result["projected_pipeline_hours_80_epochs_ours"] = 80 * (per_epoch[0] + 2 * per_epoch[1]) / 3600
        result["projected_pipeline_hours_80_epochs_fixed128"] = (
            80 * (per_epoch_fixed[0] + 2 * per_epoch_fixed[1]) / 3600
        )
    io.write_json(args.json, result)

    rows = [
        (
            "training, fixed padding to 128",
            f"{fixed['samples_per_s']:.0f} samples/s, {fixed['real_tokens_per_s']:.0f} real tokens/s",
        ),
        (
            "training, per-batch padding + length groups",
            f"{ours['samples_per_s']:.0f} samples/s, {ours['real_tokens_per_s']:.0f} real tokens/s",
        ),
        ("padding speed-up", f"{result['padding_speedup']:.2f}x"),
        ("data preparation, cold", f"{prep['cold_s']:.2f} s ({prep['rows']})"),
        ("data preparation, cached", f"{prep['cached_s']:.2f} s"),
        ("ensemble weights + thresholds (3 members)", f"{result['ensemble_thresholds_s']:.3f} s"),
        ("inference, 3-member tiny ensemble", f"{result['inference_comments_per_s']:.0f} comments/s"),
        (
            f"char-ngram member: fit ({len(C_GRID)} values of C) / inference",
            f"{result['char_ngram_train_s']:.1f} s on {result['char_ngram']['train_rows']} rows / "
            f"{result['char_ngram_inference_per_s']:.0f} comments/s",
        ),
        ("thresholds stage, with 5-fold cross-validation (3 members)", f"{result['thresholds_s']:.1f} s"),
        (
            "one-shot test evaluation (3 members), analysis and plots in it",
            f"{result['test_evaluation_s']:.1f} s, {result['test_evaluation_analysis_s']:.1f} s "
            f"({result['evaluation']['test_rows']} test rows)",
        ),
    ]
    if "inference_base" in result:
        base = result["inference_base"]
        rows.append(
            (
                "base-size member, comments/s: torch fp32 / ONNX fp32 / ONNX int8",
                f"{base['torch_fp32_per_s']:.0f} / {base['onnx_fp32_per_s']:.0f} / {base['onnx_int8_per_s']:.0f} "
                f"(int8 {result['onnx_int8_speedup']:.2f}x; weights {base['onnx_int8_bytes'] / 2**20:.0f} MB vs "
                f"{base['torch_fp32_bytes'] / 2**20:.0f} MB)",
            )
        )
        if "onnx_int8_memory_ratio" in result:

            def megabytes(key: str) -> str:
                return " / ".join(
                    f"{base[f'{kind}_{key}'] / 2**20:.0f}" if f"{kind}_{key}" in base else "?"
                    for kind in ("torch_fp32", "onnx_fp32", "onnx_int8")
                )

            rows.append(
                (
                    "base-size member, peak memory it adds: torch fp32 / ONNX fp32 / ONNX int8",
                    f"{megabytes('peak_rss_bytes')} MB (int8 / torch fp32 {result['onnx_int8_memory_ratio']:.2f}); "
                    f"loading alone {megabytes('load_peak_rss_bytes')} MB",
                )
            )
    for key, value in result.get("gpu", {}).items():
        rows.append(
            (
                f"GPU {key}",
                f"{value['seconds_per_epoch']:.1f} s/epoch, {value['samples_per_s']:.0f} samples/s",
            )
        )
    if "projected_pipeline_hours_80_epochs_ours" in result:
        rows.append(
            (
                "projected pipeline at 80 epochs (ours / fixed-128)",
                f"{result['projected_pipeline_hours_80_epochs_ours']:.2f} h / "
                f"{result['projected_pipeline_hours_80_epochs_fixed128']:.2f} h",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"machine: {result['machine']}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(run_recipe(main))
