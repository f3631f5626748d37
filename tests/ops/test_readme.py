"""The README and docs/ stay true of the tree: every path, link, make target and environment variable they name
exists, and the README's layout table names every package of chat3d/ and every doc.

A moved file or a renamed setting used to leave the front door pointing at nothing; these checks read only files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
SCREENSHOT = REPO / "docs" / "images" / "workbench.png"

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
CODE_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
ENV_NAME = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|PORT)(?==|\b)")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    s = re.sub(r"[`*_]", "", heading.strip().lower())
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _anchors(md: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", _text(md), re.M)}


def _local_links(md: Path) -> list[str]:
    return [t for t in LINK.findall(_text(md)) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("md", [README, *DOCS], ids=lambda p: p.name)
def test_every_local_link_resolves(md: Path):
    """Each relative link names an existing file, and an anchor names a heading of that file."""
    broken = []
    for target in _local_links(md):
        path_part, _, anchor = target.partition("#")
        dest = (md.parent / path_part).resolve() if path_part else md
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{md.name} links to what does not exist: {broken}"


def _top_level() -> set[str]:
    return {p.name for p in REPO.iterdir()}


def _path_candidates(text: str) -> set[str]:
    """Words in code spans and code blocks that name a file or folder of the repository."""
    top = _top_level()
    words: set[str] = set()
    chunks = CODE_SPAN.findall(CODE_BLOCK.sub("", text)) + CODE_BLOCK.findall(text)
    for chunk in chunks:
        for word in re.split(r"[\s,;()'\"]+", chunk):
            word = word.rstrip(":.")
            if not word or word.startswith(("/", "http", "<", "$", "-")) or "=" in word:
                continue
            first = word.removeprefix("./").split("/")[0]
            if first in top and (first != word or "." in word or word in top):
                words.add(word.removeprefix("./"))
    return words


def test_every_path_the_readme_names_exists():
    candidates = _path_candidates(_text(README))
    assert "chat3d/settings.py" in candidates and "deploy/swarm/deploy.sh" in candidates  # the scan sees paths
    missing = sorted(w for w in candidates if not (REPO / w.rstrip("/")).exists())
    assert not missing, f"README names paths that do not exist: {missing}"


def test_the_readme_commands_are_make_targets():
    targets = set(re.findall(r"^([a-z][\w-]*):", _text(REPO / "Makefile"), re.M))
    text = _text(README)
    code = CODE_SPAN.findall(CODE_BLOCK.sub("", text)) + CODE_BLOCK.findall(text)
    named = {t for chunk in code for t in re.findall(r"^make ([a-z][\w-]*)", chunk, re.M)}
    assert {"dev", "test"} <= named, "the two commands are `make dev` and `make test`"
    assert named <= targets, f"README names make targets the Makefile lacks: {sorted(named - targets)}"


def _known_env_names() -> set[str]:
    """Every variable the code reads: settings fields (upper-cased), .env.example, and what the scripts,
    compose file, render service and test support read."""
    from chat3d.settings import Settings

    names = {f.upper() for f in Settings.model_fields}
    sources = [REPO / ".env.example", REPO / "docker-compose.yml", REPO / "Makefile", REPO / "tests" / "conftest.py",
               *(REPO / "scripts").iterdir(), *(REPO / "render_service").glob("*.py"),
               *(REPO / "deploy").rglob("*.sh"), *(REPO / "tests" / "support").glob("*.py")]
    for src in sources:
        if src.is_file():
            names |= set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", _text(src)))
    return names


def test_every_environment_variable_the_readme_names_is_read_somewhere():
    text = _text(README)
    chunks = CODE_SPAN.findall(CODE_BLOCK.sub("", text)) + CODE_BLOCK.findall(text)
    named = {m for chunk in chunks for m in ENV_NAME.findall(chunk)}
    assert {"PORT", "DATA_DIR", "SEED_ADMIN_EMAIL"} <= named  # the scan sees variables
    known = _known_env_names() | {"PORT"}
    unknown = sorted(n for n in named if n not in known and not n.endswith("_"))
    assert not unknown, f"README names variables nothing reads: {unknown}"


def _layout_table() -> str:
    text = _text(README)
    start = text.index("## Layout")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_the_layout_table_names_every_package_and_every_doc():
    table = _layout_table()
    packages = sorted(p.name for p in (REPO / "chat3d").iterdir() if (p / "__init__.py").exists())
    assert packages, "chat3d/ has packages"
    missing = [f"chat3d/{p}" for p in packages if f"`chat3d/{p}`" not in table]
    missing += [f"docs/{d.name}" for d in DOCS if f"`docs/{d.name}`" not in table]
    for top in ("assets/", "scripts/", "render_service/", "tests/", "bench/", "deploy/"):
        if f"`{top}" not in table:
            missing.append(top)
    assert not missing, f"the README's layout table leaves out {missing}"


def test_no_test_counts_that_drift():
    """A count of tests or a suite duration is out of date at the next commit."""
    for md in (README, REPO / "docs" / "testing.md"):
        found = re.findall(r"\b\d[\d,]* tests\b", _text(md))
        assert not found, f"{md.name} counts tests: {found}"


def test_the_screenshot_exists_and_is_small():
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size < 300_000
    assert "docs/images/workbench.png" in _text(README)
