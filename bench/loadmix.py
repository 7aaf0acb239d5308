"""What the load benchmarks share: the queries, the request mix and the signed-in members."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "pretraining",
    "large language models",
    "diffusion models for video generation",
    "reinforcement learning from human feedback",
    "dark matter halo",
    "graph neural networks",
    "vision transformer segmentation",
    "galaxy cluster weak lensing",
    "retrieval augmented generation",
    "speech recognition low-resource",
    "gravitational waves black hole merger",
    "3d gaussian splatting",
    "federated learning privacy",
    "mixture of experts",
]
# route -> weight in the mix
MIX = {
    "home": 15,
    "day": 10,
    "week": 5,
    "trending": 5,
    "paper": 20,
    "search_page": 15,
    "search_api": 15,
    "vote": 15,
}


def setup_members(url: str, users: int) -> list[str]:
    """Create (or reuse) `users` verified members with a digest subscription; return sessions."""
    from paperfeed.store import open_database
    from paperfeed.store import sessions as sess
    from paperfeed.store import subscriptions as subs
    from paperfeed.store import users as us

    db = open_database(url)
    tokens = []
    with db.write() as conn:
        for i in range(users):
            email = f"load{i}@example.org"
            user = us.get_by_email(conn, email) or us.create_user(
                conn, email, f"Load {i}", verified=True
            )
            tokens.append(sess.create_session(conn, user.id, days=1))
            if subs.get_by_email(conn, email) is None:
                subs.request(
                    conn,
                    email,
                    confirm_token_hash=f"load-{i}",
                    unsubscribe_token=f"load-unsub-{i}",
                    frequency="daily",
                    sections=["trending", "featured"],
                    timezone="UTC",
                    hour=0,
                    user_id=user.id,
                )
                subs.confirm(conn, f"load-{i}")
    db.dispose()
    return tokens
