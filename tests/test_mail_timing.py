"""Account mail leaves off the request path: a slow SMTP server does not tell known addresses apart."""

from __future__ import annotations

import re
import time
from pathlib import Path

from _community_helpers import csrf
from _digest_helpers import RecordingHandler, SmtpServer, smtp_settings
from fastapi.testclient import TestClient

from paperfeed.store import Database
from paperfeed.store import users as user_store
from paperfeed.web.app import create_app


def _timed_post(client: TestClient, path: str, data: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = client.post(path, data=data)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    return elapsed


def test_account_mail_does_not_slow_the_answer_for_known_addresses(
    db: Database, tmp_path: Path
) -> None:
    handler = RecordingHandler(data_delay=1.5)  # a slow SMTP server
    with SmtpServer(handler) as server:
        # A long poll: the mail can only arrive in time because queueing wakes the sender.
        settings = smtp_settings(db, server.port, data_dir=str(tmp_path), mail_queue_poll=60.0)
        with db.write() as conn:
            user_store.create_user(conn, "known@example.org", "Known")
        with TestClient(create_app(settings, db)) as client:  # runs the lifespan: the sender
            token = csrf(client)
            times = {
                who: _timed_post(client, "/login/link", {"csrf_token": token, "email": who})
                for who in ("known@example.org", "unknown@example.org")
            }
            token = csrf(client, "/signup")
            for who in ("known@example.org", "new@example.org"):
                times[f"signup {who}"] = _timed_post(
                    client,
                    "/signup",
                    {"csrf_token": token, "email": who, "display_name": "X"},
                )
            page = client.get("/").text
            m = re.search(r'name="csrf_token" value="([^"]+)"', page)
            for who in ("reader@example.org", "reader@example.org"):  # new, then pending
                data = {"email": who, **({"csrf_token": m.group(1)} if m else {})}
                times[f"subscribe {who}"] = _timed_post(client, "/subscribe", data)
            assert max(times.values()) < 0.5, times  # sending inline took 1.5 s more
            got = server.wait_to("known@example.org", 2, timeout=30)
            assert server.wait_to("new@example.org") and server.wait_to("reader@example.org")
        assert "/login/magic?token=" in got[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert not handler.to("unknown@example.org")
