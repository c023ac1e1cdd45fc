"""Run every benchmark of the suite (each module in this package exposing `main(argv)`)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path


def main(argv: list[str]) -> int:
    package = Path(__file__).parent
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(package)]) if not m.name.startswith("_")
    )
    selected = [n for n in names if not argv or n in argv]
    status = 0
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        run: Callable[[list[str]], int] | None = getattr(module, "main", None)
        if run is None:
            continue
        print(f"== {name}")
        status |= run([])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
