"""Data preparation for a training run: load, validate, split, AEDA; once per run under DDP.

TSV or Hub dataset -> `datasets` splits (train with AEDA copies, validation, test) and a data
report saying where the data came from. `recipes/prepare_data.py` writes them to disk once for all
members (`data.save_prepared_splits`); a training run then reads them back.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import DatasetDict

from ..utils import io
from ..utils.errors import UserError
from .aeda import augment_minority_classes, original_rows
from .arguments import PREPARED_SPELLING_COPIES, DataArguments
from .canonical import canonical, canonical_all
from .labels import UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE
from .loading import (
    hub_dataset_commit,
    load_splits,
    read_prepared_report,
    report_overlap,
    save_prepared_splits,
)
from .perturb import add_spelling_copies, without_spelling_copies

if TYPE_CHECKING:  # the training arguments import torch; the data stage needs neither
    from transformers import TrainingArguments

logger = logging.getLogger(__name__)


def data_source(data_args: DataArguments) -> dict:
    """Where the data comes from: each input file with its SHA-256, or the Hub dataset and its commit."""
    if data_args.train_file:
        files = [data_args.train_file, data_args.validation_file, data_args.test_file]
    elif data_args.data_dir:
        files = [Path(data_args.data_dir) / name for name in (UNSMILE_TRAIN_FILE, UNSMILE_VALID_FILE)]
    else:
        return {"hub_dataset": data_args.dataset_name, "commit": hub_dataset_commit(data_args.dataset_name)}
    return {"files": {str(f): io.sha256_file(f) for f in files if f and Path(f).is_file()}}


def changed_data_files(recorded: dict | None, data_args: DataArguments) -> list[str]:
    """The data files that are not what a run recorded (`data_source(...)` at training time): one line
    per file, naming it, with both SHA-256 prefixes (or saying it is gone). With `prepared_data_dir`,
    the prepared folder's record of its source files is compared instead. A Hub dataset is compared
    by nothing here (its rows are read at the recorded commit)."""
    files = (recorded or {}).get("files")
    if not files:
        return []
    if data_args.prepared_data_dir:
        current = (read_prepared_report(data_args.prepared_data_dir).get("source") or {}).get("files", {})
    else:
        current = {f: io.sha256_file(f) for f in files if Path(f).is_file()}
    changed = []
    for file, digest in files.items():
        now = current.get(file)
        if now is None:
            changed.append(f"{file} is gone (SHA-256 {digest[:12]}… at training time)")
        elif now != digest:
            changed.append(f"{file} changed since training (SHA-256 {digest[:12]}… then, {now[:12]}… now)")
    return changed


def prepare_splits(data_args: DataArguments, seed: int, augment: bool = True) -> tuple[DatasetDict, dict]:
    """Load, validate and split the data, then AEDA on train (unless `augment` is off: a caller that
    needs only the val or test rows). Returns the splits and a data report.

    With `prepared_data_dir`, read the splits written earlier by `save_prepared_splits` instead.
    """
    if data_args.prepared_data_dir:
        # The label schema itself comes from this folder's report (DataArguments.schema).
        report = read_prepared_report(data_args.prepared_data_dir)
        splits = DatasetDict.load_from_disk(str(Path(data_args.prepared_data_dir) / "splits"))
        logger.info("Loaded prepared splits from %s: %s", data_args.prepared_data_dir, report["rows"])
        return _copies_as_asked(splits, report, data_args.spelling_copies)
    start = time.perf_counter()
    schema = data_args.schema
    source = data_source(data_args)
    splits = load_splits(
        schema,
        data_dir=data_args.data_dir,
        dataset_name=data_args.dataset_name,
        dataset_revision=source.get("commit"),
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        text_column=data_args.text_column,
        label_columns=data_args.label_column_list,
        label_list_column=data_args.label_list_column,
        val_size=data_args.val_size,
        split_seed=data_args.split_seed,
        max_train_samples=data_args.max_train_samples,
        max_eval_samples=data_args.max_eval_samples,
    )
    steps = data_args.canonical_steps
    if steps:  # before AEDA and tokenisation; the members apply the same steps when serving
        splits = splits.map(_canonical_batch, batched=True, fn_kwargs={"steps": steps}, desc="Canonical form")
    overlap = report_overlap(splits)
    original_train_rows = len(splits["train"])
    added, copies = {}, 0
    if augment:
        splits["train"], added = augment_minority_classes(
            splits["train"],
            schema.names,
            max_ratio=data_args.aeda_max_ratio,
            factor=data_args.aeda_factor,
            punc_ratio=data_args.aeda_punc_ratio,
            seed=seed,
        )
    share = PREPARED_SPELLING_COPIES if data_args.spelling_copies is None else data_args.spelling_copies
    if augment and share > 0:  # after AEDA, so AEDA picks its labels on the rows as written
        before = len(splits["train"])
        train = add_spelling_copies(splits["train"], share, data_args.spelling_rate, seed)
        if steps:  # the copies in the canonical form too, as serving would put them
            train = train.map(_canonical_batch, batched=True, fn_kwargs={"steps": steps, "copies_only": True},
                              desc="Canonical form (copies)")  # fmt: skip
        splits["train"], copies = train, len(train) - before
        logger.info("Spelling games: %d copies of train rows added (share %.2f, rate %.2f)", copies,
                    share, data_args.spelling_rate)  # fmt: skip
    report = {
        "source": source,
        "rows": {name: len(split) for name, split in splits.items()},
        "train_rows_before_aeda": original_train_rows,
        "aeda_rows_added": added,
        "texts_in_several_splits": overlap,
        "canonical_form": list(steps),
        "spelling_copies_added": copies,
        "spelling_copies_share": share if copies else 0.0,
        "prepare_seconds": round(time.perf_counter() - start, 2),
    }
    return splits, report


def _canonical_batch(batch: dict, steps: tuple[str, ...], copies_only: bool = False) -> dict:
    if not copies_only:
        return {"text": canonical_all(batch["text"], steps)}
    return {
        "text": [
            canonical(t, steps) if copy else t
            for t, copy in zip(batch["text"], batch["spelling_copy"], strict=True)
        ]
    }


def _copies_as_asked(splits: DatasetDict, report: dict, share: float | None) -> tuple[DatasetDict, dict]:
    """Prepared splits for a member that takes no spelling-game copies (`share` 0): the marked copies
    left out of train. Another share than the prepared one cannot be made from them: a warning says
    so, and the member trains on the prepared share (its data report records which)."""
    added = report.get("spelling_copies_added", 0)
    prepared = report.get("spelling_copies_share", PREPARED_SPELLING_COPIES if added else 0.0)
    if share == 0 and added:
        splits["train"] = without_spelling_copies(splits["train"])
        report = report | {"spelling_copies_added": 0, "spelling_copies_share": 0.0, "spelling_copies_left_out": added,
                           "rows": report["rows"] | {"train": len(splits["train"])}}  # fmt: skip
        logger.info("Spelling games: the %d prepared copies left out (--spelling_copies 0)", added)
    elif share and share != prepared:
        logger.warning("--spelling_copies %s: the prepared splits hold copies of %s of the train rows; training "
                       "with those (prepare the data with --spelling_copies %s to change it)", share, prepared, share)  # fmt: skip
    return splits, report


def prepare_splits_once(
    data_args: DataArguments, training_args: TrainingArguments
) -> tuple[DatasetDict, dict]:
    """`prepare_splits`, run by one process and shared through disk under data parallelism.

    On a shared filesystem (the Trainer's default, `save_on_each_node=False`) the global main
    process prepares the splits under output_dir and every other rank, on every node, waits and
    reads the same files. With `--save_on_each_node true` (each node has its own disk) the main
    process of each node prepares its node's copy. Either way every rank trains on identical rows.
    """
    if data_args.prepared_data_dir or training_args.world_size <= 1:
        return prepare_splits(data_args, training_args.seed)
    shared = Path(training_args.output_dir) / "prepared_data"
    per_node = training_args.save_on_each_node
    with training_args.main_process_first(local=per_node, desc="data preparation"):
        if (training_args.local_process_index if per_node else training_args.process_index) == 0:
            splits, report = prepare_splits(data_args, training_args.seed)
            save_prepared_splits(splits, report, list(data_args.schema.names), shared)
    return prepare_splits(dataclasses.replace(data_args, prepared_data_dir=str(shared)), training_args.seed)


def split_texts(member_dirs: Sequence[Path], split: str) -> dict[int, str] | None:
    """Row id -> comment of one split ("validation" or "test"), found through a member's run_config.json:
    the prepared splits it read, else its data flags run again. None (and a log line) when neither works."""
    rows = split_rows(member_dirs, split)
    return None if rows is None else dict(zip(rows["id"], rows["text"], strict=True))


def split_rows(member_dirs: Sequence[Path], split: str):
    """The rows (id, text, labels; train without AEDA copies) of one split, as `split_texts` finds
    them; None when they cannot be found."""
    rows = splits_rows(member_dirs, (split,))
    return None if rows is None else rows[split]


def splits_rows(member_dirs: Sequence[Path], splits: Sequence[str]) -> dict | None:
    """`split_rows` of several splits from one preparation of the data: split name -> rows."""
    from datasets import DatasetDict

    named = " and ".join(splits)
    configs = [d / "run_config.json" for d in member_dirs if d is not None]
    # The first member that records its data flags (each file read once).
    run_config = next((c for c in (io.read_json(f) for f in configs if f.is_file()) if c.get("data")), None)
    if not run_config:
        logger.warning("No member records its data flags (run_config.json): no texts for the %s rows", named)
        return None
    known = {f.name for f in dataclasses.fields(DataArguments)}
    try:
        # A member that records no canonical form was trained before there was one: its rows as written
        # (members.base reads its member.json the same way), not today's default form.
        recorded = {"canonical_form": "none"} | run_config["data"]
        data_args = DataArguments(**{k: v for k, v in recorded.items() if k in known})
        # Row ids point into the files the members were trained on: other files, other comments.
        changed = changed_data_files(run_config.get("data_source"), data_args)
        if changed:
            logger.warning("The data is not what the members were trained on (%s): no texts for the %s rows",
                           "; ".join(changed), named)  # fmt: skip
            return None
        if data_args.prepared_data_dir:
            prepared = DatasetDict.load_from_disk(str(Path(data_args.prepared_data_dir) / "splits"))
        else:
            prepared = prepare_splits(data_args, seed=42, augment=False)[0]  # no AEDA: no seed needed
        rows = {split: prepared[split] for split in splits}
    except (UserError, OSError, KeyError, ValueError) as err:
        logger.warning("The %s rows could not be read (%s): no texts for them", named, err)
        return None
    return {split: original_rows(part) for split, part in rows.items()}
