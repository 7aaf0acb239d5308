"""The README's two commands side by side: ./scripts/test never installs into the demo's .venv.

Checked by hand too (each install takes over a minute here, too slow for the suite): in a fresh
`git archive` copy, the quick start's `.venv` served /static/style.css with 200 before and after
`./scripts/test` ran beside it; the old script's `pip install -e` into `.venv` turned it to 404.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "test"


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_scripts_test_installs_and_runs_only_from_its_own_venv() -> None:
    lines = _commands(SCRIPT.read_text(encoding="utf-8"))
    assert "VENV=${PAPERFEED_TEST_VENV:-.venv-test}" in lines
    # Every pip, venv or tool call goes through $VENV; no line names the quick start's .venv.
    assert [ln for ln in lines if re.search(r"\.venv(?![-\w])", ln) and "!= .venv" not in ln] == []
    for ln in lines:
        if re.search(r"pip install|-m venv|ruff|mypy|lint-imports|pytest", ln):
            assert "$VENV" in ln, ln
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/paperfeed serve --demo"
    assert quick in readme
    assert ".venv-test/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert '".venv-test"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_scripts_test_refuses_the_quick_start_venv_before_installing_anything() -> None:
    env = {**os.environ, "PAPERFEED_TEST_VENV": ".venv"}
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "must not be the quick start's .venv" in done.stderr
