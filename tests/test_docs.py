"""Settings, CLI and docs stay in sync."""

from __future__ import annotations

import re

from conftest import ROOT

from paperfeed.cli import main
from paperfeed.config import Settings, settings_markdown


def test_configuration_page_is_generated_from_the_settings_table() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == settings_markdown(), "run: paperfeed settings --markdown > docs/configuration.md"


def test_every_setting_reads_from_its_environment_variable() -> None:
    s = Settings.from_env({"PAPERFEED_PORT": "9001", "PAPERFEED_SITE_NAME": "Lab papers"})
    assert (s.port, s.site_name) == (9001, "Lab papers")


def test_every_command_is_documented() -> None:
    docs = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in (ROOT / "docs").glob("*.md")
    )
    for name in main.commands:
        assert re.search(rf"paperfeed {re.escape(name)}\b", docs), (
            f"command {name!r} is not documented"
        )


def test_readme_links_point_to_existing_files() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to missing {target}"
