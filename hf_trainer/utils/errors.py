"""One way to fail: user-facing errors share a base class, and each recipe turns them into one line.

A `UserError` is a problem the user can fix (a missing file, a bad flag value, a model that cannot
be used as asked). A recipe's entry point runs its `main` through `run_recipe`, which prints such an
error as one line saying what is wrong and what to do, and exits with code 2. `--debug` anywhere on
the command line shows the traceback as well. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

USER_ERROR_EXIT = 2


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


class InvalidArgument(UserError, ValueError):
    """A command-line flag or recipe setting that cannot work."""


class InputNotFound(UserError, FileNotFoundError):
    """A file or folder the user named (or that an earlier step should have written) is missing."""


class InvalidInput(UserError, ValueError):
    """An input file exists but its content is wrong (located by file, and line and column if known)."""


class ModelLoadError(UserError, OSError):
    """A model or tokenizer could not be loaded as asked."""


def recover_utf8_argv(args: list[str]) -> list[str]:
    """Command-line arguments as UTF-8 text whatever the locale (a C locale surrogate-escapes them)."""
    return [a.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace") for a in args]


def run_recipe(main: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Run a recipe's `main(argv)`; a `UserError` ends as one line on stderr and exit code 2, with
    the traceback only under `--debug`. Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # A bare --debug is ours; `--debug underflow_overflow` stays the TrainingArguments flag.
    bare = [
        i
        for i, a in enumerate(argv)
        if a == "--debug" and (i + 1 == len(argv) or argv[i + 1].startswith("--"))
    ]
    debug = bool(bare)
    argv = [a for i, a in enumerate(argv) if i not in bare]
    try:
        main(argv)
    except UserError as err:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return USER_ERROR_EXIT
    return 0
