"""The front door and the pages behind it: README fits on a few screens, every docs page starts with
a command that runs, and every relative link leads to a file that exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.helpers import ENV, REPO_ROOT

TASK_PAGES = ("training", "pipeline", "selection", "evaluation", "robustness", "serving", "scaling")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def first_command(page: str) -> list[str]:
    """The first line of the page's first bash block, as words, without its comment."""
    text = (REPO_ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, f"docs/{page}.md has no bash block"
    line = block.group(1).splitlines()[0].split("  #")[0].rstrip(" \\")
    return shlex.split(line)


def test_readme_is_a_front_door():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    readme = "\n".join(lines)
    assert "bash run_all.sh --demo" in readme and "python -m pytest -q -n 2 --dist loadfile" in readme
    assert all(f"docs/{page}.md" in readme for page in TASK_PAGES)


@pytest.mark.parametrize("page", TASK_PAGES)
def test_each_task_page_starts_with_a_command_that_runs(page):
    words = first_command(page)
    assert words[0] in ("python", "bash") and words[1].startswith(("recipes/", "run_all.sh")), words
    program = [sys.executable] if words[0] == "python" else ["bash"]
    done = subprocess.run(
        [*program, words[1], "--help"], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "usage:" in done.stdout, (page, done.stderr[-500:])
    flags = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
    assert flags and all(flag in done.stdout for flag in flags), (page, flags)  # the page's flags exist


def test_first_command_reads_the_line_a_user_types(tmp_path, monkeypatch):
    page = tmp_path / "docs" / "x.md"
    page.parent.mkdir()
    page.write_text(
        "# X\n\n```bash\npython recipes/x.py --a 1   # why\nbash run_all.sh\n```\n", encoding="utf-8"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert first_command("x") == ["python", "recipes/x.py", "--a", "1"]


def test_every_relative_link_leads_somewhere():
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(REPO_ROOT)} -> {target}"
        for page in pages
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert broken == []
