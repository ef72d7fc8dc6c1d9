"""The layer's requirements.txt, generated from pyproject.toml so they cannot drift.

    python -m infra.deps          # write src/requirements.txt
    python -m infra.deps --check  # exit 1 when it is stale
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "src" / "requirements.txt"
HEADER = "# Generated from pyproject.toml by `python -m infra.deps`; do not edit.\n"


def expected() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return HEADER + "".join(f"{dep}\n" for dep in project["dependencies"])


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if not REQUIREMENTS.exists() or REQUIREMENTS.read_text() != expected():
            print(f"{REQUIREMENTS.relative_to(ROOT)} is stale: run `python -m infra.deps`", file=sys.stderr)
            return 1
        return 0
    REQUIREMENTS.write_text(expected())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
