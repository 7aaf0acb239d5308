"""Shared pieces for recommendation tests: topic papers with hash vectors, members, sign-in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.models import Paper, User
from paperfeed.search.embed import HashEmbedder, paper_text, text_hash
from paperfeed.search.vectors import to_bytes
from paperfeed.store import Database
from paperfeed.store import users as user_store
from paperfeed.store.papers import upsert_papers
from paperfeed.store.vectors import save_vectors
from paperfeed.web import auth, create_app

PASSWORD = "correct horse battery staple"
EMBED = "hash:64"

# Three topics with distinct vocabularies: the hash embedder puts same-word texts close.
TOPICS = {
    "rl": (
        "Reinforcement learning policy gradient agent reward",
        "agent policy reward environment exploration value function reinforcement learning "
        "actor critic returns",
    ),
    "astro": (
        "Galaxy dark matter halo stellar",
        "galaxy dark matter halo stellar mass cluster cosmology redshift telescope survey "
        "luminosity",
    ),
    "vision": (
        "Image segmentation convolutional vision",
        "image segmentation pixels convolutional network vision detection masks objects "
        "camera dataset",
    ),
}
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
BASE = datetime(2026, 1, 1)


def topic_id(topic: str, i: int) -> str:
    """A deterministic arXiv id per topic and index, e.g. 2601.10003."""
    return f"2601.{(list(TOPICS).index(topic) + 1) * 10000 + i:05d}"


def make_papers(per_topic: int = 12) -> list[Paper]:
    """per_topic papers for each topic, each with a different extra word and date."""
    out = []
    for t, (title, abstract) in TOPICS.items():
        for i in range(per_topic):
            w = WORDS[i % len(WORDS)]
            out.append(
                Paper(
                    id=topic_id(t, i),
                    title=f"{title} {w} {i}",
                    abstract=f"{abstract} {w}",
                    authors=[f"Author {t} {i}"],
                    categories=["cs.LG" if t != "astro" else "astro-ph.GA"],
                    published=BASE + timedelta(days=i),
                    doi=f"10.1000/{t}.{i}",
                )
            )
    return out


def seed(db: Database, per_topic: int = 12) -> list[Paper]:
    """Store the topic papers with their hash-64 vectors."""
    papers = make_papers(per_topic)
    emb = HashEmbedder(64)
    with db.write() as conn:
        upsert_papers(conn, papers)
    vecs = emb.embed([paper_text(p.title, p.abstract) for p in papers])
    rows = [
        (p.id, to_bytes(v), text_hash(paper_text(p.title, p.abstract)), 0)
        for p, v in zip(papers, vecs, strict=True)
    ]
    with db.write() as conn:
        save_vectors(conn, emb.name, emb.dim, rows)
    return papers


def settings_for(db: Database, tmp: Path, **overrides: object) -> Settings:
    """Settings on the hash embedder with a private data folder."""
    return Settings(
        database_url=db.url,
        data_dir=str(tmp / "data"),
        embed_model=EMBED,
        base_url="http://testserver",
    ).with_(**overrides)


def member(db: Database, email: str = "ada@example.org", *, verified: bool = True) -> User:
    """A member with the test password."""
    with db.write() as conn:
        return user_store.create_user(
            conn,
            email,
            email.split("@")[0].title(),
            password_hash=auth.hash_password(PASSWORD),
            verified=verified,
        )


def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page hands this client."""
    r = client.get(path)
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, f"no CSRF token on {path}: {r.status_code}"
    return m.group(1)


def signed_in(settings: Settings, db: Database, email: str) -> TestClient:
    """A client signed in as the member with this email."""
    client = TestClient(create_app(settings, db))
    r = client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": email, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client
