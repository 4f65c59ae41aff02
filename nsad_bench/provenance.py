"""What produced a result: package versions and the command line, recorded with every row."""

from __future__ import annotations

import importlib.metadata as md
import platform
import shlex
import sys
from functools import cache

PACKAGES = (
    "nsad-bench",
    "torch",
    "numpy",
    "scikit-learn",
    "pandas",
    "sympy",
    "gplearn",
    "pyoperon",
    "pysr",
)


@cache
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return versions


def command_line() -> str:
    return shlex.join(["nsad-bench", *sys.argv[1:]])
