"""A digest worker killed with SIGKILL mid-run and restarted: nobody is skipped or mailed twice.

The one exception the docs name: the message in flight at the kill (the server accepted it but
the worker died before recording that) is sent again by the restarted worker, same Message-ID.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from _digest_helpers import RecordingHandler, SmtpServer, add_papers, add_subscriber, smtp_env
from conftest import ROOT

from paperfeed.store import open_database
from paperfeed.store import outbox as store_outbox

DAY = date(2026, 11, 27)


def _env(db_url: str, port: int) -> dict[str, str]:
    # Restarting right away must pick up the row the killed worker left in 'sending'.
    return smtp_env(
        db_url,
        port,
        PAPERFEED_BASE_URL="https://papers.example.org",
        PAPERFEED_DIGEST_SENDING_LEASE="0",
    )


def test_sigkill_mid_run_then_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    db = open_database(url)
    add_papers(db, DAY, 3)
    emails = [f"s{i:02d}@example.org" for i in range(24)]
    for e in emails:
        add_subscriber(db, e)
    handler = RecordingHandler(data_delay=0.15)  # slow server: the kill lands mid-run
    cmd = [sys.executable, "-m", "paperfeed", "send-digests", "--period", DAY.isoformat()]
    with SmtpServer(handler) as server:
        env = _env(url, server.port)
        first = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while len(handler.messages) < 6 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.01)
        assert first.poll() is None, first.communicate()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        before = len(handler.messages)
        assert before < len(emails)  # the kill really interrupted the run
        handler.data_delay = 0.0
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
    per_address = Counter(r for m in handler.messages for r in m.rcpt_tos)
    assert set(per_address) == set(emails)  # nobody skipped
    doubled = [a for a, n in per_address.items() if n > 1]
    assert len(doubled) <= 1 and all(per_address[a] == 2 for a in doubled)
    for a in doubled:  # the in-flight message went out again with the same Message-ID
        ids = {m.message["Message-ID"] for m in handler.messages if a in m.rcpt_tos}
        assert len(ids) == 1
    with db.read() as conn:
        counts = store_outbox.status_counts(conn)
    assert counts["sent"] == len(emails) and counts["pending"] == counts["sending"] == 0
    # Scheduling the same run again changes nothing.
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "composed 0 digests" in again.stdout
    db.dispose()
