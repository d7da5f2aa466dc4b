"""The test report: a Markdown page and PNG plots a person would rather look at than read."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import io
from .labels import UNSMILE_LABELS
from .thresholds import f1_curve

logger = logging.getLogger(__name__)

UNSMILE_VALID_ROWS = 3737  # rows of UnSmile v1.0's `valid` split, where the baseline was measured

# English glosses, used in plots when no font with Hangul glyphs is installed.
ENGLISH_GLOSSES: dict[str, str] = {
    "여성/가족": "women/family",
    "남성": "men",
    "성소수자": "LGBTQ+",
    "인종/국적": "race/nationality",
    "연령": "age",
    "지역": "region",
    "종교": "religion",
    "기타 혐오": "other hate",
    "악플/욕설": "abuse/profanity",
    "clean": "clean",
}

# The published KcBERT baseline (smilegate-ai/kor_unsmile) on UnSmile's `valid` split, our test split.
KCBERT_BASELINE: dict = {
    "name": "KcBERT baseline (published)",
    "f1_macro": 0.76,
    "f1_micro": 0.77,
    "per_label_f1": dict(
        zip(UNSMILE_LABELS, (0.76, 0.85, 0.83, 0.82, 0.83, 0.88, 0.87, 0.30, 0.67, 0.77), strict=True)
    ),
}

HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic", "UnDotum")


def classification_report_md(result: dict, title: str) -> str:
    """The per-label table in the layout of scikit-learn's classification report."""
    lines = [
        f"**{title}**",
        "",
        "| label | precision | recall | f1-score | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in result["per_label"].items():
        lines.append(
            f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |"
        )
    support = sum(row["support"] for row in result["per_label"].values())
    lines.append(f"| micro avg | | | {result['f1_micro']:.4f} | {support} |")
    lines.append(
        f"| macro avg | {result['precision_macro']:.4f} | {result['recall_macro']:.4f} | "
        f"{result['f1_macro']:.4f} | {support} |"
    )
    lines.append(f"| weighted avg | | | {result['f1_weighted']:.4f} | {support} |")
    lines.append(f"| samples avg | | | {result['f1_samples']:.4f} | {support} |")
    return "\n".join(lines)


def comparison_md(
    systems: dict[str, dict], labels: Sequence[str], baseline: dict | None = KCBERT_BASELINE
) -> str:
    """Per-label F1 of every system side by side, macro/micro F1 at the bottom."""
    names = list(systems)
    header = "| label | " + " | ".join(names) + (f" | {baseline['name']} |" if baseline else " |")
    lines = [header, "|---|" + "---:|" * (len(names) + (1 if baseline else 0))]

    def row(label: str, values: list[float], reference: float | None) -> str:
        best = max(values)
        cells = [f"**{v:.4f}**" if v == best else f"{v:.4f}" for v in values]
        tail = f" | {reference:.2f} |" if baseline else " |"
        return f"| {label} | " + " | ".join(cells) + tail

    for name in labels:
        ref = baseline["per_label_f1"].get(name) if baseline else None
        lines.append(row(name, [systems[s]["per_label"][name]["f1"] for s in names], ref))
    for key, label in (("f1_macro", "**macro F1**"), ("f1_micro", "**micro F1**")):
        lines.append(row(label, [systems[s][key] for s in names], baseline[key] if baseline else None))
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    hangul = next((name for name in HANGUL_FONTS if name in installed), None)
    if hangul:
        plt.rcParams["font.family"] = hangul
    return plt, hangul is not None


def _display_labels(labels: Sequence[str], hangul: bool) -> list[str]:
    if hangul:
        return list(labels)
    return [ENGLISH_GLOSSES.get(name, name) for name in labels]


def plot_f1_bars(path: Path, systems: dict[str, dict], labels: Sequence[str]) -> Path:
    """Grouped bars: per-label test F1 of each system."""
    plt, hangul = _pyplot()
    shown = _display_labels(labels, hangul)
    fig, ax = plt.subplots(figsize=(14, 5))
    width = 0.8 / len(systems)
    x = np.arange(len(labels))
    for i, (name, result) in enumerate(systems.items()):
        values = [result["per_label"][label]["f1"] for label in labels]
        ax.bar(
            x + (i - (len(systems) - 1) / 2) * width,
            values,
            width,
            label=f"{name} (macro {result['f1_macro']:.3f})",
        )
    ax.set_xticks(x, shown, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("test F1")
    ax.set_title("Per-label test F1")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_threshold_curves(
    path: Path, probs: np.ndarray, labels: np.ndarray, thresholds: Sequence[float], names: Sequence[str]
) -> Path:
    """Per label: validation F1 against the threshold, the chosen threshold marked."""
    plt, hangul = _pyplot()
    shown = _display_labels(names, hangul)
    cols = 5
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    grid = np.linspace(0.0, 1.0, 201)
    for j, ax in enumerate(axes.flat):
        if j >= len(names):
            ax.axis("off")
            continue
        scores, f1 = f1_curve(probs[:, j], labels[:, j])
        # F1 at a grid threshold t equals F1 at the lowest distinct score >= t.
        idx = np.searchsorted(-scores, -grid, side="right") - 1
        curve = np.where(idx >= 0, f1[np.clip(idx, 0, None)], 0.0)
        ax.plot(grid, curve, lw=1.5)
        ax.axvline(thresholds[j], color="tab:red", ls="--", lw=1)
        ax.axvline(0.5, color="grey", ls=":", lw=1)
        ax.set_title(f"{shown[j]}  t={thresholds[j]:.2f}", fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("threshold", fontsize=8)
    fig.suptitle("Validation F1 vs threshold (red: chosen, grey: 0.5)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path


def plot_training_curves(path: Path, histories: dict[str, list[dict]]) -> Path:
    """Per member: train/val loss and val macro F1 per epoch (from trainer_state.json)."""
    plt, _ = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, history in histories.items():
        train = [(e["epoch"], e["loss"]) for e in history if "loss" in e and "epoch" in e]
        evals = [(e["epoch"], e["eval_loss"], e.get("eval_f1_macro")) for e in history if "eval_loss" in e]
        if train:
            axes[0].plot(*zip(*train, strict=True), label=f"{name} train")
        if evals:
            epochs, losses, f1 = zip(*evals, strict=True)
            axes[0].plot(epochs, losses, ls="--", label=f"{name} val")
            axes[1].plot(epochs, f1, marker=".", label=name)
    axes[0].set(title="Loss per epoch", xlabel="epoch", ylabel="BCE (pos_weight)")
    axes[1].set(title="Validation macro F1 (threshold 0.5)", xlabel="epoch", ylabel="macro F1", ylim=(0, 1))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def save_figure(fig, path: Path, dpi: int) -> None:
    """Write a PNG atomically (a reader never sees half a file), then free the figure."""
    with io.atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)


def write_report_md(
    path: Path,
    *,
    systems: dict[str, dict],
    primary: str,
    labels: Sequence[str],
    meta: dict,
    plots: Sequence[str],
) -> Path:
    """report.md: summary, the classic per-label report of the final system, comparisons, plots."""
    lines = [
        "# UnSmile test report",
        "",
        f"Evaluated at {meta['evaluated_at']} on {meta['test_rows']} test rows "
        f"(UnSmile's `valid` split when trained on UnSmile).",
        "",
        f"**Test evaluations of this output folder: {meta['test_evaluation']}.** "
        + (
            "This is the first and only score of the test split: weights and thresholds were chosen on "
            "validation alone."
            if meta["test_evaluation"] == 1
            else "The test split was scored before (history below), so choices made since may have seen "
            "test scores: treat these numbers as optimistic."
        ),
        "",
        "## Summary",
        "",
        "| system | macro F1 | micro F1 | Hamming loss | exact match | LRAP | ROC AUC (macro) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in systems.items():
        lines.append(
            f"| {name} | {r['f1_macro']:.4f} | {r['f1_micro']:.4f} | {r['hamming_loss']:.4f} | "
            f"{r['exact_match']:.4f} | {r.get('lrap', float('nan')):.4f} | {r.get('roc_auc_macro', float('nan')):.4f} |"
        )
    lines.append(
        f"| {KCBERT_BASELINE['name']} | {KCBERT_BASELINE['f1_macro']:.2f} | {KCBERT_BASELINE['f1_micro']:.2f} | | | | |"
    )
    if meta["test_rows"] != UNSMILE_VALID_ROWS:
        lines += [
            "",
            f"Note: the KcBERT baseline was measured on UnSmile's `valid` split ({UNSMILE_VALID_ROWS} rows); this "
            f"test set has {meta['test_rows']} rows, so that row is not a like-for-like comparison.",
        ]
    lines += [
        "",
        "## Final system",
        "",
        classification_report_md(systems[primary], primary),
        "",
        "## Per-label F1, every system",
        "",
        comparison_md(systems, labels),
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{p}]({p})" for p in plots]
    lines += ["", "## Inputs", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| {f} | `{h[:16]}…` |" for f, h in meta["inputs"].items()]
    if meta.get("base_models"):
        lines += ["", "| member | base model | revision | commit | weights file |", "|---|---|---|---|---|"]
        for name, base in meta["base_models"].items():
            base = base or {}
            lines.append(
                f"| {name} | {base.get('source', 'built from scratch')} | {base.get('revision') or ''} | "
                f"{base.get('commit') or 'local'} | {base.get('file', '')} |"
            )
    if meta.get("data_source"):
        lines += ["", f"Data: `{json.dumps(meta['data_source'], ensure_ascii=False)}`"]
    if meta.get("history"):
        lines += [
            "",
            "## Earlier test evaluations of this output folder",
            "",
            "| when | macro F1 (tuned) | inputs |",
        ]
        lines += ["|---|---:|---|"]
        lines += [
            f"| {h['evaluated_at']} | {h.get('test_f1_macro_tuned', float('nan')):.4f} | `{h.get('inputs_digest', '')}` |"
            for h in meta["history"]
        ]
    io.write_text(path, "\n".join(lines) + "\n")
    return path
