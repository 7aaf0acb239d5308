"""LaTeX as readable text, and the `send-digests` / `digests status` commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from _digest_helpers import add_papers, add_subscriber
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.digest.latex import latex_to_text, one_line
from paperfeed.store import open_database


def test_latex_becomes_readable_text() -> None:
    assert latex_to_text(r"$\alpha_{1}$-nets in $\mathbb{R}^3$") == "α₁-nets in ℝ³"
    assert latex_to_text(r"$O(n^2)$ time, $\frac{1}{2}$ cost") == "O(n²) time, 1/2 cost"
    assert latex_to_text(r"\emph{Fast} $\mathcal{O}(\log n)$ \& costs \$5") == (
        "Fast O(log n) & costs $5"
    )
    assert latex_to_text(r"$x_{max} \leq \epsilon$") == "xₘₐₓ ≤ ε"
    assert latex_to_text(r"$\frac{a+b}{\sqrt{d}}$") == "(a+b)/√d"
    assert latex_to_text(r"$y_{\theta}$") == "y_θ"


def test_one_line_strips_line_breaks() -> None:
    assert one_line("a\r\nBcc: x@example.org\x00b") == "a Bcc: x@example.org b"
    assert one_line("word " * 100, 20).endswith("…")


def test_send_digests_cli_dry_run_and_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = open_database(url)
    add_papers(db, date(2026, 11, 27), 2)
    add_subscriber(db, "cli@example.org")
    runner = CliRunner()
    env = {"PAPERFEED_DATABASE_URL": url, "PAPERFEED_MAIL_BACKEND": "console"}
    dry = runner.invoke(main, ["send-digests", "--dry-run", "--period", "2026-11-27"], env=env)
    assert dry.exit_code == 0 and "1 with new papers" in dry.output
    status = runner.invoke(main, ["digests", "status", "--json"], env=env)
    assert json.loads(status.output)["outbox"]["pending"] == 0  # the dry run wrote nothing
    real = runner.invoke(main, ["send-digests", "--period", "2026-11-27"], env=env)
    assert real.exit_code == 0, real.output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in real.output  # console mailer
    assert "sent 1," in real.output
    status = runner.invoke(main, ["digests", "status"], env=env)
    assert "sent 1" in status.output and "active 1" in status.output
    bad = runner.invoke(main, ["send-digests", "--period", "tomorrow"], env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    db.dispose()
