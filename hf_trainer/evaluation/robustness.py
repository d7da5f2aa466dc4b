"""How the ensemble and each member hold under spelling games, on the test split.

Two sets of games: this project's (`data/perturb.py`, every family and all of them mixed at one
rate: the generator of the training-time copies, which the canonical form was built to undo) and
independent ones (`outside_games.py`, written without reading either, with its own randomness and
rates, never used in training), on which the target is judged. Each game's comments are the same
every time (fixed seeds); every system keeps its thresholds (the ensemble's; each member's chosen on
validation the way the ensemble's were), and its macro F1 on the played comments is compared with
the same comments as written by a paired bootstrap. Nothing is chosen on it.

It belongs to the one test evaluation: it runs only on an ensemble folder whose test split was
scored (recipes/evaluate_test.py) with exactly the inputs it reads now (the same `inputs_digest`
as the last recorded evaluation), so it adds figures to that evaluation and is not counted as
another; after any change the test evaluation has to be run (and counted) again first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.canonical import canonical_all
from ..data.perturb import FAMILIES, MIXED, perturb_all
from ..metrics.multilabel import binarize, macro_f1
from ..metrics.uncertainty import paired_difference, resample_counts
from ..selection.cross_validation import member_thresholds, ungated_thresholds
from ..selection.ensemble import EnsembleSpec
from ..selection.mention_gate import UNGATED
from ..training.predictions import load_aligned
from ..utils import io
from ..utils.errors import UserError
from . import outside_games
from .report import put_section
from .test_once import METRICS_FILE, REPORT_DIR, REPORT_FILE, evaluation_inputs, read_history

logger = logging.getLogger(__name__)

RATE = 0.3
SEED = 42
ROBUSTNESS_FILE = "robustness.json"
TARGET_DROP = 0.02  # the most macro F1 a family of independent games may cost the ensemble
OUTSIDE_SOURCE = "hf_trainer/evaluation/outside_games.py"
STRESS_ONLY = {"initial_consonants"}  # random words to initials: what the text no longer holds
SUBSET_FAMILIES = {"abbreviated_slang": outside_games.has_abbreviable_word}  # scored where it can play


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


@dataclass
class Game:
    """One family of spelling games played on the test comments, and the rows it is scored on."""

    family: str
    rate: float
    played: list[str]
    rows: np.ndarray | None = None  # indices of the comments it is scored on; None: all of them
    target: bool = True  # judged against TARGET_DROP (a stress figure when False)


def project_games(texts: list[str], rate: float, seed: int) -> list[Game]:
    """This project's games (data/perturb.py: the generator of the training copies, which the
    canonical form was built to undo), every family and all of them mixed at one rate."""
    return [Game(family, rate, perturb_all(texts, family, rate, seed)) for family in [*FAMILIES, MIXED]]


def independent_games(texts: list[str], seed: int) -> list[Game]:
    """The outside check (evaluation/outside_games.py: written without reading perturb.py or
    canonical.py, its own randomness and rates; never used in training). `abbreviated_slang` is scored
    on the comments that hold a word of its list (profanity, slurs and set phrases people write as
    initials, 인정 and 수고 among them); `initial_consonants` of random words is a stress figure
    (information the text no longer holds), without a target."""
    games = []
    for family in outside_games.FAMILIES:
        rate = outside_games.DEFAULT_RATES[family]
        rows = None
        if family in SUBSET_FAMILIES:
            rows = np.flatnonzero([SUBSET_FAMILIES[family](t) for t in texts])
        games.append(Game(family, rate, outside_games.play_all(texts, family, rate, seed), rows,
                          target=family not in STRESS_ONLY))  # fmt: skip
    return games


def robustness(ensemble, texts: list[str], references: np.ndarray, member_thresholds: list[np.ndarray],
               rate: float = RATE, seed: int = SEED, resamples: int = 1000,
               ungated_thresholds: np.ndarray | None = None) -> dict:  # fmt: skip
    """Macro F1 of the ensemble and of each member on `texts` as written and under each game (this
    project's families at `rate`, and the independent ones at theirs), with the paired bootstrap
    difference against the same comments as written; with a mention gate, of the ensemble without it
    too (at `ungated_thresholds`)."""
    spec, names = ensemble.spec, [m["name"] for m in ensemble.spec.members]
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
        if ungated_thresholds is not None:
            out[UNGATED] = binarize(spec.mix(member_probs, gated=False), ungated_thresholds)
        for name, probs, thresholds in zip(names, member_probs, member_thresholds, strict=True):
            out[name] = binarize(probs, thresholds)  # each member at its own thresholds
        return out

    clean = decisions(texts)
    systems = {name: {"as written": macro_f1(d, references)} for name, d in clean.items()}
    project = score_games(
        project_games(texts, rate, seed), texts, clean, decisions, references, resamples, seed
    )
    independent = score_games(
        independent_games(texts, seed), texts, clean, decisions, references, resamples, seed
    )
    for name in systems:
        systems[name] |= project["systems"][name]
    return {"rate": rate, "seed": seed, "resamples": resamples, "rows": len(references),
            "families": project["families"], "systems": systems,
            "independent": {"source": OUTSIDE_SOURCE, "target_drop": TARGET_DROP, **independent}}  # fmt: skip


def score_games(games: list[Game], texts: list[str], clean: dict[str, np.ndarray], decisions,
                references: np.ndarray, resamples: int, seed: int) -> dict:  # fmt: skip
    """Each game's macro F1 per system and its paired difference (played minus as written) on the
    game's rows, with a 95% bootstrap interval."""
    families, systems = {}, {name: {} for name in clean}
    for game in games:
        rows = np.arange(len(texts)) if game.rows is None else game.rows
        if not len(rows):  # no comment the game can play with (abbreviated slang on a small split)
            families[game.family] = {
                "rate": game.rate,
                "rows": 0,
                "comments_changed": 0.0,
                "target": game.target,
            }
            logger.info("Spelling game %-20s: no comment to play with", game.family)
            continue
        counts = resample_counts(len(rows), resamples, seed)
        changed = float(np.mean([game.played[i] != texts[i] for i in rows]))
        played = decisions(game.played)
        for name, d in played.items():
            result = {"f1_macro": macro_f1(d[rows], references[rows])}
            if game.rows is not None:
                result["as written"] = macro_f1(clean[name][rows], references[rows])
            difference = paired_difference(game.family, d[rows], "as written", clean[name][rows],
                                           references[rows], counts)  # fmt: skip
            systems[name][game.family] = result | {"difference": difference.observed, "ci": difference.ci}
        families[game.family] = {"rate": game.rate, "rows": int(len(rows)), "comments_changed": changed,
                                 "target": game.target}  # fmt: skip
        logger.info("Spelling game %-20s (%.0f%% of %d comments changed): ensemble macro F1 %.4f (%+.4f)",
                    game.family, 100 * changed, len(rows), systems["ensemble"][game.family]["f1_macro"],
                    systems["ensemble"][game.family]["difference"])  # fmt: skip
    return {"families": families, "systems": systems}


def verdict(difference: float, target: bool) -> str:
    """The target column: met, missed by how much, or a stress figure."""
    if not target:
        return "stress figure, no target"
    return "met" if difference >= -TARGET_DROP else f"missed by {-difference - TARGET_DROP:.4f}"


def _cell(result: dict) -> str:
    written = f"; as written {result['as written']:.4f}" if "as written" in result else ""  # a subset's own
    ci = f"[{result['ci'][0]:+.3f}, {result['ci'][1]:+.3f}]"
    return f"{result['f1_macro']:.4f} ({result['difference']:+.4f} {ci}){written}"


def robustness_md(result: dict) -> list[str]:
    systems, independent = result["systems"], result.get("independent")
    backend = result.get("backend", "torch")
    lines = [
        "## Spelling games (robustness)",
        "",
        f"Scored with the {backend} backend. Each test comment played with by one family of spelling games, "
        "then scored by every system with its thresholds (the ensemble's; each member's chosen on validation "
        "as the ensemble's were). Difference: macro F1 under the game minus macro F1 of the same comments as "
        f"written, with its 95% paired bootstrap interval ({result['resamples']} resamples). Nothing was chosen here.",
    ]
    if independent:
        inde = independent["systems"]
        lines += [
            "",
            f"**Independent games** ({independent['source']}: written without reading this project's "
            "generator or canonical form, with its own randomness and rates; never used in training). The "
            f"target, a drop of at most {independent['target_drop']} macro F1 for the ensemble, is judged here.",
            "",
            "| family | rate | comments | changed | " + " | ".join(inde) + " | target |",
            "|---|---:|---:|---:|" + "---:|" * len(inde) + "---|",
        ]
        for family, info in independent["families"].items():
            if not info["rows"]:
                lines.append(
                    f"| {family} | {info['rate']:g} | 0 | | no comment to play with |" + " |" * len(inde)
                )
                continue
            cells = [_cell(s[family]) for s in inde.values()]
            lines.append(
                f"| {family} | {info['rate']:g} | {info['rows']} | {100 * info['comments_changed']:.0f}% | "
                + " | ".join(cells)
                + f" | {verdict(inde['ensemble'][family]['difference'], info['target'])} |"
            )
    lines += [
        "",
        f"**This project's games** (hf_trainer/data/perturb.py at rate {result['rate']}, seed {result['seed']}; "
        "all of them one after another for `mixed`): the generator of the training-time copies, which the "
        "canonical form was built to undo, so these figures say how well the project undoes its own games.",
        "",
        "| family | comments changed | " + " | ".join(systems) + " |",
        "|---|---:|" + "---:|" * len(systems),
        "| as written | | " + " | ".join(f"{s['as written']:.4f}" for s in systems.values()) + " |",
    ]
    for family in [*FAMILIES, MIXED]:
        cells = [_cell(s[family]) for s in systems.values()]
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
    val = load_aligned(spec.member_dirs(folder), "val")
    result = robustness(ensemble, texts, test.references, member_thresholds(spec, val), rate, seed,
                        ungated_thresholds=ungated_thresholds(spec, val))  # fmt: skip
    result |= {"inputs_digest": io.digest(inputs), "backend": backend}
    io.write_json(folder / REPORT_DIR / ROBUSTNESS_FILE, result)
    put_section(folder / REPORT_DIR / REPORT_FILE, "robustness", robustness_md(result))
    return result
