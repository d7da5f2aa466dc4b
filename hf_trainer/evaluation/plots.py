"""The report's PNG plots, with the Korean label names when a Hangul font is available."""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..selection.calibration import reliability_bins
from ..selection.thresholds import f1_curve
from ..utils import io

logger = logging.getLogger(__name__)

HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic", "UnDotum")

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


@functools.lru_cache(maxsize=1)
def hangul_font() -> str | None:
    """A font with Hangul glyphs for the plots: an installed one (Debian's fonts-nanum, Noto CJK, ...),
    else NanumGothic from the koreanize-matplotlib wheel (a dependency), registered by file path without
    importing that package (its import changes global settings). None, with one log line, when neither."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in HANGUL_FONTS if name in installed), None)
    if found:
        return found
    spec = importlib.util.find_spec("koreanize_matplotlib")
    bundled = Path(spec.origin).parent / "fonts" / "NanumGothic.ttf" if spec and spec.origin else None
    if bundled is not None and bundled.is_file():
        font_manager.fontManager.addfont(str(bundled))
        return font_manager.FontProperties(fname=str(bundled)).get_name()
    logger.warning(
        "No font with Hangul glyphs (pip install koreanize-matplotlib, or apt install fonts-nanum): "
        "plots show English glosses of the label names"
    )
    return None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = hangul_font()
    if font:
        plt.rcParams["font.family"] = font
        plt.rcParams["axes.unicode_minus"] = False  # NanumGothic lacks the Unicode minus sign
    return plt, font is not None


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
    from matplotlib.ticker import MaxNLocator

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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs: a tick at 1.25 means nothing
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def save_figure(fig, path: Path, dpi: int) -> None:
    """Write a PNG atomically (a reader never sees half a file), then free the figure."""
    with io.atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)


def plot_reliability(
    path: Path, system: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], names: Sequence[str]
) -> Path:
    """Reliability diagram of one system: per label and for all labels pooled, the share of positives
    against the mean score in each score bin, one line per split (val, test); the diagonal is perfect."""
    from ..selection.calibration import expected_calibration_error

    plt, hangul = _pyplot()
    shown = [*_display_labels(names, hangul), "all labels"]
    cols = 4
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.9 * rows), squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= len(shown):
            ax.axis("off")
            continue
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        eces = []
        for split, (probs, labels) in splits.items():
            scores = probs if j == len(names) else probs[:, j]
            gold = labels if j == len(names) else labels[:, j]
            table = reliability_bins(scores, gold)
            filled = table["rows"] > 0
            ax.plot(
                table["mean_score"][filled], table["positive_rate"][filled], marker=".", lw=1.2, label=split
            )
            eces.append(f"{split} {expected_calibration_error(scores, gold):.3f}")
        ax.set_title(f"{shown[j]}\nECE {', '.join(eces)}", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
        if j % cols == 0:
            ax.set_ylabel("share positive", fontsize=8)
        if j == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Reliability: {system} (x: mean score in bin)")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


def plot_confusion(path: Path, rate: np.ndarray, names: Sequence[str]) -> Path:
    """Heat map of `error_analysis.label_confusion`: row = gold label, column = predicted label;
    diagonal = recall, off-diagonal = share of the row's comments wrongly flagged with the column."""
    plt, hangul = _pyplot()
    shown = _display_labels(names, hangul)
    fig, ax = plt.subplots(figsize=(8.5, 7))
    image = ax.imshow(rate, cmap="viridis", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            value = rate[i, j]
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 else "white")  # fmt: skip
    ax.set_xticks(range(len(names)), shown, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), shown, fontsize=8)
    ax.set_xlabel("predicted label (off the diagonal: not a gold label of the comment)")
    ax.set_ylabel("gold label")
    ax.set_title("Test: which labels the ensemble mixes up (share of the row's comments)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path


def plot_functional(path: Path, result: dict) -> Path:
    """Functional tests: pass rate per functionality for each system (left, with 95% intervals), and
    per target group the ensemble's false positive rate on mentions and recall on hate (right)."""
    plt, hangul = _pyplot()
    systems = result["systems"]
    functionalities = list(systems["ensemble"]["functionalities"])
    groups = list(systems["ensemble"]["groups"])
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(15, 0.32 * len(functionalities) + 2.2), gridspec_kw={"width_ratios": [3, 1.4]}
    )
    height = 0.8 / len(systems)
    y = np.arange(len(functionalities))
    for i, (name, system) in enumerate(systems.items()):
        rates = [system["functionalities"][f]["rate"] for f in functionalities]
        ci = np.array([system["functionalities"][f]["ci"] for f in functionalities])
        # Error bar lengths; rounding can put a bound a hair on the wrong side of the rate.
        low, high = np.clip(np.array(rates) - ci[:, 0], 0, None), np.clip(ci[:, 1] - np.array(rates), 0, None)
        left.barh(y + (i - (len(systems) - 1) / 2) * height, rates, height, xerr=[low, high],
                  error_kw={"lw": 0.6, "capsize": 0}, label=f"{name} (all {system['overall']['rate']:.0%})")  # fmt: skip
    left.set_yticks(y, functionalities, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.set_xlabel("pass rate (95% Wilson interval)")
    left.set_title("Functional tests: pass rate per functionality")
    left.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.04), ncol=min(len(systems), 3))
    left.grid(axis="x", alpha=0.3)
    shown = _display_labels(groups, hangul)
    g = np.arange(len(groups))
    ensemble = systems["ensemble"]["groups"]
    right.barh(g - 0.2, [ensemble[x]["false_positive_rate_on_mentions"]["rate"] or 0 for x in groups], 0.4,
               color="tab:red", label="false positives on mentions")  # fmt: skip
    right.barh(g + 0.2, [ensemble[x]["recall_on_hateful"]["rate"] or 0 for x in groups], 0.4,
               color="tab:green", label="recall on hateful cases")  # fmt: skip
    right.set_yticks(g, shown, fontsize=9)
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_title("Ensemble, per target group")
    right.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.04))
    right.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path
