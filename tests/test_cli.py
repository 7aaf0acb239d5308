"""The CLI: one-line errors, help everywhere, and the core commands end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES

from paperfeed.cli import main


def run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", "--database-url", f"sqlite:///{db}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_for_every_command() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in main.commands:
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)
        assert "Usage:" in sub.output


def test_init_sample_import_export(tmp_path: Path) -> None:
    db = tmp_path / "pf.db"
    out = run("init", "--sample", db=db)
    assert out.returncode == 0, out.stderr
    assert "4902 new" in out.stdout
    again = run("import", str(FIXTURES / "hf_raw_days" / "2026-08-21.json"), db=db)
    assert again.returncode == 0 and "0 error(s)" in again.stdout
    exported = run("export", "-o", str(tmp_path / "out.jsonl.gz"), db=db)
    assert exported.returncode == 0 and "exported 4902 paper(s)" in exported.stderr


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    db = tmp_path / "pf.db"
    missing = run("import", str(tmp_path / "nope.jsonl"), db=db)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: no such file: {tmp_path / 'nope.jsonl'}"
    ]
    bad_url = subprocess.run(
        [sys.executable, "-m", "paperfeed", "--database-url", "mysql://x", "init"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_url.returncode == 2 and "Traceback" not in bad_url.stderr
    assert "unsupported database URL" in bad_url.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{oops\n")
    out = run("import", str(broken), db=db)
    assert out.returncode == 1 and "broken.jsonl:1: invalid JSON" in out.stderr
