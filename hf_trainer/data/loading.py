"""Data: read and validate TSVs, build the train / validation / test splits, tokenise.

Every problem in an input file is reported with the file, the line number (1-based, header = 1)
and the column, and nothing is dropped silently.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict, Features, Value
from datasets import Sequence as FeatureSequence

from ..utils import io
from ..utils.errors import InputNotFound, InvalidInput, UserError
from .labels import (
    UNSMILE_HUB_DATASET,
    UNSMILE_LABELS,
    UNSMILE_TEXT_COLUMN,
    UNSMILE_TRAIN_FILE,
    UNSMILE_VALID_FILE,
    LabelSchema,
)

logger = logging.getLogger(__name__)

FEATURES = Features(
    {
        "id": Value("int64"),
        "text": Value("string"),
        "labels": FeatureSequence(Value("float32")),
    }
)


class DataValidationError(InvalidInput):
    """A problem in an input file, located by file, line and column."""

    def __init__(self, path: str | os.PathLike, line: int, column: str, message: str) -> None:
        self.path, self.line, self.column = str(path), line, column
        super().__init__(f"{path}, line {line}, column {column}: {message}")


@dataclass
class LabelledTexts:
    """Rows of one file: `ids` are 0-based data-row indices (file line = id + 2)."""

    path: str
    ids: np.ndarray
    texts: list[str]
    labels: np.ndarray  # float32 multi-hot, shape (rows, num_labels)

    def to_dataset(self) -> Dataset:
        return Dataset.from_dict(
            {"id": self.ids.tolist(), "text": self.texts, "labels": self.labels.tolist()},
            features=FEATURES,
        )


def _decode(path: Path, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        hint = ""
        try:
            raw.decode("cp949")
            hint = (
                " The file decodes as CP949/EUC-KR (common for Korean files saved on Windows); convert it "
                f"with `iconv -f cp949 -t utf-8 {path} > {path.stem}.utf8{path.suffix}`."
            )
        except UnicodeDecodeError:
            pass
        raise DataValidationError(path, line, f"byte {col}", f"not valid UTF-8.{hint}") from None
    if text.startswith("\ufeff"):
        logger.info("%s: removed a UTF-8 byte order mark", path)
        text = text[1:]
    return text


def _column_label(header: list[str], index: int) -> str:
    return f"{index + 1} ('{header[index]}')" if index < len(header) else str(index + 1)


def _file_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (a CP949 file gets a conversion hint), at least the header."""
    if not path.is_file():
        raise InputNotFound(f"data file not found: {path}")
    text = _decode(path, path.read_bytes())
    # Split on newlines only: str.splitlines() would also split inside comments on U+2028, \x1c etc.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not lines:
        raise DataValidationError(path, 1, "-", "the file is empty (no header row)")
    return lines


def _checked_header(path: Path, first_line: str, wanted: Sequence[str]) -> list[str]:
    """The header's column names; a wanted column that is missing names the closest one."""
    header = [name.strip() for name in first_line.split("\t")]
    for name in wanted:
        if name not in header:
            close = difflib.get_close_matches(name, header, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            if len(header) == 1 and ("," in first_line or ";" in first_line):
                hint += " The header has no tab: is this a comma-separated file? This reader expects TSV."
            raise DataValidationError(
                path, 1, f"'{name}'", f"required column missing from the header {header}.{hint}"
            )
    return header


def _label_columns(fields: list[str], label_idx: list[int], where: tuple) -> np.ndarray:
    """A row's labels from one 0/1 column per label."""
    path, line_no, header = where
    vector = np.zeros(len(label_idx), dtype=np.float32)
    for j, idx in enumerate(label_idx):
        value = fields[idx].strip()
        if value not in ("0", "1"):
            raise DataValidationError(
                path, line_no, _column_label(header, idx), f"label must be 0 or 1, found {value!r}"
            )
        vector[j] = float(value)
    return vector


def _label_list(fields: list[str], list_idx: int, schema: LabelSchema, where: tuple) -> np.ndarray:
    """A row's labels from one column of comma-separated label names or ids."""
    path, line_no, header = where
    vector = np.zeros(schema.num_labels, dtype=np.float32)
    for item in fields[list_idx].split(","):
        if not item.strip():
            continue
        try:
            vector[schema.index(item)] = 1.0
        except KeyError:
            raise DataValidationError(
                path,
                line_no,
                _column_label(header, list_idx),
                f"unknown label {item.strip()!r}; known labels: {list(schema.names)} or ids "
                f"0..{schema.num_labels - 1}",
            ) from None
    return vector


def read_labelled_tsv(
    path: str | os.PathLike,
    schema: LabelSchema,
    *,
    text_column: str = UNSMILE_TEXT_COLUMN,
    label_columns: Sequence[str] | None = None,
    label_list_column: str | None = None,
) -> LabelledTexts:
    """Read a tab-separated file with quoting disabled and validate every row.

    Labels come either from one 0/1 column per label (`label_columns`, in schema order; default:
    the schema's names) or from one column holding a comma-separated list of label names or ids
    (`label_list_column`; empty means no label). Extra columns are ignored.
    """
    path = Path(path)
    lines = _file_lines(path)
    if label_list_column is None and label_columns is None:
        label_columns = list(schema.names)
    wanted = [text_column] + ([label_list_column] if label_list_column else list(label_columns or []))
    if label_columns is not None and label_list_column is None and len(label_columns) != schema.num_labels:
        raise InvalidInput(f"{len(label_columns)} label columns given for {schema.num_labels} labels")
    header = _checked_header(path, lines[0], wanted)
    text_idx = header.index(text_column)
    label_idx = [header.index(name) for name in (label_columns or [])]
    list_idx = header.index(label_list_column) if label_list_column else None

    ids, texts, rows = [], [], []
    for row_number, line in enumerate(lines[1:]):
        line_no = row_number + 2
        fields = line.split("\t")
        if len(fields) != len(header):
            problem = "an empty line" if line.strip() == "" else f"{len(fields)} tab-separated fields"
            raise DataValidationError(
                path,
                line_no,
                _column_label(header, min(len(fields), len(header))),
                f"expected {len(header)} tab-separated fields as in the header, found {problem}",
            )
        comment = fields[text_idx].strip()
        if not comment:
            raise DataValidationError(
                path, line_no, _column_label(header, text_idx), "empty or whitespace-only text"
            )
        where = (path, line_no, header)
        vector = (
            _label_columns(fields, label_idx, where)
            if list_idx is None
            else _label_list(fields, list_idx, schema, where)
        )
        ids.append(row_number)
        texts.append(comment)
        rows.append(vector)

    if not rows:
        raise DataValidationError(path, 2, "-", "the file has a header but no data rows")
    labels = np.stack(rows)
    no_label = int((labels.sum(axis=1) == 0).sum())
    duplicates = len(texts) - len(set(texts))
    logger.info(
        "%s: %d rows, %d with no label, %d duplicate texts", path.name, len(texts), no_label, duplicates
    )
    return LabelledTexts(str(path), np.asarray(ids, dtype=np.int64), texts, labels)


def stratified_split(dataset: Dataset, val_size: float | int, seed: int) -> tuple[Dataset, Dataset]:
    """Seeded multi-label iterative stratification (Sechidis et al. 2011) of one split into two."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    labels = np.asarray(dataset["labels"], dtype=np.float32).astype(np.int8)
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)
    train_idx, val_idx = next(splitter.split(np.zeros(len(labels)), labels))
    return dataset.select(np.sort(train_idx)), dataset.select(np.sort(val_idx))


def hub_dataset_commit(dataset_name: str) -> str | None:
    """The commit sha the Hub's main branch of `dataset_name` points to now (None when unreachable)."""
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(dataset_name).sha
    except Exception as err:  # offline or no access: loading will say so, or use the local cache
        logger.info("Could not resolve the commit of %s (%s)", dataset_name, type(err).__name__)
        return None


def _load_hub_unsmile(
    dataset_name: str, schema: LabelSchema, revision: str | None = None
) -> tuple[LabelledTexts, LabelledTexts]:
    from datasets import load_dataset

    try:
        hub = load_dataset(dataset_name, revision=revision)
    except Exception as err:  # network, auth, missing repo: all end the same way for the user
        raise UserError(
            f"Could not load the dataset '{dataset_name}' from the Hugging Face Hub ({type(err).__name__}). "
            "Pass --data_dir DIR holding unsmile_train_v1.0.tsv and unsmile_valid_v1.0.tsv, or "
            "--train_file/--validation_file/--test_file."
        ) from err
    parts = []
    for split in ("train", "valid"):
        table = hub[split]
        missing = [c for c in (UNSMILE_TEXT_COLUMN, *schema.names) if c not in table.column_names]
        if missing:
            raise InvalidInput(f"Hub dataset {dataset_name}[{split}] lacks the columns {missing}")
        labels = np.stack([np.asarray(table[name], dtype=np.float32) for name in schema.names], axis=1)
        parts.append(
            LabelledTexts(
                f"{dataset_name}[{split}]",
                np.arange(len(table), dtype=np.int64),
                [t.strip() for t in table[UNSMILE_TEXT_COLUMN]],
                labels,
            )
        )
    return parts[0], parts[1]


def report_overlap(splits: DatasetDict) -> dict[str, int]:
    """Count texts that occur in more than one split (possible leakage) and warn about them."""
    sets = {name: set(ds["text"]) for name, ds in splits.items()}
    names = list(sets)
    overlap = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = len(sets[a] & sets[b])
            overlap[f"{a}&{b}"] = shared
            if shared:
                logger.warning("%d distinct texts occur in both the %s and the %s split", shared, a, b)
    return overlap


def load_splits(
    schema: LabelSchema,
    *,
    data_dir: str | None = None,
    dataset_name: str = UNSMILE_HUB_DATASET,
    dataset_revision: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
    text_column: str = UNSMILE_TEXT_COLUMN,
    label_columns: Sequence[str] | None = None,
    label_list_column: str | None = None,
    val_size: float = 0.1,
    split_seed: int = 42,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
) -> DatasetDict:
    """Build `train`, `validation` and (when there is one) `test` splits.

    UnSmile (`data_dir` or the Hub): validation is a stratified `val_size` of the official train
    split, test is the official `valid` split. Generic files: validation is `validation_file` when
    given, else a stratified part of `train_file`.
    """
    read = dict(
        schema=schema,
        text_column=text_column,
        label_columns=label_columns,
        label_list_column=label_list_column,
    )
    test = None
    if train_file:
        train = read_labelled_tsv(train_file, **read).to_dataset()
        if validation_file:
            validation = read_labelled_tsv(validation_file, **read).to_dataset()
        else:
            train, validation = stratified_split(train, val_size, split_seed)
        if test_file:
            test = read_labelled_tsv(test_file, **read).to_dataset()
    else:
        if schema.names != UNSMILE_LABELS:
            raise InvalidInput(
                "custom label names need --train_file (and --label_columns or --label_list_column)"
            )
        if data_dir:
            official_train = read_labelled_tsv(Path(data_dir) / UNSMILE_TRAIN_FILE, schema)
            official_valid = read_labelled_tsv(Path(data_dir) / UNSMILE_VALID_FILE, schema)
        else:
            logger.info("No --data_dir given: loading %s from the Hugging Face Hub", dataset_name)
            official_train, official_valid = _load_hub_unsmile(dataset_name, schema, dataset_revision)
        train, validation = stratified_split(official_train.to_dataset(), val_size, split_seed)
        test = official_valid.to_dataset()

    if max_train_samples is not None:
        train = train.select(range(min(max_train_samples, len(train))))
    if max_eval_samples is not None:
        validation = validation.select(range(min(max_eval_samples, len(validation))))
        if test is not None:
            test = test.select(range(min(max_eval_samples, len(test))))
    splits = DatasetDict(train=train, validation=validation)
    if test is not None:
        splits["test"] = test
    logger.info("Splits: %s", ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    return splits


def tokenize_splits(
    splits: DatasetDict, tokenizer, max_length: int, num_proc: int | None = None
) -> DatasetDict:
    """Tokenise with truncation and no padding (batches are padded by the collator)."""

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return DatasetDict(
        {
            name: split.map(
                tokenize,
                batched=True,
                num_proc=num_proc,
                remove_columns=[c for c in ("text", "augmented") if c in split.column_names],
                desc=f"Tokenising {name}",
            )
            for name, split in splits.items()
        }
    )


PREPARED_REPORT = "data_report.json"


def read_prepared_report(folder: str | Path) -> dict:
    report = Path(folder) / PREPARED_REPORT
    if not report.is_file():
        raise InputNotFound(f"{report} not found: write the splits with recipes/prepare_data.py first")
    return io.read_json(report)


def read_prepared_labels(folder: str | Path) -> list[str]:
    return read_prepared_report(folder)["labels"]


def save_prepared_splits(splits: DatasetDict, report: dict, labels: list[str], folder: str | Path) -> Path:
    """Write the splits (Arrow) and the data report; the report goes last and marks the folder complete."""
    folder = Path(folder)
    splits.save_to_disk(str(folder / "splits"))
    io.write_json(folder / PREPARED_REPORT, {**report, "labels": list(labels)})
    return folder
