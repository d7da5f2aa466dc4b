"""How the ensemble and each member hold under spelling games, on the test split.

The test comments (as the members read them: in their canonical form) are played with by each
family of `perturb` (and all of them mixed) at one rate and one seed, so the perturbed test split
is the same every time; every system keeps its thresholds (the ensemble's; each member's chosen on
validation the way the ensemble's were), and its macro F1 on the perturbed comments is compared
with the same comments as written by a paired bootstrap. Nothing is chosen on it.

It belongs to the one test evaluation: it runs only on an ensemble folder whose test split was
scored (recipes/evaluate_test.py) with exactly the inputs it reads now (the same `inputs_digest`
as the last recorded evaluation), so it adds figures to that evaluation and is not counted as
another; after any change the test evaluation has to be run (and counted) again first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..data.canonical import canonical_all
from ..data.perturb import FAMILIES, MIXED, perturb_all
from ..metrics.multilabel import binarize, macro_f1
from ..metrics.uncertainty import paired_difference, resample_counts
from ..selection.cross_validation import member_thresholds
from ..selection.ensemble import EnsembleSpec
from ..training.predictions import load_aligned
from ..utils import io
from ..utils.errors import UserError
from .report import put_section
from .test_once import METRICS_FILE, REPORT_DIR, REPORT_FILE, evaluation_inputs, read_history

logger = logging.getLogger(__name__)

RATE = 0.3
SEED = 42
ROBUSTNESS_FILE = "robustness.json"


class NotEvaluated(UserError):
    """The folder's test split has not been scored with these inputs: nothing to add figures to."""


def evaluated_inputs(folder: Path, spec: EnsembleSpec) -> dict[str, str]:
    """The inputs of the last test evaluation, checked against the files as they are now."""
    history = read_history(folder)
    if not history["count"] or not (folder / REPORT_DIR / METRICS_FILE).is_file():
        raise NotEvaluated(
            f"{folder}: the test split has not been scored yet; run recipes/evaluate_test.py first (the "
            "robustness figures belong to that one evaluation)"
        )
    recorded = io.read_json(folder / REPORT_DIR / METRICS_FILE)["inputs"]
    now = evaluation_inputs(folder, spec.member_dirs(folder))
    changed = sorted(k for k in set(now) | set(recorded) if now.get(k) != recorded.get(k))
    if changed or io.digest(now) != history["history"][-1].get("inputs_digest"):
        raise NotEvaluated(
            f"{folder}: {', '.join(changed) or 'the inputs'} changed since the last test evaluation; run "
            "recipes/evaluate_test.py (--force, counted) first, so the robustness figures belong to a counted one"
        )
    return now


def robustness(ensemble, texts: list[str], references: np.ndarray, member_thresholds: list[np.ndarray],
               rate: float = RATE, seed: int = SEED, resamples: int = 1000) -> dict:  # fmt: skip
    """Macro F1 of the ensemble and of each member on `texts` as written and under each family
    (and all mixed) at `rate`, with the paired bootstrap difference against the comments as written."""
    spec, names = ensemble.spec, [m["name"] for m in ensemble.spec.members]
    counts = resample_counts(len(references), resamples, seed)

    # Many games leave a comment's canonical form as it was (letters split, invisible characters,
    # full-width forms), and many comments without a game to play: each member scores each of its
    # canonical texts once.
    seen: list[dict[str, np.ndarray]] = [{} for _ in ensemble.members]

    def scores(member, cache: dict[str, np.ndarray], played: list[str]) -> np.ndarray:
        forms = canonical_all(played, member.canonical_form)
        new = list(dict.fromkeys(f for f in forms if f not in cache))
        if new:
            cache.update(zip(new, member.predict_proba(new), strict=True))
        return np.stack([cache[f] for f in forms])

    def decisions(played: list[str]) -> dict[str, np.ndarray]:
        member_probs = [scores(m, cache, played) for m, cache in zip(ensemble.members, seen, strict=True)]
        out = {"ensemble": binarize(spec.mix(member_probs), spec.thresholds)}
        for name, probs, thresholds in zip(names, member_probs, member_thresholds, strict=True):
            out[name] = binarize(probs, thresholds)
        return out

    clean = decisions(texts)
    systems = {name: {"as written": macro_f1(d, references)} for name, d in clean.items()}
    families = {}
    for family in [*FAMILIES, MIXED]:
        played = perturb_all(texts, family, rate, seed)
        changed = float(np.mean([p != t for p, t in zip(played, texts, strict=True)]))
        for name, d in decisions(played).items():
            difference = paired_difference(family, d, "as written", clean[name], references, counts)
            systems[name][family] = {
                "f1_macro": macro_f1(d, references), "difference": difference.observed, "ci": difference.ci,
            }  # fmt: skip
        families[family] = {"comments_changed": changed}
        logger.info("Spelling game %-20s (%.0f%% of comments changed): ensemble macro F1 %.4f (%+.4f)", family,
                    100 * changed, systems["ensemble"][family]["f1_macro"], systems["ensemble"][family]["difference"])  # fmt: skip
    return {"rate": rate, "seed": seed, "resamples": resamples, "rows": len(references), "families": families,
            "systems": systems}  # fmt: skip


def robustness_md(result: dict) -> list[str]:
    systems = result["systems"]
    families = [*FAMILIES, MIXED]
    lines = [
        "## Spelling games (robustness)",
        "",
        f"Each test comment played with by one family of spelling games (hf_trainer/data/perturb.py) at rate "
        f"{result['rate']} (seed {result['seed']}; all of them one after another for `mixed`), then scored by "
        "every system with its thresholds (the ensemble's; each member's chosen on validation as the ensemble's "
        "were). Difference: macro F1 under the game minus macro F1 "
        f"of the same comments as written, with its 95% paired bootstrap interval ({result['resamples']} "
        "resamples). The comments are played with as the members read them (their canonical form), and the "
        "members serve that form (README, Spelling games); nothing was chosen here.",
        "",
        "| family | comments changed | " + " | ".join(systems) + " |",
        "|---|---:|" + "---:|" * len(systems),
        "| as written | | " + " | ".join(f"{s['as written']:.4f}" for s in systems.values()) + " |",
    ]
    for family in families:
        cells = [
            f"{s[family]['f1_macro']:.4f} ({s[family]['difference']:+.4f} [{s[family]['ci'][0]:+.3f}, "
            f"{s[family]['ci'][1]:+.3f}])"
            for s in systems.values()
        ]
        lines.append(
            f"| {family} | {100 * result['families'][family]['comments_changed']:.0f}% | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def run_robustness(folder: str | Path, rate: float = RATE, seed: int = SEED, backend: str = "torch") -> dict:
    """The robustness figures of an evaluated ensemble folder: report/robustness.json and the report's
    section. Returns the figures."""
    from ..data.preparation import split_rows
    from ..serving.inference import Ensemble

    folder = Path(folder)
    spec = EnsembleSpec.load(folder)
    inputs = evaluated_inputs(folder, spec)
    test = load_aligned(spec.member_dirs(folder), "test")[0]
    rows = split_rows(spec.member_dirs(folder), "test")
    if rows is None:
        raise UserError("the robustness figures need the test comments; see the warning above")
    by_id = dict(zip(rows["id"], rows["text"], strict=True))
    missing = [int(i) for i in test.ids if int(i) not in by_id]
    if missing:
        raise UserError(
            f"{len(missing)} test rows of the predictions (ids {missing[:5]}...) are not in the test split"
        )
    texts = [by_id[int(i)] for i in test.ids]
    ensemble = Ensemble.from_pretrained(str(folder), backend=backend)
    result = robustness(ensemble, texts, test.references, member_thresholds(spec, folder), rate, seed)
    result |= {"inputs_digest": io.digest(inputs), "backend": backend}
    io.write_json(folder / REPORT_DIR / ROBUSTNESS_FILE, result)
    put_section(folder / REPORT_DIR / REPORT_FILE, "robustness", robustness_md(result))
    return result
