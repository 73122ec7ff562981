"""What the layout promises a newcomer: every check is registered once and named consistently everywhere."""

from __future__ import annotations

from pathlib import Path

from import_graph import REPO  # tests/architecture is on sys.path

CHECKS_DIR = REPO / "consumer" / "checks"


def check_modules() -> set[str]:
    return {p.stem for p in CHECKS_DIR.glob("*.py") if p.stem not in ("__init__", "base")}


def test_every_check_module_is_one_registry_line() -> None:
    """A check is one module plus one line in consumer/checks/__init__.py (docs/extending.md)."""
    registry = (CHECKS_DIR / "__init__.py").read_text(encoding="utf-8")
    missing = sorted(m for m in check_modules() if f"{m}." not in registry)
    assert missing == []


def test_extending_page_lists_only_files_that_exist() -> None:
    page = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    paths = {
        token.strip("`")
        for token in page.split()
        if token.startswith("`")
        and token.rstrip("`,.:;").endswith((".py", ".md", ".toml"))
        and "<" not in token
        and "/" in token
    }
    paths = {p.rstrip("`,.:;") for p in paths}
    assert paths, "docs/extending.md names no file"
    assert sorted(p for p in paths if not (REPO / Path(p)).exists()) == []
