"""The README and docs/ stand alone (they point at nothing a user of the repository lacks), and
the README shows every command of the CLI with an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.cli.test_help import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_stand_alone(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for outside in ("DESIGN.md", "../shared", "shared/spec", "spec §"):
        assert outside not in text, f"{doc.name} points at {outside!r}"


def _examples() -> str:
    """The README's code blocks, one command per line (continuation lines joined)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    return "\n".join(block.replace("\\\n", " ") for block in blocks)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_the_readme_shows_every_command(path: tuple[str, ...]) -> None:
    assert re.search(rf"vestis {' '.join(path)}\b", _examples()), (
        f"README.md has no example of `vestis {' '.join(path)}`"
    )


def test_the_readme_shows_the_version_flag() -> None:
    assert "vestis --version" in (ROOT / "README.md").read_text(encoding="utf-8")


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_lists_every_document() -> None:
    listed = _readme().split("## Documentation", 1)[1].split("\n## ", 1)[0]
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"`docs/{doc.name}`" in listed, f"README's documentation list lacks {doc.name}"


def test_the_readme_first_screen_says_what_each_engine_gives() -> None:
    """A newcomer's first outputs are the local engine's: the first screen says they are
    previews, and where publishable photos come from."""
    first_screen = " ".join("\n".join(_readme().splitlines()[:30]).split())
    assert "local engine" in first_screen and "previews to check a set" in first_screen
    assert "Publishable photos" in first_screen and "generative engine" in first_screen


def test_the_readme_says_how_long_the_tests_take_and_the_folder_rule() -> None:
    text = " ".join(_readme().split())
    assert re.search(r"`make test` takes about \d+ minutes", text)
    assert "One folder is one outfit worn together" in text and "split the folder" in text
