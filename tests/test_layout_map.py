"""The README's layout map names every module of the product, and names nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "viewer", "training", "commands")


def map_rows() -> dict[str, set[str]]:
    """``folder/`` -> the module names its row mentions."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Layout"):text.index("## Ingest")]
    rows: dict[str, set[str]] = {}
    for line in table.splitlines():
        match = re.match(r"\| `([a-z_/]+/)` \|(.*)\|$", line)
        if match:
            rows[match[1]] = set(re.findall(r"`([a-z0-9_]+\.py)`", match[2]))
    return rows


def test_every_module_is_on_the_map() -> None:
    rows = map_rows()
    missing = []
    for package in PACKAGES:
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name in ("__init__.py", "__main__.py") and module.parent.name != "commands":
                continue
            folder = module.parent.relative_to(ROOT).as_posix() + "/"
            if module.name not in rows.get(folder, set()):
                missing.append(f"{folder}{module.name}")
    assert not missing, f"modules the README's layout map does not name: {missing}"


def test_the_map_names_only_modules_that_exist() -> None:
    absent = [f"{folder}{name}" for folder, names in map_rows().items() for name in names
              if not (ROOT / folder / name).exists()]
    assert not absent, f"the README's layout map names modules that are not there: {absent}"
    assert {"engine/", "engine/io/", "engine/model/", "engine/triage/", "viewer/"} <= set(map_rows())
