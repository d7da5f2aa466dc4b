"""The one place that decides which kind of member a folder or an ensemble.json entry is.

A member folder declares its kind in `member.json` (written by the member's own save, or when its
training starts); kinds map to classes through the closed table below, never through a name or
import path read from a file. Folders written before member.json existed still load: the fallback
reads what such folders hold (`char_ngram.json` for a char n-gram member, else a transformers
checkpoint).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..utils import io
from ..utils.errors import InputNotFound, InvalidArgument, InvalidInput
from .base import MemberInfo

logger = logging.getLogger(__name__)

TRANSFORMER = "transformer"
CHAR_NGRAM = "char-ngram"
KINDS = (TRANSFORMER, CHAR_NGRAM)
LEGACY_CHAR_NGRAM_FILE = "char_ngram.json"  # what marked a char n-gram folder before member.json


def member_class(kind: str) -> type:
    """The class of a member kind (closed: an unknown kind is refused, never imported by name)."""
    if kind == TRANSFORMER:
        from .transformer import TransformerMember

        return TransformerMember
    if kind == CHAR_NGRAM:
        from .char_ngram import CharNgramMember

        return CharNgramMember
    _check_known(kind)
    raise AssertionError(kind)  # a kind in KINDS without a class above


def _check_known(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"unknown member kind {kind!r}; this version knows {', '.join(KINDS)}")


def folder_info(folder: str | Path) -> MemberInfo | None:
    """What a member folder holds: its member.json, else (a folder from before member.json) what
    its files show; None for a folder that holds no member (missing or empty)."""
    folder = Path(folder)
    declared = MemberInfo.read(folder)
    if declared is not None:
        _check_known(declared.kind)
        return declared
    if (folder / LEGACY_CHAR_NGRAM_FILE).is_file():
        return MemberInfo(CHAR_NGRAM, _config_labels(folder), CHAR_NGRAM)
    # A transformers checkpoint, a run started before it saved one, or (as the ensemble stage has always
    # read them) a member's predictions alone.
    if any((folder / name).exists() for name in ("config.json", "run_config.json", "predictions")):
        return MemberInfo(TRANSFORMER, _config_labels(folder), _trained_from(folder))
    return None


def folder_kind(folder: str | Path) -> str:
    """The kind of the member in `folder` (see `folder_info`)."""
    info = folder_info(folder)
    if info is None:
        raise InputNotFound(
            f"{folder} holds no trained member (no member.json or config.json): train it first (recipes/train.py)"
        )
    return info.kind


def entry_kind(entry: dict, local: Path | None) -> str:
    """The kind of one ensemble.json member: its local folder's, checked against the kind the entry
    recorded; without a local folder (a Hub member) the recorded kind (entries from before the
    kind was recorded are transformers: the char n-gram member came with the field)."""
    recorded = entry.get("kind")
    if local is not None and local.is_dir():
        kind = folder_kind(local)
        if recorded is not None and recorded != kind:
            raise InvalidInput(
                f"member '{entry.get('name')}': ensemble.json records a {recorded} member, but {local} now holds a "
                f"{kind} member (trained again since?); rerun recipes/ensemble.py and recipes/thresholds.py"
            )
        return kind
    kind = recorded or TRANSFORMER
    _check_known(kind)
    return kind


def _config_labels(folder: Path) -> list[str]:
    config = folder / "config.json"
    if not config.is_file():
        return []
    id2label = io.read_json(config).get("id2label") or {}
    return [id2label[str(i)] for i in range(len(id2label))]


def _trained_from(folder: Path) -> str | None:
    """The model a transformer folder was trained from, per its run_config.json (None if unknown)."""
    run_config = folder / "run_config.json"
    if not run_config.is_file():
        return None
    model = io.read_json(run_config).get("model") or {}
    return model.get("model_name_or_path") or model.get("model")


def load_members(folder: Path, spec, backend: str = "torch", **options) -> list:
    """The members of the ensemble folder `folder` (ensemble.json: `spec`), each from its local folder
    beside the ensemble, else its Hub id. `backend="onnx"` serves every transformer member from its
    checked ONNX copy (`members.onnx.served_files`); `options` go to each member's `load`."""
    kinds = [entry_kind(e, d) for e, d in zip(spec.members, spec.member_dirs(folder), strict=True)]
    onnx_files = {}
    if backend == "onnx":
        from .onnx import served_files

        exported = [e["name"] for e, kind in zip(spec.members, kinds, strict=True) if kind == TRANSFORMER]
        if exported:
            dirs = {e["name"]: d for e, d in zip(spec.members, spec.member_dirs(folder), strict=True)}
            onnx_files = served_files(folder, exported, {name: dirs[name] for name in exported})
        else:
            logger.info("ONNX backend: no transformer member; the char n-gram members keep their own path")
    members = []
    for entry, local, kind in zip(spec.members, spec.member_dirs(folder), kinds, strict=True):
        source = str(local) if local is not None and local.is_dir() else entry.get("hub_id")
        if not source:
            raise InputNotFound(f"member '{entry.get('name')}': {local} does not exist and it has no hub_id")
        if entry["name"] in onnx_files:
            from .onnx import OnnxMember

            members.append(OnnxMember.load(onnx_files[entry["name"]], source, spec.labels, **options))
        else:
            members.append(member_class(kind).load(source, **options))
    return members


def claim_folder(folder: str | Path, info: MemberInfo, overwrite: bool = False, write: bool = True) -> None:
    """Make `folder` the folder of the member `info` describes: a folder that holds a member of another
    kind or model stops the run with one line, unless `overwrite` moves it aside (`<folder>.old-<time>`,
    never deleted). With `write` (the process that saves), writes member.json first, so that a
    killed run's folder already says what it holds."""
    folder = Path(folder)
    held = folder_info(folder) if folder.is_dir() else None
    if held is not None and (held.kind != info.kind or (held.model is not None and held.model != info.model)):
        what = f"a {held.kind} member" + (f" trained from {held.model}" if held.model else "")
        if not overwrite:
            raise InvalidArgument(
                f"{folder} holds {what}, not this {info.kind} member ({info.model}): choose another --output_dir, "
                "or pass --overwrite_output_dir to move that folder aside"
            )
        if write:
            logger.warning("%s held %s: moved aside to %s", folder, what, io.move_aside(folder))
    if write:
        io.ensure_writable(folder)
        info.save(folder)
