"""Item 8 (explain, only with --items explain): how faithful and how fast the explanations are.

With --explain_ensemble_dir D (a trained ensemble, e.g. the real-data demo's): on test comments the
ensemble flags with a label other than clean (seeded sample of --explain_comments), for each flagged
(comment, label), ERASER's measures of the occlusion explanation (hf_trainer/serving/explain.py):
comprehensiveness (the label's score lost when the top-1 / top-3 spans are removed), the top-1 span
against another candidate span of the same number of characters drawn at random (a sanity check:
the top-1 span is by construction the costliest one), sufficiency (the score lost when only the top-3
spans are kept; lower is better), both of them against ERASER's baseline of 3 random spans of the same
lengths; and the seconds to explain one comment. Without it, and always: the
seconds to explain one 20-word comment with one base-size int8 ONNX member (item 6's shapes).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from hf_trainer.data.labels import LabelSchema
from hf_trainer.serving.explain import candidate_spans, character_starts, explain, only, without
from hf_trainer.serving.inference import Ensemble

SEED = 42
CLEAN = "clean"


def run(splits, args) -> dict:
    result = {"explain_base_onnx_int8": base_onnx_timing(splits)}
    if args.explain_ensemble_dir:
        result["explain_faithfulness"] = faithfulness(
            Ensemble.from_pretrained(args.explain_ensemble_dir), splits["test"]["text"], args.explain_comments
        )
        result["explain_faithfulness"]["ensemble_dir"] = args.explain_ensemble_dir
    return result


def rows(result: dict) -> list[tuple[str, str]]:
    base = result["explain_base_onnx_int8"]
    out = [(
        "explain: one 20-word comment, one base-size int8 ONNX member (median s)",
        f"{base['median_seconds']:.3f} (spans per comment {base['spans']:.0f})",
    )]  # fmt: skip
    faith = result.get("explain_faithfulness")
    if faith:
        ratio = f"x{faith['top1_over_random']:.1f}" if faith["top1_over_random"] else "they lower nothing"
        out += [
            (
                "explain: top-1 span removed vs another span of its length (mean score drop)",
                f"{faith['top1_where_compared']:.4f} vs {faith['random_top1']:.4f} ({ratio}; "
                f"{faith['pairs_with_a_random_span']} of {faith['pairs']} flagged pairs)",
            ),
            (
                "explain: comprehensiveness top-3 / sufficiency top-3",
                f"{faith['comprehensiveness_top3']:.4f} / {faith['sufficiency_top3']:.4f}",
            ),
            (
                "explain: top-3 vs 3 random spans of the same lengths (ERASER): comprehensiveness / sufficiency",
                f"{faith['comprehensiveness_top3_where_compared']:.4f} vs {faith['comprehensiveness_random3']:.4f} "
                f"(x{faith['comprehensiveness_top3_over_random3'] or float('nan'):.1f}) / "
                f"{faith['sufficiency_top3_where_compared']:.4f} vs {faith['sufficiency_random3']:.4f} "
                f"({faith['pairs_with_random_spans']} pairs)",
            ),
            (
                "explain: seconds per comment (the ensemble, median / mean)",
                f"{faith['median_seconds']:.3f} / {faith['mean_seconds']:.3f}",
            ),  # fmt: skip
        ]
    return out


def random_span(text: str, top: tuple[int, int], rng: random.Random) -> tuple[int, int] | None:
    """Another candidate span of the same number of characters as `top`, not overlapping it, drawn
    at random (the baseline removes a unit the method could have chosen); None when there is none."""
    spans = random_spans(text, [top], rng, avoid=[top])
    return spans[0] if spans else None


def random_spans(
    text: str, spans: list[tuple[int, int]], rng: random.Random, avoid: list[tuple[int, int]] = ()
) -> list[tuple[int, int]] | None:
    """ERASER's random baseline: for each of `spans`, a candidate span of the same number of
    characters drawn at random, none overlapping another drawn one or `avoid`; None when the
    comment has no such set (too few candidates)."""
    taken, drawn = list(avoid), []
    candidates = candidate_spans(text)
    for span in spans:
        size = len(character_starts(text, *span))
        free = [
            (s, e) for s, e in candidates
            if len(character_starts(text, s, e)) == size and all(e <= a or s >= b for a, b in taken)
        ]  # fmt: skip
        if not free:
            return None
        drawn.append(rng.choice(free))
        taken.append(drawn[-1])
    return drawn


def removed(text: str, spans: list[tuple[int, int]]) -> str:
    for s, e in sorted(spans, reverse=True):  # right to left: earlier offsets stay valid
        text = without(text, s, e)
    return text


def variants(text: str, spans: list[tuple[int, int]], rng: random.Random) -> tuple[list[str], bool, bool]:
    """The texts scored for one explained (comment, label): without the top-1 span, without another
    span of its length, without the top-k spans, with only them, and the same two for k random spans
    of the same lengths (ERASER's baseline). Also whether each baseline could be drawn."""
    other = random_span(text, spans[0], rng)
    baseline = random_spans(text, spans, rng)
    texts = [
        without(text, *spans[0]),
        without(text, *other) if other else text,
        removed(text, spans),
        only(text, spans),
    ]
    texts += [removed(text, baseline), only(text, baseline)] if baseline else [text, text]
    return texts, other is not None, baseline is not None


VARIANTS = 6


def faithfulness(ensemble: Ensemble, texts: list[str], comments: int) -> dict:
    rng = random.Random(SEED)
    probs = ensemble.predict_proba(texts)
    decided = probs >= ensemble.thresholds
    labels = [name for name in ensemble.labels if name != CLEAN]
    index = {name: i for i, name in enumerate(ensemble.labels)}
    flagged = [i for i in range(len(texts)) if any(decided[i, index[n]] for n in labels)]
    chosen = sorted(rng.sample(flagged, min(comments, len(flagged))))
    lost_by, seconds = (
        {
            k: []
            for k in (
                "top1",
                "top1_compared",
                "random1",
                "top3",
                "suff3",
                "top3_b",
                "suff3_b",
                "rand3",
                "rand_suff3",
            )
        },
        [],
    )
    for i in chosen:
        text = texts[i]
        asked = [n for n in labels if decided[i, index[n]]]
        start = time.perf_counter()
        (explained,) = explain(ensemble, [text], labels=asked, top_k=3)
        seconds.append(time.perf_counter() - start)
        scored, keys = [], []
        for name in asked:
            spans = [(s["start"], s["end"]) for s in explained[name]["spans"]]
            if spans:
                texts_k, compared, with_baseline = variants(text, spans, rng)
                scored += texts_k
                keys.append((name, compared, with_baseline))
        if not keys:
            continue
        scores = ensemble.predict_proba(scored).reshape(len(keys), VARIANTS, -1)
        for k, (name, compared, with_baseline) in enumerate(keys):
            lost = probs[i, index[name]] - scores[k, :, index[name]]
            lost_by["top1"].append(lost[0])
            lost_by["top3"].append(lost[2])
            lost_by["suff3"].append(lost[3])
            if compared:
                lost_by["top1_compared"].append(lost[0])
                lost_by["random1"].append(lost[1])
            if with_baseline:  # the same pairs for the explanation and its random baseline
                lost_by["top3_b"].append(lost[2])
                lost_by["suff3_b"].append(lost[3])
                lost_by["rand3"].append(lost[4])
                lost_by["rand_suff3"].append(lost[5])
    return summary(lost_by, seconds, len(chosen), len(flagged))


def summary(lost_by: dict[str, list[float]], seconds: list[float], comments: int, flagged: int) -> dict:
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
    ratio = lambda a, b: (mean(a) / mean(b)) if b and mean(b) > 0 else None  # noqa: E731
    return {
        "comments": comments,
        "flagged_in_test": flagged,
        "pairs": len(lost_by["top1"]),
        "comprehensiveness_top1": mean(lost_by["top1"]),
        # The top-1 span is by construction the one whose removal costs most: against another
        # candidate span of the same number of characters this is a sanity check of the ranking.
        "pairs_with_a_random_span": len(lost_by["random1"]),
        "top1_where_compared": mean(lost_by["top1_compared"]),
        "random_top1": mean(lost_by["random1"]),
        # None when the other spans lower the score by nothing on average: no ratio to give.
        "top1_over_random": ratio(lost_by["top1_compared"], lost_by["random1"]),
        "comprehensiveness_top3": mean(lost_by["top3"]),
        "sufficiency_top3": mean(lost_by["suff3"]),
        # ERASER's baseline: 3 random spans of the same lengths as the top 3, on the pairs where a
        # set of them could be drawn; comprehensiveness higher and sufficiency lower than it is better.
        "pairs_with_random_spans": len(lost_by["rand3"]),
        "comprehensiveness_top3_where_compared": mean(lost_by["top3_b"]),
        "comprehensiveness_random3": mean(lost_by["rand3"]),
        "comprehensiveness_top3_over_random3": ratio(lost_by["top3_b"], lost_by["rand3"]),
        "sufficiency_top3_where_compared": mean(lost_by["suff3_b"]),
        "sufficiency_random3": mean(lost_by["rand_suff3"]),
        "median_seconds": float(np.median(seconds)) if seconds else float("nan"),
        "mean_seconds": mean(seconds),
        "method": "occlusion (words, and pairs of characters inside words of 4+ characters)",
    }


def base_onnx_timing(splits, comments: int = 10) -> dict:
    """Seconds to explain one 20-word comment with one base-size int8 ONNX member (median of
    `comments` comments of 20 words made from test comments)."""
    from hf_trainer.members.onnx import OnnxMember
    from hf_trainer.serving.export import export_member

    from .serving import base_model, one_member_spec

    schema = LabelSchema()
    words = " ".join(splits["test"]["text"]).split()
    texts = [" ".join(words[k * 20 : (k + 1) * 20]) for k in range(comments)]
    model, tokenizer = base_model(splits, schema)
    work = Path(tempfile.mkdtemp(prefix="bench_explain_"))
    try:
        files = export_member(model, tokenizer, work, "int8")
        ensemble = Ensemble(
            [OnnxMember(work / files["int8"], tokenizer, schema.names)], one_member_spec(schema)
        )
        explain(ensemble, texts[:1], labels=[schema.names[0]])  # warm-up
        seconds = []
        for text in texts:
            start = time.perf_counter()
            explain(ensemble, [text], labels=list(schema.names))
            seconds.append(time.perf_counter() - start)
        return {"median_seconds": float(np.median(seconds)), "spans": float(np.mean([len(candidate_spans(t)) for t in texts])),
                "comments": comments, "words": 20}  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
