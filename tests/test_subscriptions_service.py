"""The subscription service the digest pages call: preferences checked, a member's digest saved and stopped."""

from __future__ import annotations

import pytest

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.service import subscriptions
from paperfeed.store import Database
from paperfeed.store import subscriptions as store_subs
from paperfeed.store import users as user_store


def _prefs(**changes: object) -> subscriptions.Preferences:
    chosen: dict[str, object] = {
        "frequency": "weekly",
        "hour": 9,
        "timezone": " Europe/Paris ",
        "sections": ["featured", "bogus", "trending"],
        "searches": [("  diffusion ", ["cs.CV", ""]), ("", []), ("", ["cs.LG"])],
        **changes,
    }
    return subscriptions.check_preferences(**chosen)  # type: ignore[arg-type]


def test_preferences_are_cleaned_or_refused_with_the_reason() -> None:
    prefs = _prefs()
    assert (prefs.frequency, prefs.hour, prefs.timezone) == ("weekly", 9, "Europe/Paris")
    assert "bogus" not in prefs.sections and set(prefs.sections) <= {"featured", "trending"}
    assert prefs.searches == [
        {"query": "diffusion", "filters": {"categories": ["cs.CV"]}},
        {"query": "", "filters": {"categories": ["cs.LG"]}},
    ]
    for bad, reason in (
        ({"frequency": "hourly"}, "daily or weekly"),
        ({"hour": 24}, "0 to 23"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            _prefs(**bad)


def test_a_member_subscribes_changes_and_stops_and_an_address_is_asked_once(
    db: Database,
) -> None:
    with db.write() as conn:
        ada = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        eve = user_store.create_user(conn, "eve@example.org", "Eve", verified=False)
    assert subscriptions.member_subscription(db, ada) is None
    sub = subscriptions.save_member(db, ada, _prefs())
    assert (sub.email, sub.status, sub.frequency) == ("ada@example.org", "active", "weekly")
    again = subscriptions.save_member(db, ada, _prefs(frequency="daily"))
    assert again.id == sub.id and again.frequency == "daily"
    changed = subscriptions.update_by_token(db, sub.unsubscribe_token, _prefs(hour=6))
    assert changed.hour == 6
    with pytest.raises(NotFound):
        subscriptions.update_by_token(db, "no-such-token", _prefs())
    stopped = subscriptions.stop_member(db, ada)
    assert stopped is not None and stopped.status == "unsubscribed"
    with pytest.raises(InvalidInput, match="confirm your email"):
        subscriptions.save_member(db, eve, _prefs())

    settings = Settings(database_url=db.url, mail_backend="console", base_url="http://x.test")
    first = subscriptions.subscribe(db, settings, "reader@example.org", frequency="bogus")
    assert first == subscriptions.Subscribed("reader@example.org", True)
    with db.read() as conn:
        pending = store_subs.get_by_email(conn, "reader@example.org")
    assert pending is not None and (pending.status, pending.frequency) == ("pending", "daily")
    with db.write() as conn:
        cy = user_store.create_user(conn, "cy@example.org", "Cy", verified=True)
    subscriptions.save_member(db, cy, _prefs())
    active = subscriptions.subscribe(db, settings, "cy@example.org")
    assert active == subscriptions.Subscribed("cy@example.org", False)  # no mail: already active
