"""The phase completion report (docs/reports/PHASE_1_9_COMPLETION.md), from one audited run.

Everything in it comes from evidence the report can check: the gate records of the run
(matrix, totals, durations, slowest tests, performance ratios, the environment each test
ran in), the mutation results file that `make mutation` writes, and the project files that
define the process (the pre-push hook, the CI workflow, the documents). The plan's success
criteria (`phase_1_9_plan.md`, "Success Criteria Checklist") are ticked only when that
evidence proves them; an unticked item says what is missing.

Used by scripts/audit_test_type_coverage.py (`--report PATH`).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the audit imports this module, not the other way round at run time
    from audit_test_type_coverage import Audit

from tests.plugins.registry import TEST_TYPES, approval_problem, load_approvals

ROOT = Path(__file__).resolve().parents[1]
MUTATION_RESULTS = ROOT / "docs" / "reports" / "mutation_scores.json"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PRE_PUSH = ROOT / "scripts" / "pre_push.py"
RUN_TESTS = ROOT / "scripts" / "run_tests.py"
POLICY_DOC = ROOT / "docs" / "testing" / "TEST_EXECUTION_POLICY.md"
SKIP_DOC = ROOT / "docs" / "testing" / "SKIP_APPROVAL.md"
SKIP_TEMPLATE = ROOT / ".github" / "ISSUE_TEMPLATE" / "skip_request.yml"


@dataclass(frozen=True)
class Criterion:
    """One checklist item: ticked or not, and the evidence (or what is missing)."""

    text: str
    met: bool
    evidence: str

    def render(self, indent: str = "") -> str:
        box = "[x]" if self.met else "[ ]"
        return f"{indent}- {box} {self.text} — {self.evidence}"


# ----------------------------------------------------------------------------- evidence
def totals(result: Audit) -> dict[str, int]:
    """Tests per outcome (passed, failed, error, skipped, xfailed, xpassed), zeros included."""
    counted = dict.fromkeys(("passed", "failed", "error", "skipped", "xfailed", "xpassed"), 0)
    for outcome, count in result.outcomes.items():
        counted[outcome] = counted.get(outcome, 0) + count
    return counted


def unapproved(result: Audit, outcomes: set[str]) -> tuple[int, list[str]]:
    """(how many records had one of `outcomes`, the ids of those without an active approval)."""
    approvals = load_approvals()
    seen = [r for r in result.records if r["outcome"] in outcomes]
    bad = [r["nodeid"] for r in seen if approval_problem(r["nodeid"], approvals) is not None]
    return len(seen), bad


def _read_workflow(path: Path) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _types_of_entry_point(path: Path) -> set[str]:
    """Test types the entry point (scripts/run_tests.py) runs, from its phase constants."""
    found: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        if line.startswith(("SHARED_TYPES", "QUIET_TYPES")):
            found.update(t for t in TEST_TYPES if f'"{t}"' in line)
    return found


def _ran_types(result: Audit) -> set[str]:
    return {r["type"] for r in result.records if r["outcome"] == "passed"}


# ----------------------------------------------------------------------------- criteria
def process_criteria(result: Audit) -> list[Criterion]:
    entry_types = _types_of_entry_point(RUN_TESTS)
    ran = _ran_types(result)
    missing_ran = [t for t in TEST_TYPES if t not in ran]
    hook_runs_entry = PRE_PUSH.is_file() and '"make", "test"' in PRE_PUSH.read_text("utf-8")
    criteria = []
    if hook_runs_entry and entry_types == set(TEST_TYPES) and not missing_ran:
        criteria.append(
            Criterion(
                "Pre-push runs all 8 test types",
                True,
                "scripts/pre_push.py runs `make test`, whose phases (scripts/run_tests.py) cover "
                "all eight types, and this run passed tests of all eight",
            )
        )
    else:
        gaps = []
        if not hook_runs_entry:
            gaps.append("scripts/pre_push.py does not run `make test`")
        if entry_types != set(TEST_TYPES):
            gaps.append(
                "scripts/run_tests.py does not run "
                + ", ".join(sorted(set(TEST_TYPES) - entry_types))
            )
        if missing_ran:
            gaps.append("this run passed no test of type " + ", ".join(missing_ran))
        criteria.append(Criterion("Pre-push runs all 8 test types", False, "; ".join(gaps)))

    workflow = _read_workflow(WORKFLOW)
    criteria.append(_ci_criterion(workflow))
    criteria.append(_continue_on_error_criterion(workflow))
    criteria.append(_precog_env_criterion(result))
    return criteria


def _ci_criterion(workflow: dict[str, Any] | None) -> Criterion:
    text = "CI runs all 8 test types on Windows AND Linux"
    if workflow is None:
        return Criterion(text, False, f"no readable workflow at {_rel(WORKFLOW)}")
    test_job = workflow.get("jobs", {}).get("test", {})
    systems = set(test_job.get("strategy", {}).get("matrix", {}).get("os", []))
    runs = [str(step.get("run", "")) for step in test_job.get("steps", [])]
    both = {"ubuntu-latest", "windows-latest"} <= systems
    entry = any("scripts/run_tests.py" in run for run in runs)
    if both and entry:
        return Criterion(
            text,
            True,
            f"{_rel(WORKFLOW)}: job `test` runs `python scripts/run_tests.py` (all eight types) "
            f"on {', '.join(sorted(systems))} (from the workflow file, not a CI log)",
        )
    gaps = []
    if not both:
        gaps.append(f"job `test` runs on {sorted(systems) or 'nothing'}, not Linux and Windows")
    if not entry:
        gaps.append("job `test` does not run scripts/run_tests.py")
    return Criterion(text, False, "; ".join(gaps))


def _continue_on_error_criterion(workflow: dict[str, Any] | None) -> Criterion:
    text = "`continue-on-error: true` removed from all CI jobs"
    if workflow is None:
        return Criterion(text, False, f"no readable workflow at {_rel(WORKFLOW)}")
    offenders = []
    for name, job in workflow.get("jobs", {}).items():
        if "continue-on-error" in job:
            offenders.append(name)
        offenders += [
            f"{name} step {index + 1}"
            for index, step in enumerate(job.get("steps", []))
            if "continue-on-error" in step
        ]
    if offenders:
        return Criterion(text, False, "continue-on-error in " + ", ".join(offenders))
    return Criterion(text, True, f"no job or step of {_rel(WORKFLOW)} has continue-on-error")


def _precog_env_criterion(result: Audit) -> Criterion:
    text = "`PRECOG_ENV=test` set in all test contexts"
    if not result.records:
        return Criterion(text, False, "no test records")
    envs = [r.get("precog_env") for r in result.records]
    other = sorted({str(e) for e in envs if e != "test"})
    if other:
        count = sum(1 for e in envs if e != "test")
        return Criterion(
            text, False, f"{count} test(s) ran with PRECOG_ENV = {', '.join(other)} (None = unset)"
        )
    return Criterion(text, True, f"every one of the {len(envs)} tests recorded PRECOG_ENV=test")


def results_criteria(result: Audit) -> list[Criterion]:
    counted = totals(result)
    bad = counted["failed"] + counted["error"]
    criteria = [
        Criterion(
            "0 FAILED tests",
            bool(result.records) and bad == 0,
            f"{counted['failed']} failed, {counted['error']} errors among "
            f"{len(result.records)} tests"
            if result.records
            else "no test records",
        )
    ]
    for label, outcomes in (
        ("0 SKIPPED tests (without approved GitHub issue)", {"skipped"}),
        ("0 XFAIL tests (without approved GitHub issue)", {"xfailed", "xpassed"}),
    ):
        seen, unapproved_ids = unapproved(result, outcomes)
        if not result.records:
            criteria.append(Criterion(label, False, "no test records"))
        elif unapproved_ids:
            criteria.append(
                Criterion(
                    label,
                    False,
                    f"{len(unapproved_ids)} without an active approval: "
                    + ", ".join(unapproved_ids[:5]),
                )
            )
        else:
            note = f"{seen} in this run" + (", each with an active approval" if seen else "")
            criteria.append(Criterion(label, True, note))
    return criteria


def coverage_criteria(result: Audit) -> tuple[Criterion, Criterion, list[Criterion]]:
    modules = result.modules
    pending = result.pending
    incomplete = [
        name
        for name, spec in modules.items()
        if spec.source_exists and any(result.matrix[name][t] == 0 for t in spec.required)
    ]
    complete = len(modules) - len(pending) - len(incomplete)
    gate_ok = not result.problems
    if complete == len(modules) and gate_ok:
        strict = Criterion(
            f"{len(modules)}/{len(modules)} modules passing `audit_test_type_coverage.py --strict`",
            True,
            f"all {len(modules)} modules 8/8 and the gate found no problem",
        )
    else:
        gaps = []
        if pending:
            gaps.append(f"no source yet: {', '.join(pending)}")
        if incomplete:
            gaps.append(f"empty cells: {', '.join(incomplete)}")
        if not gate_ok:
            gaps.append(f"the gate reports {len(result.problems)} problem(s)")
        strict = Criterion(
            f"{len(modules)}/{len(modules)} modules passing `audit_test_type_coverage.py --strict`",
            False,
            f"{complete}/{len(modules)} complete; " + "; ".join(gaps),
        )
    per_type = []
    for test_type in TEST_TYPES:
        lacking = [name for name in modules if result.matrix[name][test_type] == 0]
        total = sum(result.matrix[name][test_type] for name in modules)
        if lacking:
            per_type.append(
                Criterion(test_type, False, f"no passing {test_type} test for {', '.join(lacking)}")
            )
        else:
            per_type.append(
                Criterion(test_type, True, f"{total} passing tests, every module has one")
            )
    all_types = Criterion(
        "All 8 test types present for all modules",
        all(c.met for c in per_type),
        "see each type below",
    )
    return strict, all_types, per_type


def documentation_criteria(result: Audit) -> list[Criterion]:
    def doc(path: Path, *needles: str) -> tuple[bool, str]:
        if not path.is_file():
            return False, f"{_rel(path)} is missing"
        text = path.read_text(encoding="utf-8")
        absent = [n for n in needles if n not in text]
        if absent:
            return False, f"{_rel(path)} lacks: {', '.join(absent)}"
        return True, _rel(path)

    policy_ok, policy_note = doc(
        POLICY_DOC, "Which tests run when", "Success criteria per stage", "Reading the matrix"
    )
    skip_ok, skip_note = doc(SKIP_DOC, "test-skip-approved", "tests/skip_approvals.toml")
    if skip_ok and not SKIP_TEMPLATE.is_file():
        skip_ok, skip_note = False, f"{_rel(SKIP_TEMPLATE)} is missing"
    elif skip_ok:
        skip_note += f" and {_rel(SKIP_TEMPLATE)}"
    report_ok = bool(result.records) and not result.problems
    return [
        Criterion("Test execution policy document created", policy_ok, policy_note),
        Criterion("Skip approval process documented", skip_ok, skip_note),
        Criterion(
            "Phase 1.9 completion report created",
            report_ok,
            "this report, generated from a run that passed the gate"
            if report_ok
            else "this report comes from a run that did not pass the gate (see Gate above)",
        ),
    ]


# ----------------------------------------------------------------------------- mutation
def load_mutation(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None


def load_equivalent_reasons(path: Path = EQUIVALENTS) -> dict[str, str]:
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(e["mutant"]): str(e["reason"]) for e in data.get("equivalent", [])}


def _changed_since(commit: str, sources: list[str]) -> bool | None:
    """Whether the sources changed between `commit` and the working tree (None: unknown)."""
    try:
        known = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if known.returncode != 0:  # not a repository, or a commit this clone lacks
            return None
        out = subprocess.run(
            ["git", "diff", "--quiet", commit, "--", *sources],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    return {0: False, 1: True}.get(out.returncode)


def _retest(entry: dict[str, Any]) -> str:
    retested = entry.get("retested")
    if not isinstance(retested, dict):
        return ""
    return f"; {retested.get('mutants', '?')} undetected retested at {retested.get('commit', '?')}"


def _exclusions(targets: dict[str, dict[str, Any]]) -> list[str]:
    """One line per target with code left out of its mutation, and why."""
    lines = []
    for name, entry in sorted(targets.items()):
        if entry.get("excluded"):
            shown = ", ".join(f"`{glob}`" for glob in entry["excluded"])
            lines += ["", f"{name}: not mutated: {shown}: {entry.get('excluded_because', '')}."]
    return lines


_FRESHNESS = {False: "", True: " (source changed since)", None: " (not checked: commit unknown)"}


def mutation_section(path: Path) -> tuple[list[str], Criterion]:
    text = "Mutation score at least 80% for every core module (issue 10)"
    data = load_mutation(path)
    if data is None:
        missing = f"no mutation results at {_rel(path)}: run `make mutation`"
        return [missing], Criterion(text, False, missing)
    threshold = float(data.get("threshold", 0.8))
    targets: dict[str, dict[str, Any]] = data.get("targets", {})
    lines = [
        f"From `{_rel(path)}` (written by `make mutation`; threshold {threshold:.0%}). "
        "Score = (killed + timeout) / (mutants - equivalent).",
        "",
        "| target | gate module | mutants | killed | timeout | survived | equivalent "
        "| score | run time | commit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    below, stale = [], []
    for name, entry in sorted(targets.items()):
        value = entry.get("score")
        shown = "n/a" if value is None else f"{value:.1%}"
        if value is None or value < threshold:
            below.append(name)
        changed = _changed_since(str(entry.get("commit", "")), list(entry.get("sources", [])))
        if changed:
            stale.append(name)
        lines.append(
            f"| {name} | {entry.get('module', '')} | {entry.get('mutants', 0)} "
            f"| {entry.get('killed', 0)} | {entry.get('timeout', 0)} | {entry.get('survived', 0)} "
            f"| {len(entry.get('equivalent', []))} | {shown} | {entry.get('seconds', 0):.0f} s "
            f"| {entry.get('commit', '?')}{_FRESHNESS[changed]}{_retest(entry)} |"
        )
    missing = [name for name in data.get("expected", []) if name not in targets]
    lines += [f"| {name} | | | | | | | not run yet | | |" for name in missing]
    total_seconds = sum(float(e.get("seconds", 0)) for e in targets.values())
    lines += ["", f"Whole run: {total_seconds / 60:.1f} min, one target at a time."]
    lines += _exclusions(targets)
    surviving = [
        (name, mutant, status)
        for name, entry in sorted(targets.items())
        for mutant, status in sorted(entry.get("surviving", {}).items())
    ]
    if surviving:
        lines += [
            "",
            "<details><summary>Surviving mutants (behaviour no test pins down yet): "
            f"{len(surviving)}</summary>",
            "",
        ]
        lines += [f"- `{mutant}` ({status})" for _name, mutant, status in surviving]
        lines += ["", "</details>"]
    reasons = load_equivalent_reasons()
    equivalents = [m for e in targets.values() for m in e.get("equivalent", [])]
    if equivalents:
        lines += ["", "Equivalent mutants (they cannot change behaviour; not counted):", ""]
        lines += [f"- `{m}`: {reasons.get(m, 'reason missing')}" for m in sorted(equivalents)]
    if not targets:
        return lines, Criterion(text, False, "the results file lists no target")
    if below or stale or missing:
        gaps = []
        if missing:
            gaps.append("no result yet: " + ", ".join(missing))
        if below:
            gaps.append("below the threshold: " + ", ".join(below))
        if stale:
            gaps.append("source changed since the result: " + ", ".join(stale))
        return lines, Criterion(text, False, "; ".join(gaps))
    lowest = min(float(e["score"]) for e in targets.values())
    return lines, Criterion(text, True, f"{len(targets)} targets, lowest {lowest:.1%}")


# ----------------------------------------------------------------------------- rendering
def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def matrix_table(result: Audit) -> list[str]:
    header = "| module | " + " | ".join(TEST_TYPES) + " | status |"
    lines = [header, "|---|" + "---:|" * len(TEST_TYPES) + "---|"]
    for name, spec in result.modules.items():
        row = result.matrix[name]
        if not spec.source_exists:
            cells, status = ["-"] * len(TEST_TYPES), "pending (no source yet)"
        else:
            cells = [str(row[t]) for t in TEST_TYPES]
            filled = sum(1 for t in spec.required if row[t] > 0)
            status = f"{filled}/{len(spec.required)}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {status} |")
    return lines


def render(
    result: Audit,
    *,
    durations: Callable[[Audit], dict[str, float]],
    slowest: Callable[[Audit, int], str],
    mutation_results: Path = MUTATION_RESULTS,
    now: dt.datetime | None = None,
) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    counted = totals(result)
    complete = sum(
        1
        for name, spec in result.modules.items()
        if spec.source_exists and all(result.matrix[name][t] > 0 for t in spec.required)
    )
    lines = [
        "# Phase 1.9 completion report",
        "",
        f"Generated {stamp} by `scripts/audit_test_type_coverage.py --report` from the records",
        "of one test run (what pytest executed, not file names). Criteria are ticked only from",
        "evidence this report can check; an unticked item says what is missing.",
        "",
        "## Totals",
        "",
        f"- modules complete (every required type has a passing test): {complete} of "
        f"{len(result.modules)}",
        f"- tests: {len(result.records)}: {counted['passed']} passed, {counted['failed']} failed, "
        f"{counted['error']} errors, {counted['skipped']} skipped, {counted['xfailed']} xfailed, "
        f"{counted['xpassed']} xpassed",
        "",
        "## Module x test type (passing tests that declare and execute the module)",
        "",
        *matrix_table(result),
        "",
        "## Gate",
        "",
    ]
    if result.problems:
        lines.append(f"FAILED: {len(result.problems)} problem(s)")
        lines.extend(f"- {p}" for p in result.problems)
    else:
        lines.append("PASSED: every required cell is filled; 0 failed, 0 unapproved skip/xfail.")
    lines += ["", "## Test time per type (setup + call + teardown, summed over workers)", ""]
    lines += ["| type | seconds |", "|---|---:|"]
    lines += [f"| {t} | {s:.1f} |" for t, s in durations(result).items()]
    lines += ["", "## Slowest tests", "", "```", slowest(result, 10), "```"]
    if result.performance:
        lines += ["", "## Performance ratios measured in this run", ""]
        lines.append("| test | candidate vs baseline | speedup | required |")
        lines.append("|---|---|---|---|")
        for perf in result.performance:
            lines.append(
                f"| `{perf['test']}` | {perf['candidate_name']} vs {perf['baseline_name']} "
                f"| {perf['speedup']:.2f}x | >= {perf['min_speedup']:g}x |"
            )
    mutation_lines, mutation_criterion = mutation_section(mutation_results)
    lines += ["", "## Mutation scores", "", *mutation_lines]

    strict, all_types, per_type = coverage_criteria(result)
    lines += [
        "",
        "## Success criteria (phase_1_9_plan.md, Success Criteria Checklist)",
        "",
        "Process:",
        *(c.render() for c in process_criteria(result)),
        "",
        "Test results:",
        *(c.render() for c in results_criteria(result)),
        "",
        "Test coverage:",
        strict.render(),
        all_types.render(),
        *(c.render("  ") for c in per_type),
        "",
        "Documentation:",
        *(c.render() for c in documentation_criteria(result)),
        "",
        "Beyond the plan (issue 10):",
        mutation_criterion.render(),
    ]
    return "\n".join(lines) + "\n"
