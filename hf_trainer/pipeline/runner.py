"""Runs a stage graph: one subprocess per stage, its output shown and kept in a log, and markers.

A stage that finishes writes <output_dir>/.pipeline/<stage>.done.json with its fingerprint; a rerun
skips a stage whose fingerprint still matches. A stage about to run whose folder holds the output of
another configuration has that folder moved aside, timestamped, never deleted; a folder of the same
configuration (an interrupted run) is kept, so that training resumes from its last checkpoint.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from ..utils import io
from .stages import REPO_ROOT, Stage

logger = logging.getLogger(__name__)

MARKERS = ".pipeline"


class StageFailed(RuntimeError):
    pass


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class StageRunner:
    def __init__(self, output_dir: str | Path) -> None:
        self.out = Path(output_dir)
        self.markers = self.out / MARKERS
        self.logs = self.out / "logs"
        self.timings: dict[str, float] = {}

    def marker(self, stage: Stage, kind: str = "done") -> Path:
        return self.markers / f"{stage.name}.{kind}.json"

    def is_done(self, stage: Stage) -> bool:
        marker = self.marker(stage)
        return marker.is_file() and io.read_json(marker).get("fingerprint") == stage.fingerprint()

    def started_before(self, stage: Stage) -> bool:
        """Whether the last start of this stage had this configuration (an interrupted or failed run)."""
        started = self.marker(stage, "started")
        return started.is_file() and io.read_json(started).get("fingerprint") == stage.fingerprint()

    def prepare_output(self, stage: Stage) -> None:
        """Keep an interrupted run of the same config (to resume it); move aside one of another config."""
        if stage.output is None or not stage.output.exists() or self.started_before(stage):
            return
        aside = io.move_aside(stage.output)
        logger.info(
            "Stage %s: its configuration or inputs changed; moved %s to %s", stage.name, stage.output, aside
        )

    def run_stage(self, stage: Stage) -> None:
        self.prepare_output(stage)
        # An earlier configuration's done marker must not outlive this start: were this run stopped, a
        # rerun of that configuration would skip the stage while its folder holds this one's output.
        self.marker(stage).unlink(missing_ok=True)
        command = stage.command + stage.run_only_args
        io.write_json(self.marker(stage, "started"), {"fingerprint": stage.fingerprint(), "command": command})
        log_path = self.logs / f"{stage.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Stage %s: start (log: %s)", stage.name, log_path)
        logger.debug("Stage %s: %s", stage.name, shlex.join(command))
        start = time.perf_counter()
        env = os.environ | {
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        with open(log_path, "ab") as log:
            log.write(
                f"\n==== {dt.datetime.now().isoformat(timespec='seconds')} {shlex.join(command)}\n".encode()
            )
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            for chunk in iter(lambda: process.stdout.read1(4096), b""):
                log.write(chunk)
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            code = process.wait()
        seconds = time.perf_counter() - start
        if code != 0:
            raise StageFailed(
                f"stage '{stage.name}' failed (exit {code}) after {seconds:.0f}s; see {log_path}"
            )
        self.timings[stage.name] = seconds
        finished = dt.datetime.now().isoformat(timespec="seconds")
        io.write_json(
            self.marker(stage),
            {"fingerprint": stage.fingerprint(), "seconds": round(seconds, 1), "finished_at": finished},
        )
        logger.info("Stage %s: done in %s", stage.name, duration(seconds))

    def run(self, stages: list[Stage]) -> dict[str, float]:
        """Run every stage that is not done yet, in order; returns the seconds of those that ran."""
        for stage in stages:
            if self.is_done(stage):
                logger.info("Stage %s: unchanged since its last run, skipped", stage.name)
                continue
            self.run_stage(stage)
        return self.timings
