"""Masking invariants over generated data: secrets never reach either output, everything
else comes out unchanged, and every file line is strict JSON."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
import string
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from precog.utils.logger import (
    SENSITIVE_KEYS,
    configure_logging,
    get_logger,
    is_sensitive_key,
    mask_sensitive,
    mask_text,
    mask_value,
    render_json,
)
from tests.plugins.logging_state import read_json_lines

pytestmark = pytest.mark.module("logger")

# Secrets start with a marker that ordinary generated text can never contain ("Q" is not in
# the ordinary alphabet), so finding the marker in the output means a secret leaked.
MARKER = "QZ7"
SECRET_CHARS = string.ascii_letters + string.digits + "._~+"
secrets = st.text(SECRET_CHARS, min_size=4, max_size=40).map(lambda s: MARKER + s)

# Ordinary text: no characters that start a masking pattern (`:`, `=`, `@`, `-`) and no "Q".
ORDINARY_CHARS = "".join(
    c for c in string.ascii_letters + string.digits + " _.,;/!?()[]{}#%&*+<>|^~\n\t" if c != "Q"
)
ordinary_text = st.text(ORDINARY_CHARS, max_size=30).filter(lambda s: "bearer" not in s.lower())
# Keys with a meaning to structlog/our chain are not "ordinary" data.
RESERVED_KEYS = {"event", "timestamp", "level", "logger", "exc_info", "stack_info", "exception"}
ordinary_keys = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda k: not is_sensitive_key(k) and k not in RESERVED_KEYS and not k.startswith("_")
)
ordinary_scalars = st.one_of(
    ordinary_text,
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
ordinary_data = st.recursive(
    ordinary_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ordinary_keys, inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def sensitive_keys(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(SENSITIVE_KEYS)))
    name = name.replace("_", draw(st.sampled_from(["_", "-"])))
    return "".join(c.upper() if draw(st.booleans()) else c for c in name)


@st.composite
def secret_in_text(draw: st.DrawFn, secret: str) -> str:
    """`secret` wrapped in one of the value patterns, inside ordinary text."""
    kind = draw(st.sampled_from(["pem", "url", "authorization", "bearer", "key_value"]))
    if kind == "pem":
        label = draw(st.sampled_from(["", "RSA ", "EC ", "ENCRYPTED ", "OPENSSH "]))
        core = f"-----BEGIN {label}PRIVATE KEY-----\n{secret}\n-----END {label}PRIVATE KEY-----"
    elif kind == "url":
        scheme = draw(st.sampled_from(["postgresql", "https", "http", "redis", "wss"]))
        user = draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))
        core = f"{scheme}://{user}:{secret}@db.example:5432/precog"
    elif kind == "authorization":
        header = draw(st.sampled_from(["Authorization", "authorization", "Proxy-Authorization"]))
        scheme = draw(st.sampled_from(["Basic ", "Bearer ", "bearer ", ""]))
        core = f"{header}: {scheme}{secret}"
    elif kind == "bearer":
        core = f"Bearer {secret}"
    else:
        key = draw(sensitive_keys())
        separator = draw(st.sampled_from(["=", ": ", " = "]))
        quote = draw(st.sampled_from(["", '"', "'"]))
        core = f"{key}{separator}{quote}{secret}{quote}"
    before = draw(ordinary_text)
    after = draw(ordinary_text)
    return f"{before} {core}\n{after}"


@st.composite
def events_with_a_secret(draw: st.DrawFn) -> dict[str, Any]:
    """An ordinary event with one secret planted somewhere in its nested data."""
    secret = draw(secrets)
    if draw(st.booleans()):
        planted: Any = {draw(sensitive_keys()): secret}
    else:
        planted = draw(secret_in_text(secret))
    data = draw(st.dictionaries(ordinary_keys, ordinary_data, max_size=4))
    # Bury the secret under a random path of dicts and lists.
    for _ in range(draw(st.integers(0, 3))):
        planted = [planted] if draw(st.booleans()) else {draw(ordinary_keys): planted}
    data[draw(ordinary_keys)] = planted
    return data


@given(events_with_a_secret())
def test_secrets_never_reach_the_rendered_json(data: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(data)
    event = {"event": "request", **data}
    line = render_json(None, "info", mask_sensitive(None, "info", event))
    assert MARKER not in line, line
    assert "***" in line
    assert json.loads(line)["event"] == "request"
    assert data == snapshot  # the caller's data was not modified


@given(ordinary_text, secrets)
def test_a_secret_in_the_event_message_is_masked(text: str, secret: str) -> None:
    message = f"{text} calling https://bot:{secret}@api.example/x with Bearer {secret}"
    assert MARKER not in mask_text(message)


@given(st.dictionaries(ordinary_keys, ordinary_data, max_size=6))
def test_ordinary_data_comes_out_unchanged(data: dict[str, Any]) -> None:
    assert mask_value(data) == data
    event = {"event": "tick", **data}
    assert json.loads(render_json(None, "info", mask_sensitive(None, "info", event))) == event


@given(st.text())
def test_masking_text_is_idempotent(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


def _refuse_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


anything = st.recursive(
    st.one_of(
        st.text(),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
        st.decimals(),
        st.datetimes(timezones=st.none() | st.just(dt.UTC)),
        st.dates(),
        st.binary(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
        st.dictionaries(
            st.text(max_size=10) | st.integers() | st.tuples(st.integers()), inner, max_size=4
        ),
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=10), anything, max_size=6))
def test_any_event_renders_to_strict_json(data: dict[str, Any]) -> None:
    line = render_json(None, "info", mask_sensitive(None, "info", {"event": "x", **data}))
    assert "\n" not in line
    parsed = json.loads(line, parse_constant=_refuse_constant)
    for key, value in data.items():
        if isinstance(value, Decimal) and value.is_finite() and not is_sensitive_key(key):
            assert parsed[key] == str(value)  # exactly as written


@pytest.fixture(scope="module")
def configured() -> Iterator[tuple[Path, io.StringIO]]:
    """The real configured pipeline (file + console), set up once for all examples."""
    root_level = logging.getLogger().level
    with tempfile.TemporaryDirectory() as directory:
        console = io.StringIO()
        configure_logging("INFO", log_dir=Path(directory), console_stream=console, max_bytes=10**8)
        yield Path(directory), console
        configure_logging(console=False)
    logging.getLogger().setLevel(root_level)
    structlog.reset_defaults()


@given(data=events_with_a_secret(), via_stdlib=st.booleans())
def test_secrets_never_reach_either_configured_output(
    configured: tuple[Path, io.StringIO], data: dict[str, Any], via_stdlib: bool
) -> None:
    directory, console = configured
    if via_stdlib:
        logging.getLogger("somelib").info("request %s", data, extra={"payload": data})
    else:
        get_logger("precog.prop").info("request", **data)
    last = read_json_lines(directory)[-1]
    assert last["event"].startswith("request")
    assert MARKER not in (directory / "precog.jsonl").read_text()
    assert MARKER not in console.getvalue()
