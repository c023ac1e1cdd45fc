"""`precog sandbox ...`: run the local Kalshi-compatible sandbox exchange.

`precog sandbox serve` starts it on loopback, creates and registers an RSA key pair (private
key written with mode 0600), prints the base URL, key id, key path and the environment
variables a client needs, and serves until interrupted (Ctrl-C / SIGTERM) or `--duration`.
"""

from __future__ import annotations

import typer

sandbox_app = typer.Typer(
    name="sandbox", help="The local Kalshi-compatible sandbox exchange.", no_args_is_help=True
)


@sandbox_app.command("serve")
def serve(  # noqa: PLR0917 (Typer maps each option to a parameter)
    port: int = typer.Option(0, "--port", help="TCP port on 127.0.0.1 (0 = pick a free one)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the market simulation and faults."),
    markets: int = typer.Option(50, "--markets", min=0, help="Number of simulated markets."),
    tick: float = typer.Option(
        1.0, "--tick", min=0.0, help="Seconds between simulation steps (0 = prices stay put)."
    ),
    key_dir: str = typer.Option(
        "", "--key-dir", help="Where to write the private key (default $PRECOG_HOME/sandbox)."
    ),
    duration: float = typer.Option(
        0.0, "--duration", min=0.0, help="Stop after this many seconds (0 = until interrupted)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the ready line as JSON."),
) -> None:
    """Serve the sandbox exchange and print a ready-to-use key and client environment."""
    import os

    from precog.config.environment import (
        KalshiMode,
        check_kalshi_safety,
        precog_home,
        resolve_environment,
    )
    from precog.utils import event_loop

    env = resolve_environment(os.environ)
    check_kalshi_safety(env, KalshiMode.SANDBOX, os.environ)
    directory = os.path.expanduser(key_dir) if key_dir else str(precog_home(os.environ) / "sandbox")
    event_loop.run(
        _serve(
            port=port,
            seed=seed,
            markets=markets,
            tick=tick,
            key_dir=directory,
            duration=duration,
            json_output=json_output,
            env_prefix=env.value.upper(),
        )
    )


async def _serve(
    *,
    port: int,
    seed: int,
    markets: int,
    tick: float,
    key_dir: str,
    duration: float,
    json_output: bool,
    env_prefix: str,
) -> None:
    import asyncio
    import json
    import sys
    from pathlib import Path

    from precog.config.environment import Environment, kalshi_credential_variables
    from precog.sandbox.keys import create_key_file
    from precog.sandbox.server import SandboxServer
    from precog.utils import event_loop

    server = SandboxServer(seed=seed, markets=markets, port=port, tick_interval=tick or None)
    try:
        await server.start()
    except OSError as exc:
        from precog.errors import ConfigError

        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    try:
        key_id, key_path = create_key_file(server.keys, Path(key_dir))
        key_var, path_var = kalshi_credential_variables(Environment(env_prefix.lower()))
        client_env = {
            "KALSHI_MODE": "sandbox",
            "KALSHI_API_BASE_URL": server.base_url,
            "ESPN_API_BASE_URL": server.espn_base_url,
            key_var: key_id,
            path_var: str(key_path),
        }
        if json_output:
            ready = {
                "base_url": server.base_url,
                "ws_url": server.ws_url,
                "espn_base_url": server.espn_base_url,
                "admin_url": server.url + "/_admin",
                "key_id": key_id,
                "private_key_path": str(key_path),
                "seed": seed,
                "markets": markets,
                "env": client_env,
            }
            print(json.dumps(ready), flush=True)  # noqa: T201 (the command's output)
        else:
            lines = [
                f"sandbox exchange ready: {server.base_url}",
                f"websocket: {server.ws_url}",
                f"key id: {key_id}",
                f"private key: {key_path}",
                f"admin: {server.url}/_admin (faults, keys, step)",
                "client environment:",
                *(f"  export {name}={value}" for name, value in client_env.items()),
                "press Ctrl-C to stop",
            ]
            print("\n".join(lines), flush=True)  # noqa: T201 (the command's output)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        event_loop.call_on_stop_signal(loop, stop.set)
        if duration > 0:
            loop.call_later(duration, stop.set)
        await stop.wait()
    finally:
        await server.stop()
    print("sandbox exchange stopped", file=sys.stderr, flush=True)  # noqa: T201


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


__all__ = ["register"]
