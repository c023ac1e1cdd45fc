"""The whole SPEC §4 schema: venues' reference data, SCD2 history tables, append-only records.

Conventions the code relies on:
- every SCD2 table `<t>` has a key registry `<t>_keys` (one stable bigint id per business key);
  `<t>` carries that id plus the business-key columns, the tracked columns and
  `row_start_ts`, `row_end_ts` (NULL while current), `row_current_ind`;
- the database enforces SCD2 invariants: one current row per business key (partial unique
  indexes) and no overlapping validity periods (btree_gist exclusion on the bigint key id);
- CHECK constraints are named `ck_<table>_<column>[__what]` and foreign keys
  `fk_<table>_<column>`, so a violation can be reported with its column name;
- money NUMERIC(18,4), prices/probabilities NUMERIC(10,4) in [0, 1], counts NUMERIC(18,2).

Revision ID: 0001_schema
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0001_schema"
down_revision = None
branch_labels = None
depends_on = None

MARKET_STATUSES = (
    "initialized",
    "inactive",
    "active",
    "closed",
    "determined",
    "disputed",
    "amended",
    "finalized",
)
GAME_STATUSES = (
    "pre",
    "in_progress",
    "halftime",
    "end_of_period",
    "final",
    "final_ot",
    "delayed",
    "postponed",
    "cancelled",
    "suspended",
)
LEAGUES = ("nfl", "ncaaf", "nba", "ncaab", "nhl", "wnba")
LIFECYCLE = ("draft", "testing", "active", "deprecated")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _price(table: str, column: str, *, not_null: bool = False) -> str:
    null = " NOT NULL" if not_null else ""
    return (
        f"{column} NUMERIC(10,4){null} CONSTRAINT ck_{table}_{column} "
        f"CHECK ({column} >= 0 AND {column} <= 1)"
    )


def _count(table: str, column: str, *, not_null: bool = False) -> str:
    null = " NOT NULL" if not_null else ""
    return f"{column} NUMERIC(18,2){null} CONSTRAINT ck_{table}_{column} CHECK ({column} >= 0)"


def _scd2_table(
    table: str, key_id: str, business_key: list[tuple[str, str]], columns: list[str]
) -> list[str]:
    """DDL for `<table>_keys` and the SCD2 `<table>` with its invariant-enforcing constraints."""
    keys = f"{table}_keys"
    key_cols = ", ".join(name for name, _ in business_key)
    key_defs = ",\n    ".join(f"{name} {sqltype} NOT NULL" for name, sqltype in business_key)
    body = ",\n    ".join(columns)
    return [
        f"""CREATE TABLE {keys} (
    {key_id} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    {key_defs},
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_{keys}_business_key UNIQUE ({key_cols})
)""",
        f"""CREATE TABLE {table} (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    {key_id} BIGINT NOT NULL CONSTRAINT fk_{table}_{key_id} REFERENCES {keys} ({key_id}),
    {key_defs},
    {body},
    row_start_ts TIMESTAMPTZ NOT NULL,
    row_end_ts TIMESTAMPTZ,
    row_current_ind BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ck_{table}_row_current_ind CHECK (row_current_ind = (row_end_ts IS NULL)),
    CONSTRAINT ck_{table}_row_end_ts CHECK (row_end_ts IS NULL OR row_end_ts > row_start_ts),
    CONSTRAINT ex_{table}_validity EXCLUDE USING gist (
        {key_id} WITH =, tstzrange(row_start_ts, row_end_ts, '[)') WITH &&
    )
)""",
        f"CREATE UNIQUE INDEX uq_{table}_current_key ON {table} ({key_id}) WHERE row_current_ind",
        f"CREATE UNIQUE INDEX uq_{table}_current_business_key ON {table} ({key_cols}) "
        "WHERE row_current_ind",
    ]


def _immutable_config_trigger(table: str) -> list[str]:
    """Versions are immutable: name, version and config can never be updated."""
    return [
        f"""CREATE FUNCTION {table}_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.config IS DISTINCT FROM OLD.config THEN
        RAISE EXCEPTION '{table}.config is immutable; create a new version instead'
            USING ERRCODE = 'check_violation', TABLE = '{table}', COLUMN = 'config',
                  CONSTRAINT = 'ck_{table}_config__immutable';
    END IF;
    IF NEW.name IS DISTINCT FROM OLD.name OR NEW.version IS DISTINCT FROM OLD.version THEN
        RAISE EXCEPTION '{table}.name and version are immutable; create a new version instead'
            USING ERRCODE = 'check_violation', TABLE = '{table}', COLUMN = 'version',
                  CONSTRAINT = 'ck_{table}_version__immutable';
    END IF;
    RETURN NEW;
END
$$""",
        f"CREATE TRIGGER trg_{table}_immutable BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_immutable()",
    ]


def _versioned_table(table: str, id_col: str, class_table: str, class_col: str) -> str:
    return f"""CREATE TABLE {table} (
    {id_col} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT ck_{table}_name CHECK (name <> ''),
    version TEXT NOT NULL CONSTRAINT ck_{table}_version CHECK (version ~ '^[0-9]+(\\.[0-9]+)*$'),
    {class_col} BIGINT NOT NULL
        CONSTRAINT fk_{table}_{class_col} REFERENCES {class_table} ({class_col}),
    config JSONB NOT NULL,
    description TEXT,
    status TEXT NOT NULL DEFAULT 'draft'
        CONSTRAINT ck_{table}_status CHECK (status IN {_in(LIFECYCLE)}),
    metrics JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    testing_at TIMESTAMPTZ,
    activated_at TIMESTAMPTZ,
    deprecated_at TIMESTAMPTZ,
    CONSTRAINT uq_{table}_name_version UNIQUE (name, version)
)"""


STATEMENTS: list[str] = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """CREATE TABLE platforms (
    platform_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL CONSTRAINT uq_platforms_code UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CONSTRAINT ck_platforms_kind CHECK (kind IN ('exchange', 'data_source')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)""",
    """CREATE TABLE series (
    series_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id BIGINT NOT NULL CONSTRAINT fk_series_platform_id REFERENCES platforms,
    ticker TEXT NOT NULL CONSTRAINT ck_series_ticker CHECK (ticker <> ''),
    title TEXT,
    category TEXT,
    frequency TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_series_ticker UNIQUE (platform_id, ticker)
)""",
    """CREATE TABLE events (
    event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id BIGINT NOT NULL CONSTRAINT fk_events_platform_id REFERENCES platforms,
    series_id BIGINT NOT NULL CONSTRAINT fk_events_series_id REFERENCES series,
    event_ticker TEXT NOT NULL CONSTRAINT ck_events_event_ticker CHECK (event_ticker <> ''),
    title TEXT,
    sub_title TEXT,
    category TEXT,
    strike_date TIMESTAMPTZ,
    mutually_exclusive BOOLEAN,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_events_event_ticker UNIQUE (platform_id, event_ticker)
)""",
    *_scd2_table(
        "markets",
        "market_id",
        [("ticker", "TEXT")],
        [
            "event_id BIGINT NOT NULL CONSTRAINT fk_markets_event_id REFERENCES events",
            "title TEXT",
            "subtitle TEXT",
            "status TEXT NOT NULL CONSTRAINT ck_markets_status "
            f"CHECK (status IN {_in(MARKET_STATUSES)})",
            _price("markets", "yes_bid"),
            _price("markets", "yes_ask"),
            _price("markets", "no_bid"),
            _price("markets", "no_ask"),
            _price("markets", "last_price"),
            _count("markets", "volume"),
            _count("markets", "open_interest"),
            "open_time TIMESTAMPTZ",
            "close_time TIMESTAMPTZ",
            "result TEXT CONSTRAINT ck_markets_result "
            "CHECK (result IN ('yes', 'no', 'scalar', 'void'))",
            _price("markets", "settlement_value"),
        ],
    ),
    "CREATE INDEX ix_markets_event ON markets (event_id) WHERE row_current_ind",
    *_scd2_table(
        "account_balance",
        "balance_key_id",
        [("platform_id", "BIGINT")],
        [
            "balance NUMERIC(18,4) NOT NULL",
            "portfolio_value NUMERIC(18,4)",
        ],
    ),
    "ALTER TABLE account_balance_keys ADD CONSTRAINT fk_account_balance_keys_platform_id "
    "FOREIGN KEY (platform_id) REFERENCES platforms",
    *_scd2_table(
        "positions",
        "position_key_id",
        [("platform_id", "BIGINT"), ("ticker", "TEXT"), ("side", "TEXT")],
        [
            _count("positions", "quantity", not_null=True),
            "market_exposure NUMERIC(18,4)",
            "total_traded NUMERIC(18,4)",
            "realized_pnl NUMERIC(18,4)",
            "fees_paid NUMERIC(18,4)",
        ],
    ),
    "ALTER TABLE positions_keys ADD CONSTRAINT fk_positions_keys_platform_id "
    "FOREIGN KEY (platform_id) REFERENCES platforms",
    "ALTER TABLE positions_keys ADD CONSTRAINT ck_positions_keys_side "
    "CHECK (side IN ('yes', 'no'))",
    """CREATE TABLE fills (
    fill_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id BIGINT NOT NULL CONSTRAINT fk_fills_platform_id REFERENCES platforms,
    venue_fill_id TEXT NOT NULL CONSTRAINT ck_fills_venue_fill_id CHECK (venue_fill_id <> ''),
    order_id TEXT,
    market_id BIGINT NOT NULL CONSTRAINT fk_fills_market_id REFERENCES markets_keys (market_id),
    ticker TEXT NOT NULL,
    outcome_side TEXT NOT NULL
        CONSTRAINT ck_fills_outcome_side CHECK (outcome_side IN ('yes', 'no')),
    book_side TEXT CONSTRAINT ck_fills_book_side CHECK (book_side IN ('bid', 'ask')),
    action TEXT CONSTRAINT ck_fills_action CHECK (action IN ('buy', 'sell')),
    count NUMERIC(18,2) NOT NULL CONSTRAINT ck_fills_count CHECK (count > 0),
    """
    + _price("fills", "yes_price", not_null=True)
    + """,
    """
    + _price("fills", "no_price")
    + """,
    fee_cost NUMERIC(18,4),
    is_taker BOOLEAN,
    created_time TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_fills_venue_fill_id UNIQUE (platform_id, venue_fill_id)
)""",
    "CREATE INDEX ix_fills_market ON fills (market_id, created_time)",
    """CREATE TABLE settlements (
    settlement_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform_id BIGINT NOT NULL CONSTRAINT fk_settlements_platform_id REFERENCES platforms,
    market_id BIGINT NOT NULL
        CONSTRAINT fk_settlements_market_id REFERENCES markets_keys (market_id),
    ticker TEXT NOT NULL,
    event_ticker TEXT,
    market_result TEXT NOT NULL CONSTRAINT ck_settlements_market_result
        CHECK (market_result IN ('yes', 'no', 'scalar', 'void')),
    """
    + _count("settlements", "yes_count")
    + ",\n    "
    + _count("settlements", "no_count")
    + """,
    yes_total_cost NUMERIC(18,4),
    no_total_cost NUMERIC(18,4),
    revenue NUMERIC(18,4) NOT NULL,
    fee_cost NUMERIC(18,4),
    """
    + _price("settlements", "value")
    + """,
    settled_time TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_settlements_venue_id UNIQUE (platform_id, ticker)
)""",
    f"""CREATE TABLE teams (
    team_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    league TEXT NOT NULL CONSTRAINT ck_teams_league CHECK (league IN {_in(LEAGUES)}),
    espn_team_id TEXT NOT NULL CONSTRAINT ck_teams_espn_team_id CHECK (espn_team_id <> ''),
    abbreviation TEXT,
    display_name TEXT NOT NULL,
    location TEXT,
    name TEXT,
    color TEXT,
    alternate_color TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_teams_league_espn_team_id UNIQUE (league, espn_team_id)
)""",
    """CREATE TABLE venues (
    venue_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    espn_venue_id TEXT NOT NULL CONSTRAINT uq_venues_espn_venue_id UNIQUE,
    name TEXT NOT NULL,
    city TEXT,
    state TEXT,
    country TEXT,
    indoor BOOLEAN,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)""",
    """CREATE TABLE team_rankings (
    ranking_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT NOT NULL CONSTRAINT fk_team_rankings_team_id REFERENCES teams,
    poll TEXT NOT NULL,
    season INTEGER NOT NULL,
    week INTEGER,
    rank INTEGER NOT NULL CONSTRAINT ck_team_rankings_rank CHECK (rank >= 1),
    ranked_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_team_rankings_team_poll_week
        UNIQUE NULLS NOT DISTINCT (team_id, poll, season, week)
)""",
    *_scd2_table(
        "game_states",
        "game_key_id",
        [("league", "TEXT"), ("espn_event_id", "TEXT")],
        [
            "home_team_id BIGINT CONSTRAINT fk_game_states_home_team_id REFERENCES teams",
            "away_team_id BIGINT CONSTRAINT fk_game_states_away_team_id REFERENCES teams",
            "venue_id BIGINT CONSTRAINT fk_game_states_venue_id REFERENCES venues",
            "start_time TIMESTAMPTZ",
            "season_type TEXT",
            "status TEXT NOT NULL CONSTRAINT ck_game_states_status "
            f"CHECK (status IN {_in(GAME_STATUSES)})",
            "period INTEGER CONSTRAINT ck_game_states_period CHECK (period >= 0)",
            "clock_seconds NUMERIC(10,2)",
            "display_clock TEXT",
            "home_score INTEGER CONSTRAINT ck_game_states_home_score CHECK (home_score >= 0)",
            "away_score INTEGER CONSTRAINT ck_game_states_away_score CHECK (away_score >= 0)",
            "situation JSONB",
        ],
    ),
    f"ALTER TABLE game_states_keys ADD CONSTRAINT ck_game_states_keys_league "
    f"CHECK (league IN {_in(LEAGUES)})",
    """CREATE TABLE model_classes (
    model_class_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL CONSTRAINT uq_model_classes_code UNIQUE,
    description TEXT NOT NULL
)""",
    """CREATE TABLE strategy_types (
    strategy_type_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL CONSTRAINT uq_strategy_types_code UNIQUE,
    description TEXT NOT NULL
)""",
    _versioned_table("probability_models", "model_id", "model_classes", "model_class_id"),
    *_immutable_config_trigger("probability_models"),
    _versioned_table("strategies", "strategy_id", "strategy_types", "strategy_type_id"),
    *_immutable_config_trigger("strategies"),
    """CREATE TABLE system_health (
    health_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component TEXT NOT NULL,
    status TEXT NOT NULL CONSTRAINT ck_system_health_status
        CHECK (status IN ('ok', 'degraded', 'down')),
    details JSONB,
    checked_at TIMESTAMPTZ NOT NULL DEFAULT now()
)""",
    "CREATE INDEX ix_system_health_component ON system_health (component, checked_at DESC)",
]

TABLES = [
    "system_health",
    "strategies",
    "probability_models",
    "strategy_types",
    "model_classes",
    "game_states",
    "game_states_keys",
    "team_rankings",
    "venues",
    "teams",
    "settlements",
    "fills",
    "positions",
    "positions_keys",
    "account_balance",
    "account_balance_keys",
    "markets",
    "markets_keys",
    "events",
    "series",
    "platforms",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS probability_models_immutable()")
    op.execute("DROP FUNCTION IF EXISTS strategies_immutable()")
