"""Every page type is valid HTML by the W3C Nu checker (vnu.jar from npm), in one JVM run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _pages_helpers import MISSING_NPM, PASSWORD, VNU_JAR, WHO, pages_site, signed_in_client
from fastapi.testclient import TestClient

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
        # Answers to forms are pages of their own (POST only): subscribe, sign up, a bad sign-up.
        visitor = clients["visitor"]
        for name, path, data in (
            ("subscribe", "/subscribe", {"email": "new@example.org"}),
            (
                "signup",
                "/signup",
                {"email": "eve@example.org", "display_name": "Eve", "password": PASSWORD},
            ),
            ("signup-error", "/signup", {"email": "x", "display_name": "", "password": "short"}),
        ):
            r = visitor.post(path, data={**data, "csrf_token": _csrf(visitor)})
            assert r.headers["content-type"].startswith("text/html"), (path, r.status_code)
            (out / f"visitor-post-{name}.html").write_text(r.text)
            files[str(out / f"visitor-post-{name}.html")] = f"visitor POST {path} ({name})"
        # --- tokens: the settings page answering a new token, its secret shown this once ---
        member = clients["member"]
        form = {
            "action": "token-create",
            "name": "ci",
            "scope": "read",
            "csrf_token": _csrf(member),
        }
        r = member.post("/settings", data=form)
        assert r.status_code == 200 and "new-token-secret" in r.text, r.text
        (out / "member-post-token.html").write_text(r.text)
        files[str(out / "member-post-token.html")] = "member POST /settings (token-create)"
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


def _csrf(client: TestClient) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert m, "the sign-in page hands out a CSRF token"
    return m.group(1)
