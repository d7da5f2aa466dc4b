"""A CPU ensemble member: TF-IDF over character n-grams and one logistic regression per label.

Korean abuse plays with spelling (jamo splits, spacing tricks, look-alike syllables); character
n-grams catch much of it and make errors unlike a subword encoder's, a classic diversity member.
Beside the n-grams of the syllables it uses n-grams of the jamo: NFKD decomposes each syllable
into its letters and maps typed compatibility jamo (ㅅㅂ) onto the initial consonants and vowels
of those letters, so 시발 and ㅅㅂ share features that no syllable n-gram sees (a final consonant
has code points of its own: the typed ㄱ meets the ㄱ of 가, not that of 각). It trains in about a minute on two cores (74 s in docs/benchmark_cpu.json), so a user
without a GPU gets real quality.

Saved without pickle: the vocabulary, idf and settings as JSON (`char_ngram.json`), the weights as
safetensors (`char_ngram.safetensors`); loading rebuilds the TF-IDF transform from them and never
runs code from the files. The transform is sklearn's (counts -> 1 + log(tf) -> x idf -> l2 norm).
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..data.group_names import default_group_names, group_name_blinder
from ..data.perturb import VOWELS, is_syllable, split_syllable
from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput
from .base import MemberInfo, predict_in_length_order

logger = logging.getLogger(__name__)

CONFIG_FILE = "char_ngram.json"
WEIGHTS_FILE = "char_ngram.safetensors"
FORMAT = "char-ngram/5"
# Files before jamo n-grams (1), the initial-consonant view (2), the joined view (3) and blinding to
# group names (4): read as they were.
OLD_FORMATS = {
    "char-ngram/1": {"jamo_ngram_max": 0, "initials_ngram_max": 0, "joined_ngram_max": 0},
    "char-ngram/2": {"initials_ngram_max": 0, "joined_ngram_max": 0},
    "char-ngram/3": {"joined_ngram_max": 0},
    "char-ngram/4": {},
}
C_GRID = (2.0, 4.0)  # C = 1 was the worst on every real-data run, on val and on held-out train rows
HOLDOUT_FOLDS = 5  # C is chosen on a fifth of the train rows held out
JAMO_PREFIX = "\x01"  # marks a jamo n-gram, so it never collides with a syllable n-gram
INITIALS_PREFIX = "\x02"  # marks an n-gram of the initial-consonant view
JOINED_PREFIX = "\x03"  # marks an n-gram of the joined view
_NOT_A_LETTER = re.compile(r"[\W_]+")  # spaces, punctuation and symbols


@dataclass(frozen=True)
class CharNgramSettings:
    analyzer: str = "char_wb"
    ngram_min: int = 1
    ngram_max: int = 5
    jamo_ngram_max: int = 6  # jamo n-grams 1..this of the NFKD text; 0: syllable n-grams only
    initials_ngram_max: int = 0  # n-grams 2..this of the initial-consonant view; 0: none
    joined_ngram_max: int = 0  # n-grams 2..this of the joined view; 0: none
    min_df: int = 2
    max_features: int = 300_000
    max_pos_weight: float = 10.0
    seed: int = 42
    # True: neutral group names (hf_trainer.data.group_names) read as one placeholder word, so the
    # model judges hate from the rest of the comment (the mention gate's member).
    blind_group_names: bool = False


def ngram_analyzer(
    settings: CharNgramSettings, blinded_names: Sequence[str] = ()
) -> Callable[[str], list[str]]:
    """text -> its n-grams: scikit-learn's `char_wb` n-grams of the lowercased text, plus (with
    jamo_ngram_max > 0) those of its NFKD jamo, prefixed with JAMO_PREFIX, and (with
    initials_ngram_max >= 2) those of its initial-consonant view, prefixed with INITIALS_PREFIX.
    With settings.blind_group_names, every view reads the text with `blinded_names` blinded."""
    analyze = _views_analyzer(settings)
    if not settings.blind_group_names:
        return analyze
    blind = group_name_blinder(blinded_names)
    return lambda text: analyze(blind(text))


def _views_analyzer(settings: CharNgramSettings) -> Callable[[str], list[str]]:
    from sklearn.feature_extraction.text import CountVectorizer

    syllables = CountVectorizer(
        analyzer=settings.analyzer, ngram_range=(settings.ngram_min, settings.ngram_max)
    ).build_analyzer()
    jamo = (
        CountVectorizer(analyzer=settings.analyzer, ngram_range=(1, settings.jamo_ngram_max)).build_analyzer()
        if settings.jamo_ngram_max > 0
        else None
    )

    initials = (
        CountVectorizer(
            analyzer=settings.analyzer, ngram_range=(2, settings.initials_ngram_max)
        ).build_analyzer()
        if settings.initials_ngram_max >= 2
        else None
    )

    joined = (
        CountVectorizer(analyzer="char", ngram_range=(2, settings.joined_ngram_max)).build_analyzer()
        if settings.joined_ngram_max >= 2
        else None
    )

    if jamo is None and initials is None and joined is None:
        return syllables

    def analyze(text: str) -> list[str]:
        grams = syllables(text)
        if jamo is not None:
            grams += [JAMO_PREFIX + g for g in jamo(unicodedata.normalize("NFKD", text))]
        if initials is not None:
            grams += [INITIALS_PREFIX + g for g in initials(initials_view(text))]
        if joined is not None:
            grams += [JOINED_PREFIX + g for g in joined(joined_view(text))]
        return grams

    return analyze


def joined_view(text: str) -> str:
    """The text without spaces, punctuation or symbols: 시 발, 시.발 and 시-발 all read 시발, whatever
    marks a writer puts inside a word (its n-grams also span the words of a comment)."""
    return _NOT_A_LETTER.sub("", text)


def initials_view(text: str) -> str:
    """Each Hangul syllable as its initial consonant and typed vowels dropped, everything else kept:
    시발놈아 and ㅅㅂㄴㅇ (the initial-consonant game) both read ㅅㅂㄴㅇ."""
    return "".join(split_syllable(c)[0] if is_syllable(c) else "" if c in VOWELS else c for c in text)


class CharNgramMember:
    """Per-label logistic regressions on one TF-IDF character n-gram space."""

    kind: ClassVar[str] = "char-ngram"
    trains_in_epochs: ClassVar[bool] = False  # one fit per C, no epochs
    has_preflight_checks: ClassVar[bool] = False  # no weights to load, no GPU step: run_all.sh has no stage

    def __init__(self, labels: Sequence[str], vocabulary: dict[str, int], idf: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray, settings: CharNgramSettings, c: float,
                 blinded_names: Sequence[str] = ()) -> None:  # fmt: skip
        _check_parts(len(labels), len(vocabulary), idf, coef, intercept, settings, blinded_names)
        self.labels, self.vocabulary, self.idf = list(labels), vocabulary, idf
        self.coef, self.intercept, self.settings, self.c = coef, intercept, settings, c
        self.blinded_names = tuple(blinded_names) if settings.blind_group_names else ()
        self.canonical_form: tuple[str, ...] = ()  # the training texts' steps (member.json)
        self._counter = None

    # -- features --------------------------------------------------------------------------
    def features(self, texts: Sequence[str]):
        """TF-IDF rows as sklearn's TfidfVectorizer(sublinear_tf=True) computes them."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        if self._counter is None:
            self._counter = CountVectorizer(
                analyzer=ngram_analyzer(self.settings, self.blinded_names), vocabulary=self.vocabulary
            )
        x = self._counter.transform(texts).astype(np.float64).tocsr()
        np.log(x.data, out=x.data)
        x.data += 1.0  # sublinear tf: 1 + log(tf)
        return normalize(x.multiply(self.idf).tocsr())

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities (float32), shape (len(texts), labels); the same sigmoid as the encoders'.
        Each row's score depends on its text alone, so batching changes no number."""
        return predict_in_length_order(
            texts,
            batch_size,
            len(self.labels),
            lambda batch: self._proba(self.features(batch)),
            self.canonical_form,
        )

    def _proba(self, features) -> np.ndarray:
        from ..metrics.multilabel import sigmoid

        return sigmoid(np.asarray(features @ self.coef.T + self.intercept))

    # -- files -----------------------------------------------------------------------------
    def save(self, folder: str | Path, model: str | None = "char-ngram") -> None:
        from safetensors.numpy import save

        folder = Path(folder)
        arrays = {"coef": self.coef, "intercept": self.intercept, "idf": self.idf}
        with io.atomic_open(folder / WEIGHTS_FILE, "wb") as handle:
            handle.write(save({k: np.ascontiguousarray(v) for k, v in arrays.items()}))
        ordered = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        io.write_json(folder / CONFIG_FILE, {
            "format": FORMAT, "labels": self.labels, "c": self.c, "settings": self.settings.__dict__,
            "ngrams": ordered, "blinded_names": list(self.blinded_names),
        })  # fmt: skip
        # A transformers-style config: the labels, for anything that reads members' config.json.
        io.write_json(folder / "config.json", {
            "model_type": "char-ngram", "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)), "label2id": {n: i for i, n in enumerate(self.labels)},
        })  # fmt: skip
        MemberInfo(self.kind, self.labels, model, self.canonical_form).save(folder)

    @classmethod
    def load(cls, source: str | Path, **_serving_options) -> CharNgramMember:
        """A local folder, or a Hub id (its few small files fetched to the cache). It runs on the CPU
        and needs no tokenizer: the serving options of transformer members do not apply."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = _local_folder(str(source))
        logger.info("Member %s: char-ngram from %s", Path(str(source)).name, source)
        config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise InputNotFound(f"{path} not found: not a char-ngram member folder")
        config = io.read_json(config_path)
        if not isinstance(config, dict) or (
            config.get("format") != FORMAT and config.get("format") not in OLD_FORMATS
        ):
            raise InvalidInput(f"{config_path}: not a char-ngram member file (format {FORMAT} expected)")
        try:
            arrays = load_file(str(weights_path))
            settings = CharNgramSettings(**{**config["settings"], **OLD_FORMATS.get(config["format"], {})})
            vocabulary = {ngram: i for i, ngram in enumerate(config["ngrams"])}
            member = cls(config["labels"], vocabulary, arrays["idf"], arrays["coef"], arrays["intercept"],
                         settings, float(config["c"]), config.get("blinded_names", ()))  # fmt: skip
        except (SafetensorError, KeyError, TypeError, ValueError) as err:
            raise InvalidInput(
                f"{folder}: a damaged or foreign char-ngram member ({type(err).__name__}: {err})"
            ) from None
        info = MemberInfo.read(folder)
        member.canonical_form = info.canonical_form if info else ()
        return member

    @staticmethod
    def train(model_args, data_args, training_args, splits, data_report: dict) -> dict:
        return train_char_ngram(
            data_args, training_args, splits, data_report, model_args.model or "char-ngram"
        )

    @staticmethod
    def preflight(model_args, data_args, training_args, splits) -> dict:
        """Nothing to download and no GPU step to try: the data loaded, that is all."""
        logger.info("Preflight char-ngram: passed (a CPU model: no weights to load, no training step to try)")
        return {"model": "char-ngram", "problems": []}

    # What publishing uploads (no predictions: they hold the data's gold labels) and what the model
    # card says this kind of member is and how it loads.
    hub_files: ClassVar[tuple[str, ...]] = (
        CONFIG_FILE, WEIGHTS_FILE, "config.json", "member.json", "metrics.json", "run_config.json",
    )  # fmt: skip
    card_noun: ClassVar[tuple[str, str]] = ("char n-gram model", "char n-gram models")
    card_text: ClassVar[str] = (
        "TF-IDF character n-grams (syllables and jamo) with one logistic regression per label, saved as "
        "safetensors + JSON; it loads only through this recipe's `Ensemble` (hf_trainer), not through "
        "transformers (its config.json only names the labels)"
    )


def _check_parts(labels: int, ngrams: int, idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 settings: CharNgramSettings, blinded_names: Sequence[str]) -> None:  # fmt: skip
    """A member's arrays fit its labels and n-grams, hold finite numbers, and a blind one has names."""
    if coef.shape != (labels, ngrams) or idf.shape != (ngrams,) or intercept.shape != (labels,):
        raise InvalidInput(
            f"char-ngram member: {coef.shape} weights, {intercept.shape} intercepts and {idf.shape} idf for "
            f"{labels} labels and {ngrams} n-grams"
        )
    if not all(np.isfinite(a).all() for a in (coef, intercept, idf)):
        raise InvalidInput("char-ngram member: its weights hold NaN or infinite values")
    if settings.blind_group_names and not blinded_names:
        raise InvalidInput("char-ngram member: blind to group names, but no names to blind")


def blind_member(folder: str | Path) -> bool:
    """Whether a member folder holds a char n-gram member that reads comments blind to group names."""
    config = Path(folder) / CONFIG_FILE
    return config.is_file() and bool(io.read_json(config).get("blinded_names"))


def _local_folder(source: str) -> Path:
    """A local member folder as is; a Hub one fetched (its small files) to the cache."""
    if Path(source).is_dir():
        return Path(source)
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(source, allow_patterns=[CONFIG_FILE, WEIGHTS_FILE, "config.json", "member.json"])
    )


def fit_char_ngram(texts: Sequence[str], labels: np.ndarray, names: Sequence[str],
        settings: CharNgramSettings = CharNgramSettings(), c_grid: Sequence[float] = C_GRID,
        ids: Sequence[int] | None = None, blinded_names: Sequence[str] = ()) -> tuple[CharNgramMember, dict]:  # fmt: skip
    """A char n-gram member, its C chosen without the validation split: a seeded, multilabel-stratified
    1/HOLDOUT_FOLDS of the train rows is held out, a model fitted on the rest for each C, and the C
    with the best cross-validated macro F1 with tuned thresholds on the held-out rows (how the
    ensemble uses its scores; 5 folds, see cross_validation.py) is refitted on every train row.
    Vocabulary and idf come from all train texts (no labels involved). Rows sharing an id (a row and
    its spelling-game copies) are held out together, so no held-out row has a copy in the fit. Returns
    the model and the search.

    The validation split then chooses nothing for this member, so it cannot make the validation
    estimates of the later stages optimistic (it did when C was chosen by CV on validation).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ..metrics.multilabel import multilabel_metrics
    from ..selection.cross_validation import cross_validate_thresholds

    start = time.perf_counter()
    labels = np.asarray(labels)
    vectorizer = TfidfVectorizer(
        analyzer=ngram_analyzer(settings, blinded_names), sublinear_tf=True, min_df=settings.min_df,
        max_features=settings.max_features, dtype=np.float64,
    )  # fmt: skip
    x = vectorizer.fit_transform(texts).tocsr()
    vocabulary = {ngram: int(i) for ngram, i in vectorizer.vocabulary_.items()}
    idf = vectorizer.idf_.astype(np.float64)
    held_out = held_out_rows(ids, labels, settings.seed)
    search, best = {}, None
    for c in c_grid:
        coef, intercept = _fit_per_label(x[~held_out], labels[~held_out], c, settings)
        model = CharNgramMember(names, vocabulary, idf, coef, intercept, settings, c, blinded_names)
        probs = model._proba(x[held_out])
        at_half = multilabel_metrics(probs, labels[held_out], names, 0.5)["f1_macro"]
        score = cross_validate_thresholds(probs, labels[held_out], "tuned", seed=settings.seed)["cv_f1_macro"]
        search[str(c)] = {"holdout_f1_macro_at_0.5": at_half, "holdout_cv_f1_macro_tuned": score}
        logger.info("char-ngram: C=%g -> held-out train rows: macro F1 %.4f at 0.5, %.4f tuned (5-fold CV)",
                    c, at_half, score)  # fmt: skip
        if best is None or score > best[0] + 1e-12:
            best = (score, c)
    coef, intercept = _fit_per_label(x, labels, best[1], settings)
    model = CharNgramMember(names, vocabulary, idf, coef, intercept, settings, best[1], blinded_names)
    report = {
        "criterion": "holdout_cv_f1_macro_tuned",
        "holdout": f"1/{HOLDOUT_FOLDS} of the train rows ({int(held_out.sum())}), multilabel-stratified, seed "
        f"{settings.seed}; the model of each C fitted on the other {int((~held_out).sum())}",
        "c_grid": search,
        "c": best[1],
        "ngrams": len(vocabulary),
        "fit_seconds": time.perf_counter() - start,
    }
    logger.info("char-ngram: chose C=%g (held-out train rows, CV macro F1 tuned %.4f), %d n-grams, %.1fs",
                best[1], best[0], len(vocabulary), report["fit_seconds"])  # fmt: skip
    return model, report


def held_out_rows(ids: Sequence[int] | None, labels: np.ndarray, seed: int) -> np.ndarray:
    """The rows of the held-out fold (1/HOLDOUT_FOLDS, multilabel-stratified, seeded), whole groups of
    rows sharing an id (a row and its copies) at a time; every row its own group without ids."""
    from ..selection.cross_validation import fold_index

    labels = np.asarray(labels)
    ids = np.arange(len(labels)) if ids is None else np.asarray(ids)
    groups, first = np.unique(ids, return_index=True)
    fold = fold_index(labels[first], HOLDOUT_FOLDS, seed)
    return np.isin(ids, groups[fold == 0])


def _fit_label(x, y: np.ndarray, c: float, positive_weight: float, seed: int) -> tuple[np.ndarray, float]:
    """One label's liblinear logistic regression. The worker keeps to one BLAS thread: one worker per
    core, so more threads would only oversubscribe the cores."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    if y.min() == y.max():  # a label without positives (or negatives): a constant score
        return np.zeros(x.shape[1], dtype=np.float32), 20.0 if y[0] else -20.0
    clf = LogisticRegression(C=c, solver="liblinear", class_weight={0: 1.0, 1: positive_weight},
                             random_state=seed, max_iter=1000)  # fmt: skip
    with threadpool_limits(1):
        clf.fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def fit_workers(labels: int) -> int:
    """Processes for the per-label fits: one per usable core (joblib counts CPU quotas too), at most
    one per label."""
    from joblib import cpu_count

    return max(1, min(labels, cpu_count()))


def _fit_per_label(
    x, labels: np.ndarray, c: float, settings: CharNgramSettings
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per label, positives weighted neg/pos (capped) like pos_weight; the
    labels fit in parallel processes, one per core (liblinear is single-threaded). Each label's fit
    sees the same rows and seed however many processes there are (a test compares 1 and 2). Each worker
    copies the features into liblinear's own format: peak memory grows by about a feature matrix
    (85 MB on UnSmile) per worker."""
    from joblib import Parallel, delayed

    from ..training.trainer import compute_pos_weight

    pos_weight = compute_pos_weight(labels, settings.max_pos_weight)
    # Large arrays reach the workers memory-mapped; liblinear needs them writable: copy-on-write ("c").
    fits = Parallel(n_jobs=fit_workers(labels.shape[1]), mmap_mode="c")(
        delayed(_fit_label)(x, (labels[:, j] >= 0.5).astype(int), c, float(pos_weight[j]), settings.seed)
        for j in range(labels.shape[1])
    )
    coef = np.stack([weights for weights, _ in fits])
    intercept = np.array([bias for _, bias in fits], dtype=np.float32)
    return coef, intercept


def train_char_ngram(
    data_args, training_args, splits, data_report: dict, model_name: str = "char-ngram"
) -> dict:
    """The member's whole training run, with the transformers members' output contract:
    the model files, predictions/{val,test}.npz (same row ids), metrics.json and run_config.json.
    Under several processes only the main one fits (one CPU fit is enough).

    It trains on the original train rows only: AEDA inserts punctuation marks, which for character
    n-grams are new features of no meaning; the per-label class weights handle the imbalance. A preset
    with `blind_group_names` (char-ngram-blind) reads every text with the shipped group names blinded.
    """
    import dataclasses

    from ..data.aeda import original_rows
    from ..metrics.multilabel import multilabel_metrics
    from ..training.predictions import save_predictions
    from ..training.presets import blind_preset

    if training_args.process_index != 0:
        logger.info("char-ngram trains in the main process only; process %d has nothing to do",
                    training_args.process_index)  # fmt: skip
        return {"model": model_name, "skipped": True}
    schema, seed, data_config = data_args.schema, training_args.seed, dataclasses.asdict(data_args)
    output_dir = io.ensure_writable(training_args.output_dir)
    train = original_rows(splits["train"])
    settings = CharNgramSettings(seed=seed, blind_group_names=blind_preset(model_name))
    blinded_names = default_group_names() if settings.blind_group_names else ()
    model, search = fit_char_ngram(
        train["text"], np.asarray(train["labels"]), schema.names, settings, ids=train["id"],
        blinded_names=blinded_names,
    )  # fmt: skip
    # The splits' texts are in this canonical form already (data preparation); serving applies it too.
    model.canonical_form = data_args.canonical_steps
    model.save(output_dir, model_name)
    predictions = {}
    for split, name in (("validation", "val"), ("test", "test")):
        if split in splits:
            probs = model.predict_proba(splits[split]["text"])
            labels = np.asarray(splits[split]["labels"])
            save_predictions(output_dir, name, splits[split]["id"], probs, labels, schema)
            predictions[name] = (probs, labels)
    val_probs, val_labels = predictions["val"]
    metrics = {  # no epochs (one fit per C): the C chosen and its search are in `char_ngram`
        "val": multilabel_metrics(val_probs, val_labels, schema.names, 0.5),
        "train_rows": len(train),
        "char_ngram": search,
        "base_model": None,
        "data": data_report,
    }
    io.write_json(output_dir / "metrics.json", metrics)
    io.write_json(output_dir / "run_config.json", {
        "model": {"model": model_name, "settings": settings.__dict__}, "data": data_config,
        "labels": list(schema.names),
        "base_model": None, "data_source": data_report.get("source"),
    })  # fmt: skip
    logger.info(
        "Done: %s val F1-macro %.4f (C=%g); saved to %s",
        model_name,
        metrics["val"]["f1_macro"],
        model.c,
        output_dir,
    )
    return metrics
