"""Masking rules of the logger: exact key names, nested data, value patterns, no over-masking."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from precog.utils.logger import (
    MASK,
    SENSITIVE_KEYS,
    is_sensitive_key,
    json_default,
    mask_sensitive,
    mask_text,
    mask_value,
    render_json,
)

pytestmark = pytest.mark.module("logger")


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "API_KEY",
        "Api-Key",
        "apikey",
        "private_key",
        "password",
        "PASSWORD",
        "passwd",
        "secret",
        "client_secret",
        "client-secret",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "Set-Cookie",
        "signature",
        "passphrase",
        "KALSHI-ACCESS-KEY",
        "kalshi_access_signature",
    ],
)
def test_sensitive_key_names_are_masked_in_any_case_and_separator(key: str) -> None:
    assert is_sensitive_key(key)
    assert mask_value({key: "hunter2", "other": "visible"}) == {key: MASK, "other": "visible"}


@pytest.mark.parametrize(
    "key",
    [
        "keyfile_path",
        "tokens_remaining",
        "token_bucket",
        "secret_santa_count",
        "password_min_length",
        "signature_scheme",
        "api_key_id_hint",
        "cookie_jar_size",
        "authorized",
        "key",
        "ticker",
    ],
)
def test_ordinary_fields_containing_sensitive_words_are_not_masked(key: str) -> None:
    assert not is_sensitive_key(key)
    assert mask_value({key: "/etc/precog/kalshi.pem"}) == {key: "/etc/precog/kalshi.pem"}


def test_every_registered_name_matches_in_any_spelling() -> None:
    # Keys are matched after lower-casing and `-` -> `_`; an entry stored in another form
    # could never match and would be a silent hole.
    for name in SENSITIVE_KEYS:
        assert is_sensitive_key(name.upper().replace("_", "-")), name
        assert is_sensitive_key(name.title()), name


def test_masking_reaches_nested_dicts_lists_and_tuples() -> None:
    value = {
        "request": {
            "headers": [("x-trace", "1"), {"Authorization": "Basic dXNlcjpwYXNz"}],
            "body": {"orders": [{"ticker": "KXNFL", "signature": "c2ln"}]},
        },
        "accounts": ({"name": "a", "password": "pw"},),
    }
    assert mask_value(value) == {
        "request": {
            "headers": [("x-trace", "1"), {"Authorization": MASK}],
            "body": {"orders": [{"ticker": "KXNFL", "signature": MASK}]},
        },
        "accounts": ({"name": "a", "password": MASK},),
    }


def test_a_sensitive_key_hides_a_whole_nested_value() -> None:
    assert mask_value({"secret": {"inner": "x", "list": [1, 2]}}) == {"secret": MASK}
    assert mask_value({"token": 123456}) == {"token": MASK}


def test_unset_secrets_stay_visible_as_unset() -> None:
    assert mask_value({"api_key": None, "password": ""}) == {"api_key": None, "password": ""}


def test_masking_never_modifies_the_callers_objects() -> None:
    original = {
        "password": "pw",
        "nested": {"token": "t", "items": ["postgresql://u:pw@host/db", {"cookie": "c"}]},
    }
    snapshot = copy.deepcopy(original)
    masked = mask_value(original)
    assert original == snapshot
    assert masked is not original
    assert masked["nested"] is not original["nested"]

    event = {"event": "login", "api_key": "k"}
    mask_sensitive(None, "info", event)
    assert event == {"event": "login", "api_key": "k"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "key=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbC=\n-----END RSA PRIVATE KEY----- ok",
            f"key={MASK} ok",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----", MASK),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----", MASK),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----", MASK),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----", MASK),
        # A truncated block (e.g. a message cut short) is masked to the end.
        ("loaded -----BEGIN PRIVATE KEY-----\nMC4CAQ", f"loaded {MASK}"),
        (
            "postgresql://precog:hunter2@localhost:5432/db",
            f"postgresql://precog:{MASK}@localhost:5432/db",
        ),
        (
            "connect to https://bob:p@ss@host/x failed",
            f"connect to https://bob:{MASK}@host/x failed",
        ),
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {MASK}"),
        ("authorization: bearer eyJhbGciOi.J9.sig", f"authorization: bearer {MASK}"),
        ("Proxy-Authorization: Basic Zm9vOmJhcg==", f"Proxy-Authorization: Basic {MASK}"),
        (
            "headers={'Authorization': 'Basic dXNlcjpwYXNz'}",
            f"headers={{'Authorization': '{MASK}'}}",
        ),
        ('{"password": "hunter 2", "user": "bob"}', f'{{"password": "{MASK}", "user": "bob"}}'),
        ("sent with Bearer abc.DEF-123_~+/=", f"sent with Bearer {MASK}"),
        ("GET /markets?token=abc123&limit=5", f"GET /markets?token={MASK}&limit=5"),
        ("Cookie: session=abc; csrf=def\nnext line", f"Cookie: {MASK}\nnext line"),
        ("KALSHI-ACCESS-SIGNATURE: c2lnbmF0dXJl==", f"KALSHI-ACCESS-SIGNATURE: {MASK}"),
        ("password=hunter2 retries=3", f"password={MASK} retries=3"),
    ],
)
def test_secrets_inside_strings_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert mask_text(expected) == expected  # masking masked text changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "tokens_remaining=5 token_bucket=3 keyfile_path=/etc/precog/kalshi.pem",
        "GET https://api.elections.kalshi.com/trade-api/v2/markets?cursor=abc 200",
        "mailto:ops@example.com and user@host:22",
        "https://host:8443/path?email=a@b.c",
        "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
        "rate limit tier Basic: 20 reads/s",
        "price 0.5600 at 2026-01-01T00:00:00Z",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_the_event_message_itself_is_masked() -> None:
    event = {"event": "connecting to postgresql://u:pw@db/precog", "logger": "x"}
    assert (
        mask_sensitive(None, "info", event)["event"]
        == f"connecting to postgresql://u:{MASK}@db/precog"
    )


def test_objects_are_masked_through_their_text() -> None:
    class Dsn:
        def __str__(self) -> str:
            return "postgresql://u:pw@db/precog"

    assert mask_value({"dsn": Dsn()}) == {"dsn": f"postgresql://u:{MASK}@db/precog"}


def test_exception_text_is_masked() -> None:
    event = {"event": "failed", "exception": "Traceback...\nOSError: cannot reach https://u:pw@h"}
    assert mask_sensitive(None, "error", event)["exception"].endswith(f"https://u:{MASK}@h")


def test_decimal_and_datetime_serialise_as_exact_strings() -> None:
    when = dt.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC)
    event = {"event": "tick", "price": Decimal("0.5600"), "at": when, "day": dt.date(2026, 3, 1)}
    line = json.loads(render_json(None, "info", mask_sensitive(None, "info", event)))
    assert line["price"] == "0.5600"
    assert line["at"] == "2026-03-01T12:30:05.123456+00:00"
    assert line["day"] == "2026-03-01"
    assert json_default(Decimal("1E-7")) == "1E-7"


def test_json_output_is_strict_even_for_odd_values() -> None:
    event = {
        "event": "odd",
        "nan": float("nan"),
        "inf": float("-inf"),
        "tuple_keys": {(1, 2): "a"},
        "set": {3},
        "bytes": b"\x00raw",
    }

    def refuse(name: str) -> None:
        raise ValueError(name)

    line = json.loads(
        render_json(None, "info", mask_sensitive(None, "info", event)), parse_constant=refuse
    )
    assert line["nan"] == "nan"
    assert line["inf"] == "-inf"
    assert line["tuple_keys"] == {"(1, 2)": "a"}
    assert line["set"] == [3]


def test_json_line_starts_with_the_standard_fields() -> None:
    event = {"zeta": 1, "event": "e", "logger": "l", "level": "info", "timestamp": "t"}
    assert list(json.loads(render_json(None, "info", event))) == [
        "timestamp",
        "level",
        "logger",
        "event",
        "zeta",
    ]


def test_cyclic_data_does_not_break_masking() -> None:
    loop: list[object] = []
    loop.append(loop)
    masked = mask_value({"loop": loop})
    json.dumps(masked)  # finite and serialisable


@pytest.mark.parametrize("key", sorted(SENSITIVE_KEYS))
def test_every_sensitive_name_is_masked_inside_text(key: str) -> None:
    header = key.replace("_", "-").title()
    assert mask_text(f"sent {key}=abc123 ok") == f"sent {key}={MASK} ok"
    assert mask_text(f"{header}: abc123") == f"{header}: {MASK}"
    assert mask_text(f'{{"{key}": "abc 123"}}') == f'{{"{key}": "{MASK}"}}'


def test_mask_value_masks_nested_keys_by_exact_name_only() -> None:
    data = {
        "api_key": "k",
        "Password": "p",
        "nested": [{"private_key": "-----BEGIN", "db_password": "x", "auth_token": "t"}],
        "secret": None,
        "tokens_remaining": 5,
        "keyfile_path": "/k.pem",
        "token_bucket": "basic",
    }
    assert mask_value(data) == {
        "api_key": "***",
        "Password": "***",
        "nested": [{"private_key": "***", "db_password": "***", "auth_token": "***"}],
        "secret": None,
        "tokens_remaining": 5,
        "keyfile_path": "/k.pem",
        "token_bucket": "basic",
    }
