"""Real disk faults under the logger: an unwritable log directory, a full disk (ENOSPC from
/dev/full) mid-run, a log directory that is a file, and a log file whose descriptor stops
accepting writes. Each must cost exactly one console warning, never the program."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from precog.utils.logger import configure_logging, get_logger
from tests.plugins.cli_runner import subprocess_env
from tests.plugins.logging_state import read_json_lines

pytestmark = [pytest.mark.module("logger"), pytest.mark.usefixtures("isolated_logging")]

# Root ignores permission bits through two capabilities; a child started without them is
# held to the bits like any user. (Switching to `nobody` is not possible here: the Python
# interpreter lives under /root, which `nobody` cannot enter.)
DROP_DAC_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]

_CHILD = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    from precog.utils.logger import configure_logging, get_logger

    configure_logging("INFO", log_dir=Path(sys.argv[1]))
    log = get_logger("precog.child")
    for index in range(3):
        log.info("still running", index=index)
        logging.getLogger("somelib").warning("library line %d", index)
    print("child finished")
    """
)


# /dev/full, setpriv, /proc and POSIX permission bits exist only on POSIX systems; on
# Windows the portable tests below fill the same cell (a counterpart, never a skip).
if os.name == "posix":

    def test_unwritable_log_dir_degrades_to_console(tmp_path: Path, gate_python: list[str]) -> None:
        script = tmp_path / "child.py"
        script.write_text(_CHILD)
        log_dir = tmp_path / "logs"
        log_dir.mkdir()
        log_dir.chmod(0o500)  # r-x for the owner: listing works, creating the log file does not
        prefix = DROP_DAC_OVERRIDE if os.geteuid() == 0 else []

        result = subprocess.run(
            [*prefix, *gate_python, str(script), str(log_dir)],
            env=subprocess_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        log_dir.chmod(0o700)

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "child finished"
        lines = result.stderr.splitlines()
        warnings = [line for line in lines if "cannot write log file" in line]
        assert len(warnings) == 1, result.stderr
        assert "Permission denied" in warnings[0]
        assert str(log_dir / "precog.jsonl") in warnings[0]
        assert sum("still running" in line for line in lines) == 3
        assert sum("library line" in line for line in lines) == 3
        assert "Traceback" not in result.stderr
        assert list(log_dir.iterdir()) == []

    def test_disk_full_at_rotation_turns_file_logging_off_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        console = io.StringIO()
        configure_logging(log_dir=tmp_path, max_bytes=2048, backup_count=2, console_stream=console)
        log = get_logger("precog.chaos")
        for index in range(10):
            log.info("before", index=index)
        before_fault = read_json_lines(tmp_path)
        assert [r["index"] for r in before_fault][-3:] == [7, 8, 9]

        # The disk fills up: the log path now leads to /dev/full, where every write fails with
        # ENOSPC from the kernel; the next rotation reopens the path and writes there.
        current = tmp_path / "precog.jsonl"
        current.rename(tmp_path / "saved.jsonl")
        current.symlink_to("/dev/full")

        for index in range(200):
            log.info("after", index=index)
            logging.getLogger("somelib").info("library after %d", index)

        lines = console.getvalue().splitlines()
        warnings = [line for line in lines if "file logging to" in line]
        assert len(warnings) == 1, lines
        assert "No space left on device" in warnings[0]
        # The console kept every line logged after the fault, ours and the library's.
        assert sum("[precog.chaos]" in line and " after " in line for line in lines) == 200
        assert sum(f"library after {i}" in line for line in lines for i in (0, 99, 199)) == 3
        assert sum("library after" in line for line in lines) == 200
        # Nothing written before the fault was lost (the rotated-away file keeps it intact).
        saved = [r for r in read_json_lines(tmp_path, "saved.jsonl") if r["event"] == "before"]
        assert [r["index"] for r in saved] == list(range(10))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        assert "Logging error" not in captured.err

    def test_disk_full_on_the_open_file_mid_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # /dev/full behind the logger's open descriptor: the next write(2) fails with ENOSPC,
        # exactly like a full disk.
        warning = writes_fail_mid_run(tmp_path, capsys, "/dev/full", os.O_WRONLY)
        assert "No space left on device" in warning

        # Reconfiguring (e.g. after freeing space) brings the file back.
        console = io.StringIO()
        configure_logging(log_dir=tmp_path / "fresh", console_stream=console)
        get_logger("precog.chaos").info("file logging is back")
        assert [r["event"] for r in read_json_lines(tmp_path / "fresh")] == ["file logging is back"]


def writes_fail_mid_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], replacement: str | Path, flags: int
) -> str:
    """Log one line, then put `replacement` (opened with `flags`) behind the logger's open
    file and log 50 more: file logging must stop with exactly one console warning (returned),
    the console must keep every line, and nothing may reach stderr as a traceback."""
    console = io.StringIO()
    configure_logging(log_dir=tmp_path, console_stream=console)
    log = get_logger("precog.chaos")
    log.info("written before the fault")
    (fd,) = open_descriptors_of(tmp_path / "precog.jsonl")
    swapped = os.open(replacement, flags)
    try:
        os.dup2(swapped, fd)
    finally:
        os.close(swapped)

    for index in range(50):
        log.warning("during the fault", index=index)

    output = console.getvalue()
    warnings = [line for line in output.splitlines() if "file logging to" in line]
    assert len(warnings) == 1, output
    assert sum("during the fault" in line for line in output.splitlines()) == 50
    assert [r["event"] for r in read_json_lines(tmp_path)] == ["written before the fault"]
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "Logging error" not in captured.err
    return warnings[0]


def open_descriptors_of(path: Path) -> list[int]:
    """This process's descriptors open on `path` (same device and file id; portable)."""
    target = os.stat(path)
    found = []
    for fd in range(3, 1024):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
            found.append(fd)
    return found


def test_log_dir_that_is_a_file_degrades_to_console(tmp_path: Path, gate_python: list[str]) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    not_a_dir = tmp_path / "logs"
    not_a_dir.write_text("a file where the log directory should be\n", encoding="utf-8")

    result = subprocess.run(
        [*gate_python, str(script), str(not_a_dir)],
        env=subprocess_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "child finished"
    lines = result.stderr.splitlines()
    warnings = [line for line in lines if "cannot write log file" in line]
    assert len(warnings) == 1, result.stderr
    assert sum("still running" in line for line in lines) == 3
    assert sum("library line" in line for line in lines) == 3
    assert "Traceback" not in result.stderr
    assert not_a_dir.read_text(encoding="utf-8").startswith("a file where")


def test_log_file_that_stops_accepting_writes_mid_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A read-only descriptor behind the logger's open file: every later write fails in the
    # operating system (EBADF), on Windows as on POSIX.
    writes_fail_mid_run(tmp_path, capsys, tmp_path / "precog.jsonl", os.O_RDONLY)
