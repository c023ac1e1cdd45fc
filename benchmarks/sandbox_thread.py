"""A sandbox exchange for benchmarks, and a signer it accepts: in a thread of this process
(when the benchmark needs the server's Python objects) or in a process of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def running_sandbox(markets: int, seed: int) -> Iterator[tuple[Any, Any]]:
    """(server, signer): a started `SandboxServer` with `markets` markets and an Ed25519 key."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from precog.api_connectors.kalshi_auth import KalshiSigner, generate_key_id
    from precog.sandbox.server import SandboxServer, SandboxThread

    server = SandboxServer(seed=seed, markets=markets)
    thread = SandboxThread(server)
    thread.start()
    try:
        signer = KalshiSigner(generate_key_id(), ed25519.Ed25519PrivateKey.generate())
        server.keys.register(signer.active.private_key.public_key(), signer.key_id)
        yield server, signer
    finally:
        thread.stop()


@contextmanager
def sandbox_process(markets: int, seed: int, key_dir: Path) -> Iterator[tuple[dict[str, Any], Any]]:
    """(ready, signer): `precog sandbox serve` in its own process, as a remote exchange would
    be (no share of this process's CPU); prices move only on POST {admin_url}/step."""
    from precog.api_connectors.kalshi_auth import KalshiSigner

    script = Path(sys.executable).with_name("precog")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "precog"]
    proc = subprocess.Popen(
        [*command, "sandbox", "serve", "--markets", str(markets), "--seed", str(seed),
         "--tick", "0", "--key-dir", str(key_dir), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("precog sandbox serve exited before it was ready")
        ready = json.loads(line)
        yield ready, KalshiSigner.from_file(ready["key_id"], Path(ready["private_key_path"]))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
