"""A queue table whose rows one sender at a time claims under a lease (mail queue, chat outbox)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

_EVERY = sa.true()  # no extra condition on the rows


@dataclass(frozen=True)
class LeasedQueue:
    """The claim, lease and outcome rules of one queue table.

    The table has `id`, a state column (pending, sending, then final states), `attempts`,
    `next_attempt_at`, `lease_until`, `claim_token`, `last_error` and `created_at`.
    """

    table: sa.Table
    state: str  # the name of the state column ("status" in the mail queue)
    final: tuple[str, ...]

    @property
    def _state(self) -> sa.Column[Any]:
        return self.table.c[self.state]

    def claimable(self, now: datetime) -> Any:
        """Pending and due, or 'sending' by a sender whose lease ran out (it died mid-send)."""
        c = self.table.c
        return sa.or_(
            sa.and_(self._state == "pending", c.next_attempt_at <= now),
            sa.and_(self._state == "sending", c.lease_until < now),
        )

    def has_due(self, conn: Connection, now: datetime, where: Any = _EVERY) -> bool:
        """True when some row can be claimed now (a read, so idle polling takes no write lock)."""
        q = sa.select(self.table.c.id).where(self.claimable(now), where).limit(1)
        return conn.execute(q).first() is not None

    def claim(
        self,
        conn: Connection,
        columns: Sequence[sa.Column[Any]],
        *,
        lease: timedelta,
        now: datetime,
        where: Any = _EVERY,
    ) -> tuple[Row[Any], str] | None:
        """Mark the next due row 'sending' under a fresh token until now + lease; its columns and token.

        One UPDATE … RETURNING picks and marks the row: on PostgreSQL the sub-select skips rows
        another sender holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers (BEGIN IMMEDIATE).
        """
        c = self.table.c
        pick = (
            sa.select(c.id)
            .where(self.claimable(now), where)
            .order_by(c.next_attempt_at, c.id)
            .limit(1)
        )
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(of=self.table, skip_locked=True)
        token = secrets.token_hex(16)
        row = conn.execute(
            self.table.update()
            .where(c.id == pick.scalar_subquery())
            .values(
                {
                    self.state: "sending",
                    "claim_token": token,
                    "lease_until": now + lease,
                    "attempts": c.attempts + 1,
                }
            )
            .returning(*columns)
        ).first()
        return None if row is None else (row, token)

    def _held(self, row_id: int, token: str) -> Any:
        # Only the holder of the current claim may record an outcome: a sender whose lease ran
        # out and whose row another sender took cannot overwrite that sender's result.
        c = self.table.c
        return sa.and_(c.id == row_id, c.claim_token == token, self._state == "sending")

    def finish(self, conn: Connection, row_id: int, token: str, state: str, **values: Any) -> bool:
        """Record a held row's outcome (a final state, or pending again); False if not held."""
        if state not in (*self.final, "pending"):
            raise ValueError(f"not an outcome of {self.table.name}: {state}")
        if "last_error" in values and values["last_error"] is not None:
            values["last_error"] = values["last_error"][:2000]
        if state == "pending":
            values.setdefault("lease_until", None)
        result = conn.execute(
            self.table.update()
            .where(self._held(row_id, token))
            .values({**values, self.state: state, "claim_token": None})
        )
        return bool(result.rowcount)

    def retry(
        self, conn: Connection, row_id: int, token: str, error: str, next_attempt_at: datetime
    ) -> bool:
        """Put a held row back in line for a later attempt."""
        return self.finish(
            conn, row_id, token, "pending", next_attempt_at=next_attempt_at, last_error=error
        )

    def counts(
        self, conn: Connection, states: Sequence[str], where: Any = _EVERY
    ) -> dict[str, int]:
        """How many rows are in each state."""
        q = sa.select(self._state, sa.func.count()).where(where).group_by(self._state)
        counts = {s: 0 for s in states}
        counts.update({r[0]: int(r[1]) for r in conn.execute(q)})
        return counts

    def purge_finished(self, conn: Connection, before: datetime) -> int:
        """Delete rows in a final state created before `before`."""
        result = conn.execute(
            self.table.delete().where(self._state.in_(self.final), self.table.c.created_at < before)
        )
        return int(result.rowcount or 0)
