"""Item 8 (explain, only with --items explain): how faithful and how fast the explanations are.

With --explain_ensemble_dir D (a trained ensemble, e.g. the real-data demo's): on test comments the
ensemble flags with a label other than clean (seeded sample of --explain_comments), for each flagged
(comment, label), ERASER's measures of the occlusion explanation (hf_trainer/serving/explain.py):
comprehensiveness (the label's score lost when the top-1 / top-3 spans are removed), the top-1 span
against another candidate span of the same number of characters drawn at random (a sanity check:
the top-1 span is by construction the costliest one), and sufficiency (the score lost when only the top-3
spans are kept; lower is better); and the seconds to explain one comment. Without it, and always: the
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
                "explain: seconds per comment (the ensemble, median / mean)",
                f"{faith['median_seconds']:.3f} / {faith['mean_seconds']:.3f}",
            ),  # fmt: skip
        ]
    return out


def random_span(text: str, top: tuple[int, int], rng: random.Random) -> tuple[int, int] | None:
    """Another candidate span of the same number of characters as `top`, not overlapping it, drawn
    at random (the baseline removes a unit the method could have chosen); None when there is none."""
    size = len(character_starts(text, *top))
    others = [
        (s, e) for s, e in candidate_spans(text)
        if (e <= top[0] or s >= top[1]) and len(character_starts(text, s, e)) == size
    ]  # fmt: skip
    return rng.choice(others) if others else None


def faithfulness(ensemble: Ensemble, texts: list[str], comments: int) -> dict:
    rng = random.Random(SEED)
    probs = ensemble.predict_proba(texts)
    decided = probs >= ensemble.thresholds
    labels = [name for name in ensemble.labels if name != CLEAN]
    index = {name: i for i, name in enumerate(ensemble.labels)}
    flagged = [i for i in range(len(texts)) if any(decided[i, index[n]] for n in labels)]
    chosen = sorted(rng.sample(flagged, min(comments, len(flagged))))
    top1, top1_compared, random1, top3, sufficiency, seconds = [], [], [], [], [], []
    for i in chosen:
        text = texts[i]
        asked = [n for n in labels if decided[i, index[n]]]
        start = time.perf_counter()
        (explained,) = explain(ensemble, [text], labels=asked, top_k=3)
        seconds.append(time.perf_counter() - start)
        variants, keys = [], []
        for name in asked:
            spans = [(s["start"], s["end"]) for s in explained[name]["spans"]]
            if not spans:
                continue
            first = spans[0]
            other = random_span(text, first, rng)
            removed_all = text
            for s, e in sorted(spans, reverse=True):  # right to left: earlier offsets stay valid
                removed_all = without(removed_all, s, e)
            variants += [
                without(text, *first),
                without(text, *other) if other else text,
                removed_all,
                only(text, spans),
            ]
            keys.append((name, other is not None))
        if not keys:
            continue
        scores = ensemble.predict_proba(variants).reshape(len(keys), 4, -1)
        for k, (name, compared) in enumerate(keys):
            full = probs[i, index[name]]
            lost = full - scores[k, :, index[name]]
            top1.append(lost[0])
            if compared:
                top1_compared.append(lost[0])
                random1.append(lost[1])
            top3.append(lost[2])
            sufficiency.append(lost[3])
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
    return {
        "comments": len(chosen),
        "flagged_in_test": len(flagged),
        "pairs": len(top1),
        "comprehensiveness_top1": mean(top1),
        # The top-1 span is by construction the one whose removal costs most: against another
        # candidate span of the same number of characters this is a sanity check of the ranking.
        "pairs_with_a_random_span": len(random1),
        "top1_where_compared": mean(top1_compared),
        "random_top1": mean(random1),
        # None when the other spans lower the score by nothing on average: no ratio to give.
        "top1_over_random": (mean(top1_compared) / mean(random1)) if random1 and mean(random1) > 0 else None,
        "comprehensiveness_top3": mean(top3),
        "sufficiency_top3": mean(sufficiency),
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
