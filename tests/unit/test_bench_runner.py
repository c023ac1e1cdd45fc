"""The benchmark suite's bookkeeping: selection, ratios, the table and the results file.
(Tooling, not one of the eleven modules: no module marker.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import runner
from benchmarks.suite import Options, Result, machine, save, table


def test_unknown_names_are_refused_with_the_list_of_benchmarks() -> None:
    with pytest.raises(runner.UnknownBenchmarkError, match="unknown benchmark nope; choose from"):
        runner.select(["scd2_ingestion", "nope"])
    assert runner.select([]) == list(runner.BENCHMARKS)
    assert runner.select(["cli_startup", "scd2_scale"]) == ["scd2_scale", "cli_startup"]


def test_an_unknown_name_exits_2_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.run(["nope"], keep=False) == 2
    assert "error: unknown benchmark nope" in capsys.readouterr().err


def test_every_benchmark_module_exposes_title_and_run() -> None:
    import importlib

    for name in runner.BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        assert name == module.NAME
        assert module.TITLE
        assert callable(module.run)


def test_ratio_and_table_show_figure_reference_ratio_target_and_verdict() -> None:
    met = Result("b", "fast path", 30_000.0, "msgs/s", "transport", 60_000.0, ">= 0.5x", True)
    missed = Result("b", "slow path", 0.6, "s", "python -c pass", 0.02, "< 0.5 s", False)
    context = Result("b", "context", 5.0, "MB/s")
    assert met.ratio == 0.5
    assert missed.ratio == pytest.approx(30.0)
    assert context.ratio is None
    text = table([met, missed, context]).splitlines()
    assert text[0].split() == ["benchmark", "measurement", "figure", "reference", "ratio",
                               "target", "met"]  # fmt: skip
    assert "30,000 msgs/s" in text[1]
    assert "60,000 (transport)" in text[1]
    assert "0.50x" in text[1]
    assert text[1].rstrip().endswith("yes")
    assert "30.00x" in text[2]
    assert text[2].rstrip().endswith("NO")
    assert text[3].split()[-1] == "-"  # no reference, no ratio, no target


def test_runs_are_appended_as_json_lines_with_the_machine(tmp_path: Path) -> None:
    path = tmp_path / "results" / "history.jsonl"
    first = {"results": [Result("b", "x", 1.0, "s").as_dict()], "machine": machine()}
    save(first, path)
    save({"results": []}, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["results"][0]["ratio"] is None
    assert lines[0]["machine"]["cpu_count"] >= 1
    assert lines[0]["machine"]["python"].count(".") == 2


def test_sizes_follow_quick_and_full() -> None:
    assert Options().size(quick=1, default=2, full=3) == 2
    assert Options(quick=True).size(quick=1, default=2, full=3) == 1
    assert Options(full=True).size(quick=1, default=2, full=3) == 3
    assert Options(full=True).size(quick=1, default=2) == 2
