"""The end-of-run summary of run_all.sh: member scores, weights, test scores, where the report is."""

from __future__ import annotations

import logging
from pathlib import Path

from ..evaluation.test_once import METRICS_FILE, REPORT_DIR, REPORT_FILE, read_history
from ..selection.mention_gate import UNGATED_TUNED
from ..training.presets import member_name
from ..utils import io
from .runner import duration
from .stages import STOP_POINTS, PipelineOptions

logger = logging.getLogger(__name__)


def build_summary(options: PipelineOptions, stage_seconds: dict[str, float], seconds: float) -> dict:
    """What the run has made; with --stop_after, what it has made so far (None where a stage did not run)."""
    out = Path(options.output_dir)

    def reached(stage: str) -> bool:
        return options.stop_after is None or STOP_POINTS.index(options.stop_after) >= STOP_POINTS.index(stage)

    models = {}
    for model in options.models if reached("train") else []:
        metrics = io.read_json(out / member_name(model) / "metrics.json")
        models[member_name(model)] = {
            "best_val_f1_macro": metrics["val"]["f1_macro"],
            # None for a member trained without epochs (the char n-gram member: one fit per C)
            "best_epoch": metrics.get("best_epoch"),
            "epochs_trained": metrics.get("epochs_trained"),
            "early_stopped": metrics.get("early_stopped", False),
        }
    summary = {
        "demo": options.demo,
        "cpu": options.cpu,
        "data": options.data_dir or ("demo sample" if options.demo else "hub:smilegate-ai/kor_unsmile"),
        "models": models,
        "stopped_after": options.stop_after,
        "weights": None,
        "mention_gate": None,
        "val_f1_macro_tuned": None,
        "test_f1_macro_at_0.5": None,
        "test_f1_macro_tuned": None,
        "test_f1_micro_tuned": None,
        "test_f1_macro_tuned_ci": None,
        "threshold_choice": None,
        "test_evaluations": read_history(out / "ensemble")["count"],
        "report": None,
        "stage_seconds": stage_seconds,
        "total_seconds": round(seconds, 1),
    }
    if reached("ensemble"):
        spec = io.read_json(out / "ensemble" / "ensemble.json")
        summary["weights"] = {m["name"]: m["weight"] for m in spec["members"]}
        if spec.get("gate"):
            summary["mention_gate"] = {"member": spec["gate"]["member"], "strength": spec["gate"]["strength"]}
        summary["val_f1_macro_tuned"] = (spec.get("threshold_report") or {}).get("val_f1_macro_tuned")
    if reached("evaluate_test"):
        test = io.read_json(out / "ensemble" / REPORT_DIR / METRICS_FILE)
        summary |= {
            "test_f1_macro_at_0.5": test["systems"]["ensemble @0.5"]["f1_macro"],
            "test_f1_macro_tuned": test["systems"]["ensemble tuned"]["f1_macro"],
            "test_f1_micro_tuned": test["systems"]["ensemble tuned"]["f1_micro"],
            "test_f1_macro_tuned_ci": test.get("bootstrap_ci", {})
            .get("systems", {})
            .get("ensemble tuned", {})
            .get("f1_macro"),
            "threshold_choice": ((test.get("val_cv") or {}).get("threshold_choice") or {}).get(
                "chosen", "tuned"
            ),
            "report": str(out / "ensemble" / REPORT_DIR / REPORT_FILE),
        }
        if UNGATED_TUNED in test["systems"]:
            summary["test_f1_macro_tuned_without_gate"] = test["systems"][UNGATED_TUNED]["f1_macro"]
    return summary


def log_summary(summary: dict) -> None:
    lines = ["", "=" * 72, "Summary"]
    if summary["demo"]:
        lines.append(
            "DEMO RUN: tiny randomly initialised transformers (and the char n-gram CPU member); with the shipped"
        )
        lines.append(
            "synthetic sample unless --data_dir was given. The numbers prove the pipeline, not the design's models."
        )
    lines.append(f"data: {summary['data']}")
    for name, m in summary["models"].items():
        if m["best_epoch"] is None:
            lines.append(f"  {name:<16} val macro F1 {m['best_val_f1_macro']:.4f} (no epochs: one fit)")
            continue
        lines.append(
            f"  {name:<16} best val macro F1 {m['best_val_f1_macro']:.4f} at epoch {m['best_epoch']:g} "
            f"({m['epochs_trained']:g} epochs{', early stop' if m['early_stopped'] else ''})"
        )
    if summary.get("weights") is not None:
        lines.append("ensemble weights: " + ", ".join(f"{k} {v:.3f}" for k, v in summary["weights"].items()))
    if summary.get("mention_gate"):
        gate = summary["mention_gate"]
        without = summary.get("test_f1_macro_tuned_without_gate")
        lines.append(
            f"mention gate: {gate['member']}, strength {gate['strength']:g}"
            + (f" (test macro F1 without it: {without:.4f})" if without is not None else "")
        )
    if summary.get("val_f1_macro_tuned") is not None and summary.get("test_f1_macro_tuned") is None:
        lines.append(f"val macro F1 with the thresholds chosen on val: {summary['val_f1_macro_tuned']:.4f}")
    if summary.get("test_f1_macro_tuned") is not None:
        ci = summary.get("test_f1_macro_tuned_ci")
        lines.append(
            f"test macro F1: {summary['test_f1_macro_at_0.5']:.4f} at 0.5, {summary['test_f1_macro_tuned']:.4f} "
            f"with the thresholds chosen on val ({summary['threshold_choice']}"
            + (f"; 95% interval {ci[0]:.4f}-{ci[1]:.4f}" if ci else "")
            + f"), micro {summary['test_f1_micro_tuned']:.4f}; test evaluations of this folder: "
            f"{summary['test_evaluations']}"
        )
        lines.append(f"report and plots: {summary['report']} (and the PNGs beside it)")
    if summary.get("stopped_after"):
        lines.append(
            f"stopped after {summary['stopped_after']} (--stop_after); the same command without it goes on "
            "from there"
        )
    lines.append(
        f"total time: {duration(summary['total_seconds'])} (stages run now: {len(summary['stage_seconds'])})"
    )
    lines.append("=" * 72)
    logger.info("%s", "\n".join(lines))
