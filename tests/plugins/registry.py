"""The module registry (tests/modules.toml) and the skip approvals (tests/skip_approvals.toml).

Shared by the pytest plugins and by scripts/audit_test_type_coverage.py, so the rules are
read in exactly one place.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

TEST_TYPES: tuple[str, ...] = (
    "unit",
    "property",
    "integration",
    "e2e",
    "stress",
    "race",
    "performance",
    "chaos",
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES_FILE = REPO_ROOT / "tests" / "modules.toml"
APPROVALS_FILE = REPO_ROOT / "tests" / "skip_approvals.toml"
SOURCE_ROOT = REPO_ROOT / "src"


@dataclass(frozen=True)
class ModuleSpec:
    """One registered module: its dotted paths and the test types it must have."""

    name: str
    paths: tuple[str, ...]
    required: tuple[str, ...]

    def files(self) -> tuple[Path, ...]:
        """Source files of the module's paths that exist (absolute, resolved)."""
        found = []
        for dotted in self.paths:
            path = _source_file(dotted)
            if path is not None:
                found.append(path)
        return tuple(found)

    @property
    def source_exists(self) -> bool:
        """A module is pending until its own (first) source file exists."""
        return _source_file(self.paths[0]) is not None


def _source_file(dotted: str) -> Path | None:
    candidate = SOURCE_ROOT.joinpath(*dotted.split(".")).with_suffix(".py")
    if candidate.is_file():
        return candidate.resolve()
    try:  # installed elsewhere (e.g. a non-editable install)
        spec = importlib.util.find_spec(dotted)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve()


def load_modules(path: Path = MODULES_FILE) -> dict[str, ModuleSpec]:
    """Read the module registry."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    default_required = tuple(data.get("defaults", {}).get("required", TEST_TYPES))
    modules = {}
    for name, entry in data.get("modules", {}).items():
        required = tuple(entry.get("required", default_required))
        unknown = set(required) - set(TEST_TYPES)
        if unknown:
            raise ValueError(f"{path}: module {name}: unknown test types {sorted(unknown)}")
        modules[name] = ModuleSpec(name=name, paths=tuple(entry["paths"]), required=required)
    return modules


@dataclass(frozen=True)
class Approval:
    """One approved skip or xfail."""

    test_id: str
    reason: str
    issue: str
    expires: dt.date

    def active(self, today: dt.date) -> bool:
        return today <= self.expires


def load_approvals(path: Path = APPROVALS_FILE) -> dict[str, Approval]:
    """Read the skip approvals; every entry must name id, reason, issue and expiry."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    approvals = {}
    for index, entry in enumerate(data.get("approval", [])):
        missing = [key for key in ("id", "reason", "issue", "expires") if key not in entry]
        if missing:
            raise ValueError(f"{path}: approval #{index + 1}: missing {', '.join(missing)}")
        expires = entry["expires"]
        if not isinstance(expires, dt.date):
            raise ValueError(f"{path}: approval #{index + 1}: expires must be a date (YYYY-MM-DD)")
        approvals[entry["id"]] = Approval(entry["id"], entry["reason"], entry["issue"], expires)
    return approvals


def approval_problem(
    test_id: str, approvals: dict[str, Approval], today: dt.date | None = None
) -> str | None:
    """Why a skip/xfail of `test_id` is not allowed, or None when it is approved."""
    approval = approvals.get(test_id)
    if approval is None:
        return "not listed in tests/skip_approvals.toml"
    if not approval.active(today or dt.date.today()):
        return f"approval expired on {approval.expires.isoformat()}"
    return None
