"""The oldest versions pyproject.toml declares: ``--python`` prints the oldest
Python (``requires-python``), ``--pins`` the run-time dependencies pinned to their
minimums (``numpy>=1.22.4`` becomes ``numpy==1.22.4``), one per line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _project() -> str:
    text = PYPROJECT.read_text()
    start = text.index("[project]")
    end = text.index("\n[", start + 1)
    return text[start:end]


def oldest_python() -> str:
    return re.search(r'requires-python\s*=\s*">=\s*([\d.]+)"', _project()).group(1)


def pins() -> list[str]:
    block = re.search(r"dependencies\s*=\s*\[(.*?)\]", _project(), re.S).group(1)
    pinned = []
    for name, version in re.findall(r'"([A-Za-z0-9_.-]+)\s*>=\s*([\w.]+)"', block):
        pinned.append(f"{name}=={version}")
    if len(pinned) != block.count('"') // 2:
        sys.exit("minimum_versions: every dependency needs a '>=' minimum")
    return pinned


if __name__ == "__main__":
    if sys.argv[1:] == ["--python"]:
        print(oldest_python())
    elif sys.argv[1:] == ["--pins"]:
        print("\n".join(pins()))
    else:
        sys.exit("usage: minimum_versions.py --python | --pins")
