"""The recipes' parser: a YAML recipe first, command-line flags override it, with "Did you mean"
hints for unknown keys and flags."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import yaml
from transformers import HfArgumentParser

from .errors import InputNotFound, InvalidArgument, recover_utf8_argv


class RecipeArgumentParser(HfArgumentParser):
    """`recipe.py [config.yaml] [--flag value ...]`: the YAML sets defaults, flags override them."""

    def parse(self, args: list[str] | None = None):
        # Under a C locale argv arrives surrogate-escaped; recover UTF-8 (Korean column and label names).
        args = recover_utf8_argv(list(sys.argv[1:] if args is None else args))
        if args and args[0].endswith((".yaml", ".yml")):
            self._apply_yaml_defaults(Path(args.pop(0)))
        *parsed, unknown = self.parse_args_into_dataclasses(
            args=args, look_for_args_file=False, return_remaining_strings=True
        )
        if unknown:
            flags = [a for a in unknown if a.startswith("-")] or unknown
            known = [option for action in self._actions for option in action.option_strings]
            close = difflib.get_close_matches(flags[0], known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise InvalidArgument(f"unknown argument(s) {' '.join(unknown)}.{hint} See --help.")
        return tuple(parsed)

    def _apply_yaml_defaults(self, path: Path) -> None:
        if not path.is_file():
            raise InputNotFound(f"recipe config not found: {path}")
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(values, dict):
            raise InvalidArgument(f"{path}: a recipe config must be a mapping of argument names to values")
        known = {action.dest for action in self._actions}
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise InvalidArgument(f"{path}: unknown argument '{key}'.{hint}")
        # Strings go through argparse's type conversion; YAML lists become the flag's list value.
        self.set_defaults(**{k: (str(v) if isinstance(v, float) else v) for k, v in values.items()})
        for action in self._actions:
            if action.dest in values and action.required:
                action.required = False
