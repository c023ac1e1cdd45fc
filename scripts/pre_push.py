#!/usr/bin/env python3
"""The pre-push hook's logic: run `make test` (all eight types, then the gate) before a push.

Git calls the hook with `<remote name> <remote url>` as arguments and one line per pushed
ref on stdin: `<local ref> <local sha> <remote ref> <remote sha>`. The push goes ahead only
if `make test` passes, with one exception that docs/testing/POLICY.md allows: a push whose
commits change nothing but documentation (files under `docs/` or ending in `.md`) skips the
tests, and the hook proves it from the commits themselves. Anything it cannot prove (a new
branch, a remote commit this clone does not have) runs the full test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_COMMIT = "0" * 40


def is_documentation(path: str) -> bool:
    return path.startswith("docs/") or path.endswith(".md")


def changed_paths(pushed: Iterable[str]) -> list[str] | None:
    """Every path the pushed commits change, or None when that cannot be proven."""
    paths: list[str] = []
    for line in pushed:
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            return None
        _local_ref, local_sha, _remote_ref, remote_sha = fields
        if local_sha == NO_COMMIT:  # deleting a remote branch pushes no code
            continue
        if remote_sha == NO_COMMIT:  # a new branch: no base to compare with
            return None
        diff = subprocess.run(
            ["git", "diff", "--name-only", remote_sha, local_sha],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if diff.returncode != 0:  # e.g. the remote commit is not in this clone
            return None
        paths.extend(p for p in diff.stdout.splitlines() if p)
    return paths


def main(argv: Sequence[str], stdin: Iterable[str]) -> int:
    paths = changed_paths(stdin)
    if paths is not None and all(is_documentation(p) for p in paths):
        shown = ", ".join(paths) if paths else "nothing"
        print(f"pre-push: documentation only ({shown}); tests not needed (docs/testing/POLICY.md)")
        return 0
    print("pre-push: running `make test` (all eight test types, then the gate)", flush=True)
    env = {**os.environ, "PRECOG_ENV": "test"}
    # Where there is no make (a bare Windows shell), the entry point `make test` calls.
    command = ["make", "test"] if shutil.which("make") else [sys.executable, "scripts/run_tests.py"]
    status = subprocess.call(command, cwd=ROOT, env=env)
    if status != 0:
        print("pre-push: `make test` failed; push stopped (see the matrix above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], sys.stdin))
