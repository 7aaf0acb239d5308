"""The CLI: one-line errors, help everywhere, and the core commands end to end."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
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
    assert "5003 new" in out.stdout  # 4,902 arXiv papers and 101 bioRxiv/medRxiv ones (bio)
    again = run("import", str(FIXTURES / "hf_raw_days" / "2026-08-21.json"), db=db)
    assert again.returncode == 0 and "0 error(s)" in again.stdout
    exported = run("export", "-o", str(tmp_path / "out.jsonl.gz"), db=db)
    assert exported.returncode == 0 and "exported 5003 paper(s)" in exported.stderr
    with gzip.open(tmp_path / "out.jsonl.gz", "rt") as fh:  # bio: DOI papers keep their server
        sources = [json.loads(line).get("source", "arxiv") for line in fh]
    assert sources.count("biorxiv") == 47 and sources.count("medrxiv") == 54


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


def test_a_truncated_gzip_imports_the_records_before_the_cut(tmp_path: Path) -> None:
    import gzip
    import json

    lines = "\n".join(
        json.dumps({"paperfeed": 1, "id": f"2401.{i:05d}", "title": f"Paper {i}"})
        for i in range(3000)
    )
    whole = gzip.compress(lines.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    db = tmp_path / "pf.db"
    out = run("import", str(cut), db=db)
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    n = int(line.removeprefix(f"{cut}: truncated gzip after ").removesuffix(" records"))
    assert 0 < n < 3000 and f"{n} record(s): {n} new" in out.stdout
    exported = run("export", db=db)
    assert len(exported.stdout.splitlines()) == n


UNREACHABLE = "postgresql://u:secret@127.0.0.1:1/x"
# Every command that opens the database, with the arguments it needs to get that far.
DATABASE_COMMANDS = {
    "init": ["init"],
    "import": ["import", "{file}"],
    "export": ["export"],
    "serve": ["serve", "--port", "1"],
    "index": ["index", "--no-embed"],
    "search": ["search", "diffusion"],
    "harvest arxiv": ["harvest", "arxiv", "--from", "2026-11-01"],
    "harvest hf": ["harvest", "hf", "--date", "2026-11-01"],
    "harvest ids": ["harvest", "ids", "2401.01234"],
    "harvest status": ["harvest", "status"],
    "worker": ["worker", "--once", "rank"],
    "backup": ["backup", "{dir}/out.dump"],
    "send-digests": ["send-digests", "--no-send"],
    "digests status": ["digests", "status"],
    "user create": ["user", "create", "a@example.org", "--password-stdin"],
    "user role": ["user", "role", "a@example.org", "admin"],
    "rank": ["rank"],
    "recommend": ["recommend", "--all"],
    "library import": ["library", "import", "{file}", "--user", "a@example.org"],
    "hub-links": ["hub-links", "2401.01234"],
    "harvest biorxiv": ["harvest", "biorxiv", "--from", "2026-11-01"],
    "token create": ["token", "create", "a@example.org"],
    "token list": ["token", "list", "a@example.org"],
    "token revoke": ["token", "revoke", "a@example.org", "1"],
    "fulltext": ["fulltext", "--limit", "1"],
    "mcp": ["mcp"],  # agents: the stdio MCP server
}
NO_DATABASE = {"settings", "restore"}  # restore reads its backup file before it connects
# Refused before connecting unless configured (tests/test_summaries.py checks the message).
CONFIG_FIRST = {"summarize"}


def _leaf_commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out += _leaf_commands(cmd, full + " ") if isinstance(cmd, click.Group) else [full]
    return out


def test_every_command_is_checked_against_an_unreachable_database() -> None:
    assert set(_leaf_commands(main)) == set(DATABASE_COMMANDS) | NO_DATABASE | CONFIG_FIRST


@pytest.mark.parametrize("name", sorted(DATABASE_COMMANDS))
def test_an_unreachable_database_is_one_line_without_the_password(
    name: str, tmp_path: Path
) -> None:
    file = tmp_path / "in.jsonl"
    file.write_text("{}\n")
    args = [a.format(file=file, dir=tmp_path) for a in DATABASE_COMMANDS[name]]
    result = CliRunner().invoke(
        main, ["--database-url", UNREACHABLE, *args], input="a-long-enough-password\n"
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert "secret" not in result.output
    assert line.startswith("error: ") and "127.0.0.1" in line, line
    if name != "backup":  # pg_dump says it in its own words, naming host and port
        assert line.startswith("error: cannot connect to the PostgreSQL database x on 127.0.0.1:1")
        assert "Connection refused" in line
