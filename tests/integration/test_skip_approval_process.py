"""The skip approval process: the request template is a valid, lint-clean issue form that asks
for every field an approval entry needs, and the documented example entry is one the gate
accepts until it expires. actionlint lints only workflows, so yamllint checks the template.

These tests prove the project's tooling, not one of the eleven modules, so they declare none.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.plugins.registry import approval_problem, load_approvals

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / ".github" / "ISSUE_TEMPLATE" / "skip_request.yml"
DOC = REPO / "docs" / "testing" / "SKIP_APPROVAL.md"
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}"
# GitHub issue forms: the element types and which of them carry an id and a label.
FORM_TYPES = {"markdown", "input", "textarea", "dropdown", "checkboxes"}


def yamllint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "-d", YAMLLINT_CONFIG, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_template_is_lint_clean() -> None:
    result = yamllint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_rejects_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: a\nname: b\nbody:\n  - type: input\n", encoding="utf-8")
    result = yamllint(broken)
    assert result.returncode == 1
    assert "duplication of key" in result.stdout


def test_the_template_is_an_issue_form_asking_for_every_approval_field() -> None:
    form: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert {"name", "description", "body"} <= set(form)
    assert "skip-request" in form["labels"]
    fields = [element for element in form["body"] if element["type"] != "markdown"]
    assert all(element["type"] in FORM_TYPES for element in form["body"])
    ids = [element["id"] for element in fields]
    assert len(ids) == len(set(ids)), "issue form ids must be unique"
    for element in fields:
        assert element["attributes"]["label"], element["id"]
        if element["type"] == "checkboxes":  # each box is required on its own
            assert all(option["required"] is True for option in element["attributes"]["options"])
        else:
            assert element.get("validations", {}).get("required") is True, element["id"]
    # What an entry of tests/skip_approvals.toml needs (the issue is the request itself).
    assert {"test_id", "kind", "reason", "unblock", "expires"} <= set(ids)
    intro = form["body"][0]["attributes"]["value"]
    assert "test-skip-approved" in intro
    assert "tests/skip_approvals.toml" in intro


def test_the_documented_example_entry_is_accepted_until_it_expires(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None, "SKIP_APPROVAL.md must show an example entry"
    entries = tmp_path / "skip_approvals.toml"
    entries.write_text(example.group(1), encoding="utf-8")
    approvals = load_approvals(entries)
    assert len(approvals) == 1
    (test_id, approval), *_ = approvals.items()
    assert approval_problem(test_id, approvals, approval.expires) is None
    after = approval.expires + dt.timedelta(days=1)
    assert approval_problem(test_id, approvals, after) == (
        f"approval expired on {approval.expires.isoformat()}"
    )
    assert approval_problem("tests/unit/test_other.py::test_x", approvals, after) == (
        "not listed in tests/skip_approvals.toml"
    )
