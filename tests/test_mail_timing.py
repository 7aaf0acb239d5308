"""Account mail leaves off the request path: an SMTP server that has not answered changes no reply."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from _community_helpers import csrf
from _digest_helpers import RecordingHandler, SmtpServer, smtp_settings
from fastapi.testclient import TestClient

from paperfeed.store import Database
from paperfeed.store import users as user_store
from paperfeed.web.app import create_app


def _post(client: TestClient, path: str, data: dict[str, str]) -> str:
    r = client.post(path, data=data)
    assert r.status_code == 200, r.text
    return r.text


def test_account_mail_does_not_hold_the_answer_for_known_addresses(
    db: Database, tmp_path: Path
) -> None:
    # The server holds every DATA until the gate opens. Mail sent inside the request would keep
    # the answer waiting (and a known address apart from an unknown one) until the server gave in,
    # so the message would be filed before the answer came. No clock is read: a slow machine
    # cannot fail this, and a fast one cannot pass inline sending.
    gate = threading.Event()
    handler = RecordingHandler(data_gate=gate)
    with SmtpServer(handler) as server:
        # A long poll: the mail can only arrive in time because queueing wakes the sender.
        settings = smtp_settings(db, server.port, data_dir=str(tmp_path), mail_queue_poll=60.0)
        with db.write() as conn:
            user_store.create_user(conn, "known@example.org", "Known")
        with TestClient(create_app(settings, db)) as client:  # runs the lifespan: the sender
            token = csrf(client)
            answers = {
                who: _post(client, "/login/link", {"csrf_token": token, "email": who})
                for who in ("known@example.org", "unknown@example.org")
            }
            token = csrf(client, "/signup")
            for who in ("known@example.org", "new@example.org"):
                answers[f"signup {who}"] = _post(
                    client,
                    "/signup",
                    {"csrf_token": token, "email": who, "display_name": "X"},
                )
            page = client.get("/").text
            m = re.search(r'name="csrf_token" value="([^"]+)"', page)
            for who in ("reader@example.org", "reader@example.org"):  # new, then pending
                data = {"email": who, **({"csrf_token": m.group(1)} if m else {})}
                answers[f"subscribe {who}"] = _post(client, "/subscribe", data)
            assert not handler.messages, "a request waited for its mail to be accepted"
            # Known and unknown addresses get the same page, so the answer tells nothing either.
            known, unknown = ("known@example.org", "unknown@example.org")
            assert answers[known].replace(known, "@") == answers[unknown].replace(unknown, "@")
            gate.set()
            got = server.wait_to("known@example.org", 2, timeout=30)
            assert server.wait_to("new@example.org") and server.wait_to("reader@example.org")
        assert "/login/magic?token=" in got[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert not handler.to("unknown@example.org")
