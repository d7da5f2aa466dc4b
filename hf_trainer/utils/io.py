"""Files in and out: atomic writes (a result file is complete or absent, never half-written), JSON,
hashes, and the line and TSV-column readers of recipes/predict.py."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np

from .errors import InputNotFound, InvalidInput, UserError


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2, default=_json_default)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a truncated or hand-broken one is an error naming file, line and column, a
    missing one, a folder or one not in UTF-8 a one-line error too."""
    try:  # decoded whole, so that a bad byte's offset is the file's
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except json.JSONDecodeError as err:
        raise InvalidInput(
            f"{path}, line {err.lineno}, column {err.colno}: not valid JSON ({err.msg}). The file is "
            "truncated or was edited by hand: restore it, or rerun the step that writes it."
        ) from None
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{path}, byte {err.start}: not UTF-8 text, which JSON files must be") from None
    except FileNotFoundError:
        raise InputNotFound(f"{path} not found") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not a JSON file") from None


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def move_aside(path: str | os.PathLike) -> Path:
    """Rename `path` to `<name>.old-<timestamp>` beside it (never deleted); returns the new path."""
    import datetime as dt

    path = Path(path)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.old-{stamp}")
    n = 1
    while aside.exists():  # two moves within one second
        n += 1
        aside = path.with_name(f"{path.name}.old-{stamp}-{n}")
    path.rename(aside)
    return aside


def digest(*parts: Any) -> str:
    """A short, stable fingerprint of JSON-able values (configurations, commands, file hashes)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OutputWriteError(UserError, OSError):
    """Results could not be written: the folder is not writable, or the disk is full."""


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create `folder` if needed and prove a file can be written there, or fail with a clear message."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise OutputWriteError(f"output directory {folder} is not writable: {err.strerror or err}") from None
    return folder


def check_free_space(folder: str | os.PathLike, needed_bytes: int, what: str) -> None:
    """Fail before any work when the disk under `folder` has less than `needed_bytes` free."""
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OutputWriteError(
            f"{folder}: {what} needs about {needed_bytes / 1e9:.1f} GB, only {free / 1e9:.1f} GB are free. "
            "Free some space, choose another --output_dir, or lower --save_total_limit."
        )


@contextlib.contextmanager
def explain_write_errors(folder: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk or a read-only folder met while writing into one clear error."""
    try:
        yield
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise OutputWriteError(
                f"writing to {folder} failed: {err.strerror}. Completed checkpoints there are kept; "
                "fix the cause and run the same command again to resume."
            ) from err
        raise


def read_lines(handle: BinaryIO) -> Iterator[str]:
    """Lines of a UTF-8 byte stream split on \\n only (a stray \\r inside a comment stays in it, so
    line N of the output is line N of the input); a CRLF line end loses its \\r, and a UTF-8 byte-order
    mark at the start of the file (Windows editors write one) is dropped."""
    for number, raw in enumerate(handle):
        if number == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        line = raw[:-1] if raw.endswith(b"\n") else raw
        line = line[:-1] if line.endswith(b"\r") else line
        yield line.decode("utf-8", errors="replace")


def check_utf8(path: str | os.PathLike, source: str, chunk_bytes: int = 1 << 16) -> None:
    """Fail, before any work, when a text file is not UTF-8: the error names its line and byte column
    (a Korean file saved as CP949/EUC-KR would otherwise be read as replacement characters). Reads the
    file once, a chunk at a time."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines_before, line_start = 0, 0, 0  # bytes read; newlines and the last line's start before them
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            pending = len(decoder.getstate()[0])  # bytes of a character the last chunk ended inside
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                bad = offset - pending + err.start
                head = chunk[: max(0, bad - offset)]
                line = lines_before + head.count(b"\n") + 1
                if b"\n" in head:
                    line_start = offset + head.rfind(b"\n") + 1
                raise InvalidInput(
                    f"{source}, line {line}, byte {bad - line_start + 1}: not UTF-8 text. Save the file as "
                    "UTF-8 (a CP949/EUC-KR file: iconv -f cp949 -t utf-8 IN > OUT)"
                ) from None
            lines_before += chunk.count(b"\n")
            if b"\n" in chunk:
                line_start = offset + chunk.rfind(b"\n") + 1
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}: ends inside a UTF-8 character (the file is cut short)") from None


def read_tsv_column(handle: BinaryIO, column_name: str, source: str) -> Iterator[str]:
    """The cells of one column of a TSV with a header (lines split as in `read_lines`)."""
    lines = read_lines(handle)
    header = next(lines, "").split("\t")
    if column_name not in header:
        raise InvalidInput(f"{source}, line 1: no column '{column_name}' in the header {header}")
    column = header.index(column_name)
    for number, line in enumerate(lines, start=2):
        fields = line.split("\t")
        if column >= len(fields):
            raise InvalidInput(
                f"{source}, line {number}, column {column + 1} ('{column_name}'): the row has only {len(fields)} fields"
            )
        yield fields[column]


def read_table(
    path: str | os.PathLike, columns: Sequence[str], what: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: cell}) for each non-blank row of one of the project's own TSVs (UTF-8, a
    byte-order mark from Excel dropped, CRLF read as LF) whose header must be exactly `columns`; a
    missing file, another header or a row with another number of fields stops with the file and
    line. `what` names the file in the first error."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: {what} not found")
    lines = path.read_text(encoding="utf-8").removeprefix("\ufeff").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if tuple(header) != tuple(columns):
        raise InvalidInput(f"{path}, line 1: the header must be {'<TAB>'.join(columns)}, got {header}")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != len(columns):
            raise InvalidInput(f"{path}, line {number}: {len(fields)} fields, {len(columns)} expected")
        yield number, dict(zip(columns, fields, strict=True))
