"""Every page type is valid HTML by the W3C Nu checker (vnu.jar from npm), in one JVM run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from _pages_helpers import MISSING_NPM, VNU_JAR, WHO, pages_site, signed_in_client

# vnu's info messages (e.g. "trailing slash on void elements") are advice, not errors.
SEVERE = {"error", "non-document-error"}


def test_every_page_is_valid_html(tmp_path: Path) -> None:
    if not VNU_JAR.exists():
        pytest.fail(MISSING_NPM.format("vnu-jar"))
    java = shutil.which("java")
    if java is None:
        pytest.fail("the Nu HTML checker needs Java: apt-get install default-jre-headless")
    out = tmp_path / "html"
    out.mkdir()
    files: dict[str, str] = {}
    with pages_site(tmp_path) as site:
        clients = {who: signed_in_client(site, email) for who, email in WHO.items()}
        for page in site.pages():
            r = clients[page.who].get(page.path)
            assert r.status_code == page.status, (page, r.status_code)
            assert r.headers["content-type"].startswith("text/html"), page
            path = out / f"{page.slug}.html"
            path.write_text(r.text)
            files[str(path)] = f"{page.who} {page.path}"
        # The subscribe form's answer is a page of its own (POST only).
        r = clients["visitor"].post(
            "/subscribe", data={"email": "new@example.org", "csrf_token": _csrf(clients["visitor"])}
        )
        (out / "visitor-subscribe.html").write_text(r.text)
        files[str(out / "visitor-subscribe.html")] = "visitor POST /subscribe"
    # One JVM for every page: vnu starts in about 2 s, a page then takes milliseconds.
    proc = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--stdout", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stdout or proc.stderr)
    problems = [
        f"{files.get(m.get('url', '').removeprefix('file:'), m.get('url'))}:{m.get('lastLine')}: "
        f"{m.get('message')} [{m.get('extract', '').strip()[:120]}]"
        for m in report["messages"]
        if m.get("type") in SEVERE
    ]
    assert problems == [], "\n".join(problems)


def _csrf(client: object) -> str:
    import re

    text = client.get("/").text  # type: ignore[attr-defined]
    m = re.search(r'name="csrf_token" value="([^"]+)"', text)
    return m.group(1) if m else ""
