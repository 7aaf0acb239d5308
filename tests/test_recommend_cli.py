"""The recommend and library commands, and the worker's 'recommend' job."""

from __future__ import annotations

import json
from pathlib import Path

from _recommend_helpers import EMBED, member, seed, settings_for, topic_id
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.store import Database
from paperfeed.store import recommendations as recs
from paperfeed.worker import get_job, run_job


def _invoke(db: Database, tmp: Path, *args: str) -> tuple[int, str]:
    env = {"PAPERFEED_EMBED_MODEL": EMBED, "PAPERFEED_DATA_DIR": str(tmp / "data")}
    r = CliRunner().invoke(main, ["--database-url", db.url, *args], env=env)
    return r.exit_code, r.output


def test_import_then_recommend_from_the_command_line(sqlite_db: Database, tmp_path: Path) -> None:
    seed(sqlite_db)
    member(sqlite_db)
    bib = tmp_path / "lib.bib"
    bib.write_text(
        "".join(
            f"@misc{{k{i}, eprint={{{topic_id('astro', i)}}}, archivePrefix={{arXiv}}}}\n"
            for i in range(3)
        )
        + "@misc{gone, eprint={2301.99999}}\n@misc{bad, title={open\n"
    )
    code, out = _invoke(
        sqlite_db,
        tmp_path,
        "library",
        "import",
        str(bib),
        "--user",
        "ada@example.org",
        "--collection",
        "Stars",
        "-v",
    )
    assert code == 0, out
    assert (
        "5 entries: 3 imported into 'Stars', 0 duplicate, 1 not in this instance, 1 broken" in out
    )
    assert "unknown" in out and "broken" in out
    code, out = _invoke(sqlite_db, tmp_path, "recommend", "--user", "ada@example.org")
    assert code == 0, out
    assert "(model" in out or "(centroid" in out
    assert "in your collection ‘Stars’" in out
    code, out = _invoke(
        sqlite_db, tmp_path, "recommend", "--user", "ada@example.org", "--json", "--limit", "3"
    )
    items = json.loads(out)["items"]
    assert len(items) == 3 and all(i["id"].startswith("2601.2") for i in items)
    code, out = _invoke(sqlite_db, tmp_path, "recommend", "--user", "nobody@example.org")
    assert code == 2 and out.startswith("error: no account for nobody@example.org")
    code, out = _invoke(
        sqlite_db, tmp_path, "recommend", "--user", "ada@example.org", "--collection", "Nope"
    )
    assert code == 2 and "has no collection 'Nope'" in out


def test_recommend_all_and_the_worker_job(sqlite_db: Database, tmp_path: Path) -> None:
    seed(sqlite_db)
    u = member(sqlite_db)
    with sqlite_db.write() as conn:
        from paperfeed.store import votes

        votes.add_vote(conn, u.id, topic_id("rl", 0))
    code, out = _invoke(sqlite_db, tmp_path, "recommend", "--all")
    assert code == 0 and "1 member(s), 1 list(s) refreshed" in out
    assert get_job("recommend").schedule_setting == "schedule_recommend"
    with sqlite_db.write() as conn:
        votes.add_vote(conn, u.id, topic_id("rl", 1))  # the library changed: stale again
    run_job(settings_for(sqlite_db, tmp_path), sqlite_db, "recommend", raise_errors=True)
    with sqlite_db.read() as conn:
        run = recs.get_run(conn, u.id, "")
    assert run is not None and run.positives == 2
