"""The studio's files as shipped: htmx vendored as VENDORED.md says (version, checksum), every
script and stylesheet a page names is in the package, and nothing is loaded from elsewhere."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import vestis.studio

HERE = Path(vestis.studio.__file__).parent
STATIC = HERE / "static"


def test_vendored_files_match_their_notes() -> None:
    notes = (STATIC / "VENDORED.md").read_text()
    rows = re.findall(
        r"\| `([^`]+\.js)` \| `([^`]+)`[^|]*\| ([0-9.]+) \| ([^|]+) \| `([0-9a-f]{64})` \|", notes
    )
    assert rows, "VENDORED.md lists no file"
    for name, package, version, licence, digest in rows:
        data = (STATIC / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert version in name and package == "htmx.org" and "0BSD" in licence
        assert data.startswith(b"var htmx=")  # the minified build, unchanged
    vendored = {row[0] for row in rows}
    own = {"studio.js", "studio.css", "VENDORED.md"}
    assert {p.name for p in STATIC.iterdir()} == vendored | own


def test_pages_load_only_the_packages_own_files() -> None:
    for template in (HERE / "templates").glob("*.html"):
        text = template.read_text()
        for url in re.findall(r'(?:src|href)="(/studio/static/[^"]+)"', text):
            assert (STATIC / url.removeprefix("/studio/static/")).is_file(), (template.name, url)
    for path in [*(HERE / "templates").glob("*.html"), *STATIC.glob("studio.*")]:
        text = path.read_text()
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path.name
        assert "cdn" not in text.lower(), path.name
