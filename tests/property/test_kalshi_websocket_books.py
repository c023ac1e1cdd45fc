"""Properties of the stream records and books: any snapshot plus any deltas gives the book a
price -> size model predicts (asks derived from the other side), wire decimals parse
exactly, and the sandbox feed's snapshot + deltas rebuild the sandbox's own book for any
seed and any number of simulation steps."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_stream_models import (
    BookDelta,
    BookSnapshot,
    OrderBook,
    parse_book_delta,
    parse_book_snapshot,
    parse_ticker,
)
from precog.sandbox.exchange import SandboxExchange
from precog.sandbox.stream_feed import StreamFeed
from precog.utils.clock import FakeClock
from tests.plugins.kalshi_stream import sandbox_levels

pytestmark = pytest.mark.module("kalshi_websocket")

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
prices = st.integers(1, 99).map(lambda c: Decimal(c) / 100)
sizes = st.integers(1, 1000).map(Decimal)
sides = st.sampled_from(["yes", "no"])


@given(
    yes=st.dictionaries(prices, sizes, max_size=8),
    no=st.dictionaries(prices, sizes, max_size=8),
    deltas=st.lists(st.tuples(sides, prices, st.integers(-600, 600).map(Decimal)), max_size=40),
)
def test_book_equals_the_price_size_model(
    yes: dict[Decimal, Decimal],
    no: dict[Decimal, Decimal],
    deltas: list[tuple[str, Decimal, Decimal]],
) -> None:
    book = OrderBook("K")
    book.apply_snapshot(BookSnapshot("K", 1, 1, tuple(yes.items()), tuple(no.items()), None))
    model = {"yes": dict(yes), "no": dict(no)}
    for seq, (side, price, change) in enumerate(deltas, start=2):
        book.apply_delta(BookDelta("K", 1, seq, side, price, change, None))
        level = model[side].get(price, Decimal(0)) + change
        if level > 0:
            model[side][price] = level
        else:
            model[side].pop(price, None)
    assert book.levels("yes") == sorted(model["yes"].items())
    assert book.levels("no") == sorted(model["no"].items())
    top = book.top(snapshot=False, venue_time=None, received_at=NOW)
    assert top.yes_bid == (max(model["yes"]) if model["yes"] else None)
    assert top.yes_ask == (1 - max(model["no"]) if model["no"] else None)


@given(cents=st.integers(0, 10_000), size=st.integers(0, 10**9))
def test_fixed_point_strings_parse_exactly(cents: int, size: int) -> None:
    price = (Decimal(cents) / 10_000).quantize(Decimal("0.0001"))
    count = (Decimal(size) / 100).quantize(Decimal("0.01"))
    update = parse_ticker(
        {"market_ticker": "K", "yes_bid_dollars": str(price), "volume_fp": str(count)}, NOW
    )
    assert update.yes_bid == price
    assert update.volume == count


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), warmup=st.integers(0, 5), steps=st.integers(1, 12))
def test_feed_snapshot_plus_deltas_rebuild_the_sandbox_book(
    seed: int, warmup: int, steps: int
) -> None:
    exchange = SandboxExchange(seed=seed, markets=12, clock=FakeClock())
    exchange.step(warmup)
    feed = StreamFeed(exchange)
    exchange.listeners.append(lambda: batches.append(feed.changes()))
    batches: list = []
    books = {}
    for ticker in exchange.market_tickers():
        snapshot = parse_book_snapshot(json.loads(feed.snapshot_body(ticker)), 1, None)
        books[ticker] = OrderBook(ticker)
        books[ticker].apply_snapshot(snapshot)
    exchange.step(steps)
    for batch in batches:
        for update in batch.updates:
            if update.kind == "orderbook_delta":
                books[update.ticker].apply_delta(parse_book_delta(json.loads(update.body), 1, None))
    for ticker, book in books.items():
        yes, no = sandbox_levels(exchange, ticker)
        assert (book.levels("yes"), book.levels("no")) == (yes, no), ticker


@given(
    price=st.one_of(
        st.integers(0, 10_000).map(
            lambda n: str((Decimal(n) / 10_000).quantize(Decimal("0.0001")))
        ),
        st.sampled_from(["1", "1.0", "0", "0.5", "1.0001", "2", "-0.1", "0.12345", "", "x"]),
    ),
    change=st.one_of(
        st.integers(-(10**8), 10**8).map(lambda n: str(Decimal(n) / 100)),
        st.sampled_from(["1e3", "0.001", "--1", "1.", ".5"]),
    ),
    side=st.sampled_from(["yes", "no", "maybe"]),
    ts_ms=st.one_of(st.integers(0, 2 * 10**12), st.none()),
)
def test_fast_delta_path_agrees_with_the_checked_path(
    price: str, change: str, side: str, ts_ms: int | None
) -> None:
    from precog.api_connectors.kalshi_stream_models import _parse_book_delta_checked

    data = {"market_ticker": "K", "price_dollars": price, "delta_fp": change, "side": side}
    if ts_ms is not None:
        data["ts_ms"] = ts_ms
    try:
        checked = _parse_book_delta_checked(data, 1, 2)
    except ParseError:
        with pytest.raises(ParseError):
            parse_book_delta(data, 1, 2)
        return
    assert parse_book_delta(data, 1, 2) == checked


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 8))
def test_feed_history_ends_at_the_current_quotes(seed: int, steps: int) -> None:
    exchange = SandboxExchange(seed=seed, markets=10, clock=FakeClock())
    feed = StreamFeed(exchange)
    exchange.listeners.append(feed.changes)
    exchange.step(steps)
    last = {state.ticker: state for state in feed.history}
    assert set(last) == set(exchange.market_tickers())
    for ticker, state in last.items():
        market = exchange.markets[ticker]
        assert (state.yes_bid, state.yes_ask, state.last_price, state.status) == (
            market.yes_bid,
            market.yes_ask,
            market.last_price,
            market.status,
        )
        sent = parse_ticker(json.loads(feed.ticker_body(ticker)), NOW)  # what a client reads
        assert (sent.yes_bid, sent.yes_ask, sent.last_price) == (
            state.yes_bid,
            state.yes_ask,
            state.last_price,
        )
