"""The logger with real files and a real library: shared fields, request-log masking, rotation."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from precog.utils.logger import configure_logging, get_logger
from tests.plugins.logging_state import log_files, read_json_lines

pytestmark = [pytest.mark.module("logger"), pytest.mark.usefixtures("isolated_logging")]


class _EchoHandler(BaseHTTPRequestHandler):
    """A loopback server that logs its request headers through stdlib logging, as a
    careless library would."""

    def do_GET(self) -> None:
        logging.getLogger("fakeserver.access").info(
            "request headers: %s", dict(self.headers), extra={"path": self.path}
        )
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # silence stderr noise
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_library_and_structlog_records_land_in_one_file_with_the_same_fields(
    tmp_path: Path,
) -> None:
    console = io.StringIO()
    configure_logging("DEBUG", log_dir=tmp_path, console_stream=console)

    get_logger("precog.poller").info("poll done", markets=12, cursor=None)
    logging.getLogger("somelib.pool").warning(
        "pool at %d%%", 90, extra={"pool_size": 10, "waiting": 3}
    )

    ours, lib = read_json_lines(tmp_path)
    standard = {"timestamp", "level", "logger", "event"}
    assert standard <= set(ours)
    assert standard <= set(lib)
    assert (ours["logger"], ours["level"], ours["markets"], ours["cursor"]) == (
        "precog.poller",
        "info",
        12,
        None,
    )
    assert (lib["logger"], lib["level"], lib["event"], lib["pool_size"], lib["waiting"]) == (
        "somelib.pool",
        "warning",
        "pool at 90%",
        10,
        3,
    )
    assert "poll done" in console.getvalue()
    assert "pool at 90%" in console.getvalue()


def test_http_basic_auth_is_masked_in_request_logs(tmp_path: Path, server: str) -> None:
    # REQ-SEC-009: httpx logs the request URL (with its user:password) and the server logs
    # the Authorization header httpx derived from it; neither may show the credential.
    console = io.StringIO()
    configure_logging("DEBUG", log_dir=tmp_path, console_stream=console)

    with httpx.Client() as client:
        response = client.get(f"http://trader:hunter2pw@{server}/markets?token=t0k3nvalue")
    assert response.status_code == 200

    records = read_json_lines(tmp_path)
    text = (tmp_path / "precog.jsonl").read_text() + console.getvalue()
    assert "hunter2pw" not in text
    assert "t0k3nvalue" not in text
    assert "dHJhZGVyOmh1bnRlcjJwdw" not in text  # base64 of trader:hunter2pw

    request_line = next(r for r in records if r["logger"] == "httpx")
    assert f"http://trader:***@{server}/markets?token=***" in request_line["event"]
    access = next(r for r in records if r["logger"] == "fakeserver.access")
    assert "'Authorization': '***'" in access["event"]
    assert access["path"] == "/markets?token=***"


def test_rotation_keeps_bounded_backups_and_every_recent_line(tmp_path: Path) -> None:
    max_bytes, backup_count = 4096, 3
    configure_logging(
        log_dir=tmp_path, max_bytes=max_bytes, backup_count=backup_count, console=False
    )
    log = get_logger("precog.rotation")
    for index in range(600):
        log.info("line", index=index, padding="x" * 40)

    files = log_files(tmp_path)
    assert [p.name for p in files] == [
        "precog.jsonl.3",
        "precog.jsonl.2",
        "precog.jsonl.1",
        "precog.jsonl",
    ]
    assert not (tmp_path / "precog.jsonl.4").exists()
    sizes = [p.stat().st_size for p in files]
    assert all(size <= max_bytes for size in sizes), sizes
    assert all(size > max_bytes // 2 for size in sizes[:-1]), sizes  # backups are full files

    # What is kept is a contiguous, ordered run of the most recent lines.
    indexes = [r["index"] for r in read_json_lines(tmp_path)]
    assert indexes == list(range(600 - len(indexes), 600))
    assert len(indexes) > 3 * (max_bytes // 200)
