"""The README's two set-up commands: CI runs the test command exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_gives_exactly_two_commands() -> None:
    main, tests = _commands()
    assert "curator score" in main and "pytest" in tests
    assert "\n" not in main and "\n" not in tests


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = _commands()
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()
