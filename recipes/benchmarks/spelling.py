"""Item 7 (spelling): which canonical-form steps to use, measured on validation, never on test.

For each set of steps (none, each step alone, all), a char n-gram member (the recipe's CPU member,
at a fixed C so that only the text changes) is fitted on the original train rows in that canonical
form and scored on the validation rows as written (macro F1: 5-fold cross-validated with tuned
thresholds) and on the validation rows played with by each spelling-game family at `--spelling_rate`
(thresholds tuned on the clean validation rows, as a served model would use them). A step that costs
clean F1 stays off. Also: how many of the words the initial-consonant game abbreviates the train split
could read back at all (`initials_recoverability`).
"""

from __future__ import annotations

import time

import numpy as np

from hf_trainer.data.aeda import original_rows
from hf_trainer.data.canonical import STEPS, canonical_all
from hf_trainer.data.labels import LabelSchema
from hf_trainer.data.perturb import FAMILIES, MIXED, add_spelling_copies, perturb_all
from hf_trainer.evaluation.robustness import independent_games
from hf_trainer.members.char_ngram import CharNgramMember, CharNgramSettings, _fit_per_label, ngram_analyzer
from hf_trainer.metrics.multilabel import binarize, macro_f1
from hf_trainer.selection.cross_validation import cross_validate_thresholds
from hf_trainer.selection.thresholds import tune_thresholds

C = 4.0
SEED = 42
INITIALS = 5  # n-grams 2..5 of the initial-consonant view (members.char_ngram.initials_view)
JOINED = 5  # n-grams 2..5 of the joined view (members.char_ngram.joined_view)


def run(splits, args) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = original_rows(splits["train"])
    val_texts, val_labels = splits["validation"]["text"], np.asarray(splits["validation"]["labels"])
    families = [*FAMILIES, MIXED]
    played = {f: perturb_all(val_texts, f, args.spelling_rate, SEED) for f in families}
    outside = independent_games(list(val_texts), SEED)  # the outside check, at its own rates
    names = LabelSchema().names
    # (steps, share of train rows given a spelling-game copy at --spelling_rate, member settings)
    plain, initials = CharNgramSettings(seed=SEED), CharNgramSettings(seed=SEED, initials_ngram_max=INITIALS)
    configs = {"none": ((), 0.0, plain), **{step: ((step,), 0.0, plain) for step in STEPS}}
    joined = CharNgramSettings(seed=SEED, joined_ngram_max=JOINED)
    configs |= {"all": (STEPS, 0.0, plain), "all + initials view": (STEPS, 0.0, initials),
                "all + joined view": (STEPS, 0.0, joined)}  # fmt: skip
    for share in args.spelling_shares:
        configs[f"all + copies of {share:g} of train"] = (STEPS, share, plain)
        configs[f"all + initials view + copies of {share:g} of train"] = (STEPS, share, initials)
        configs[f"all + joined view + copies of {share:g} of train"] = (STEPS, share, joined)
    if args.spelling_configs:  # only some of them
        configs = {name: configs[name] for name in args.spelling_configs if name in configs}
    results = {}
    for name, (steps, share, settings) in configs.items():
        start = time.perf_counter()
        rows = add_spelling_copies(train, share, args.spelling_rate, SEED) if share else train
        train_labels = np.asarray(rows["labels"])
        vectorizer = TfidfVectorizer(
            analyzer=ngram_analyzer(settings), sublinear_tf=True, min_df=settings.min_df,
            max_features=settings.max_features, dtype=np.float64,
        )  # fmt: skip
        x = vectorizer.fit_transform(canonical_all(rows["text"], steps))
        coef, intercept = _fit_per_label(x, train_labels, C, settings)
        vocabulary = {g: int(i) for g, i in vectorizer.vocabulary_.items()}
        model = CharNgramMember(names, vocabulary, vectorizer.idf_, coef, intercept, settings, C)
        clean = model.predict_proba(canonical_all(val_texts, steps))
        thresholds = tune_thresholds(clean, val_labels)[0]
        row = {
            "clean_cv_f1_macro": cross_validate_thresholds(clean, val_labels, "tuned", seed=SEED)[
                "cv_f1_macro"
            ],
            "clean_f1_macro": macro_f1(binarize(clean, thresholds), val_labels),
            "train_rows": len(rows),
        }
        for family in families:
            probs = model.predict_proba(canonical_all(played[family], steps))
            row[family] = macro_f1(binarize(probs, thresholds), val_labels)
        row["outside"] = outside_figures(model, steps, thresholds, outside, clean, val_labels)
        row["seconds"] = time.perf_counter() - start
        results[name] = row
    recoverable = initials_recoverability(canonical_all(train["text"], STEPS), val_texts, args.spelling_rate)
    return {
        "spelling": {
            "rate": args.spelling_rate, "c": C, "val_rows": len(val_labels), "configs": results,
            "initials_recoverability": recoverable,
        }
    }  # fmt: skip


def outside_figures(model, steps, thresholds, games, clean, labels) -> dict:
    """Val macro F1 under each independent game, and the change from the same rows as written."""
    out = {}
    for game in games:
        rows = np.arange(len(labels)) if game.rows is None else game.rows
        probs = model.predict_proba(canonical_all([game.played[i] for i in rows], steps))
        played = macro_f1(binarize(probs, thresholds), labels[rows])
        written = macro_f1(binarize(clean[rows], thresholds), labels[rows])
        out[game.family] = {
            "rate": game.rate,
            "rows": len(rows),
            "f1_macro": played,
            "difference": played - written,
        }
    return out


def initials_recoverability(train_texts, val_texts, rate: float) -> dict:
    """How far the train split could read back the words `initial_consonants` abbreviates in the
    validation rows (ㅅㅂ for 시발): a word is recoverable from train only if train holds it among the
    words of the same initials (`oracle`, an upper bound of any reading from train) and is read right
    by the most frequent of them (`most_frequent`). Words are space-separated, as the family takes them."""
    from collections import Counter, defaultdict

    from hf_trainer.data.perturb import INITIALS, is_syllable, split_syllable

    def key(word: str) -> str | None:
        if len(word) < 2 or not all(map(is_syllable, word)):
            return None
        return "".join(split_syllable(c)[0] for c in word)

    by_key: dict[str, Counter] = defaultdict(Counter)
    for text in train_texts:
        for word in text.split():
            if (k := key(word)) is not None:
                by_key[k][word] += 1
    played = perturb_all(val_texts, "initial_consonants", rate, SEED)
    words = known = oracle = frequent = 0
    candidates = []
    for text, game in zip(val_texts, played, strict=True):
        for word, abbreviation in zip(text.split(), game.split(), strict=True):  # the family keeps spaces
            if word == abbreviation or not set(abbreviation) <= set(INITIALS):
                continue
            words += 1
            if abbreviation in by_key:
                known += 1
                oracle += word in by_key[abbreviation]
                frequent += by_key[abbreviation].most_common(1)[0][0] == word
                candidates.append(len(by_key[abbreviation]))
    return {
        "abbreviated_words": words,
        "initials_seen_in_train": known / words,
        "oracle": oracle / words,
        "most_frequent": frequent / words,
        "median_train_words_per_initials": float(np.median(candidates)),
    }


def rows(result: dict) -> list[tuple[str, str]]:
    spelling = result["spelling"]
    recoverable = spelling["initials_recoverability"]
    out = [
        (
            f"spelling: words abbreviated to initials in val at {spelling['rate']}: read back from train by "
            "the most frequent word / at best (oracle)",
            f"{recoverable['abbreviated_words']} words: {recoverable['most_frequent']:.3f} / "
            f"{recoverable['oracle']:.3f} (median {recoverable['median_train_words_per_initials']:g} train "
            "words share the initials)",
        )
    ]
    for name, row in spelling["configs"].items():
        games = ", ".join(f"{f} {row[f]:.3f}" for f in [*FAMILIES, MIXED])
        out.append(
            (
                f"spelling: canonical form '{name}', val macro F1 clean (CV) / under each family at {spelling['rate']}",
                f"{row['clean_cv_f1_macro']:.4f} / {games}",
            )
        )
        outside = ", ".join(f"{f} {o['difference']:+.3f}" for f, o in row["outside"].items())
        out.append((f"spelling: canonical form '{name}', val change under the independent games", outside))
    return out
