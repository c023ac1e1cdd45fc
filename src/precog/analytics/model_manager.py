"""Immutable, versioned probability models (SPEC §5): the rules and the API.

A model version is identified by (name, version) and never changes its class or config once
stored; a new config is a new version. This module owns:
- semantic versions (`ModelVersion`): MAJOR[.MINOR[.PATCH]] parsed, stored canonically as
  MAJOR.MINOR.PATCH, ordered numerically (1.10 > 1.9);
- config validation (`validate_config`): JSON-shaped data whose numbers are `int` or exact
  `Decimal` (a `float` is refused), returned in the canonical form that is stored and read
  back exactly;
- the lifecycle draft -> testing -> active -> deprecated (`TRANSITIONS`), with a timestamp
  per step and at most one active version per name: activating a version deprecates the
  one it replaces in the same transaction;
- metrics (accuracy, calibration error, sample size) with their ranges;
- the typed errors, all exit code 2 at the command line: unknown model class, duplicate
  version, illegal transition, an attempt to change a stored config (which the database's
  trigger also refuses), unknown model, invalid input.

Storage is `precog.database.crud_operations.models`; the database enforces the same invariants
(unique (name, version), one active per name, canonical versions, config immutability).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from precog.database.connection import Database
from precog.database.crud_operations import models as crud_models
from precog.database.crud_operations.models import Conn, ModelRow, NewModel
from precog.database.errors import UniqueViolationError
from precog.errors import ConfigError
from precog.utils.clock import Clock, SystemClock

T = TypeVar("T")

LIFECYCLE = ("draft", "testing", "active", "deprecated")
# A version is tested before it goes live; one that is abandoned or replaced is deprecated.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("testing", "deprecated"),
    "testing": ("active", "deprecated"),
    "active": ("deprecated",),
    "deprecated": (),
}
MAX_DEPTH = 32
MAX_DECIMAL_DIGITS = 100  # digits on either side of the point
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.(0|[1-9][0-9]{0,8}))?(?:\.(0|[1-9][0-9]{0,8}))?")


def allowed_transition(current: str, target: str) -> bool:
    """Whether the lifecycle lets a version in `current` move to `target`."""
    return target in TRANSITIONS.get(current, ())


# ---------------------------------------------------------------- errors


class ModelError(ConfigError):
    """A model request that cannot be carried out as given (exit code 2)."""


class InvalidModelInputError(ModelError):
    """A name, version, config or metric is malformed or out of range."""


class UnknownModelClassError(ModelError):
    """The model class is not one of the known (and configured) classes."""


class DuplicateVersionError(ModelError):
    """This (name, version) is already stored."""


class ImmutableConfigError(ModelError):
    """A stored version's config would change; configs never change, versions are added."""


class IllegalTransitionError(ModelError):
    """The lifecycle does not allow this status change."""


class ModelNotFoundError(ModelError):
    """No stored model has this id or (name, version)."""


# ---------------------------------------------------------------- versions


@dataclass(frozen=True, order=True)
class ModelVersion:
    """A semantic version; the dataclass order (major, minor, patch) is the semantic order."""

    major: int
    minor: int = 0
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> ModelVersion:
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise InvalidModelInputError(
                f"version {text!r} is not MAJOR[.MINOR[.PATCH]] (numbers of at most 9 digits, "
                "no leading zeros), e.g. 1.2.0"
            )
        major, minor, patch = (int(part) if part else 0 for part in match.groups())
        return cls(major, minor, patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def canonical_version(text: str) -> str:
    """`1.10` -> `1.10.0`: the form stored and shown."""
    return str(ModelVersion.parse(text))


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidModelInputError(
            f"model name {name!r} must be 1-100 letters, digits or _ . : - "
            "and start with a letter or digit"
        )
    return name


# ---------------------------------------------------------------- config


def validate_config(config: Any) -> dict[str, Any]:
    """The canonical, storable form of a config mapping, or InvalidModelInputError.

    Numbers must be exact: `int` or finite `Decimal`; a `Decimal` without a fractional part
    becomes `int` and `-0.0` becomes `0.0`, which is what the database gives back, so the
    result reads back equal (and of the same types) after it is stored.
    """
    if not isinstance(config, Mapping):
        raise InvalidModelInputError(
            f"config must be a mapping of settings, got {type(config).__name__}"
        )
    result = _canonical(config, "config", 0)
    assert isinstance(result, dict)
    return result


def _canonical(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidModelInputError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) >= 10**MAX_DECIMAL_DIGITS:
            raise InvalidModelInputError(f"{path}: integer has more than 100 digits")
        return value
    if isinstance(value, float):
        raise InvalidModelInputError(
            f"{path}: {value!r} is a float; write the number in the config file (it is read "
            "as an exact decimal) or pass a Decimal"
        )
    if isinstance(value, Decimal):
        return _canonical_decimal(value, path)
    if isinstance(value, str):
        return _checked_text(value, path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidModelInputError(f"{path}: key {key!r} is not a string")
            _checked_text(key, f"{path} key")
            out[key] = _canonical(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidModelInputError(
        f"{path}: {type(value).__name__} is not allowed; use mappings, lists, strings, "
        "integers, decimals, booleans or null"
    )


def _canonical_decimal(value: Decimal, path: str) -> Decimal | int:
    if not value.is_finite():
        raise InvalidModelInputError(f"{path}: {value} is not a finite number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return _canonical(int(value), path, 0)  # type: ignore[no-any-return]
    if -exponent > MAX_DECIMAL_DIGITS or value.adjusted() >= MAX_DECIMAL_DIGITS:
        raise InvalidModelInputError(f"{path}: {value} has more than 100 digits on a side")
    return value.copy_abs() if value.is_zero() else value


def _checked_text(text: str, path: str) -> str:
    if "\x00" in text:
        raise InvalidModelInputError(f"{path}: text contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidModelInputError(f"{path}: text is not valid Unicode") from None
    return text


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class ModelMetrics:
    """How a version performed: accuracy and calibration error in [0, 1] over `sample_size`."""

    accuracy: Decimal
    calibration: Decimal
    sample_size: int
    evaluated_at: datetime

    def __post_init__(self) -> None:
        for field in ("accuracy", "calibration"):
            value = getattr(self, field)
            if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
                raise InvalidModelInputError(
                    f"metrics {field} must be a decimal between 0 and 1, got {value}"
                )
        if isinstance(self.sample_size, bool) or not isinstance(self.sample_size, int):
            raise InvalidModelInputError(
                f"metrics sample_size must be a whole number, got {self.sample_size!r}"
            )
        if self.sample_size < 1:
            raise InvalidModelInputError(
                f"metrics sample_size must be at least 1, got {self.sample_size}"
            )
        if self.evaluated_at.tzinfo is None:
            raise InvalidModelInputError("metrics evaluated_at needs a timezone")

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "calibration": self.calibration,
            "sample_size": self.sample_size,
            "evaluated_at": self.evaluated_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelMetrics:
        return cls(
            accuracy=Decimal(str(data["accuracy"])),
            calibration=Decimal(str(data["calibration"])),
            sample_size=int(data["sample_size"]),
            evaluated_at=datetime.fromisoformat(str(data["evaluated_at"])),
        )


def metrics_of(model: ModelRow) -> ModelMetrics | None:
    return None if model.metrics is None else ModelMetrics.from_json(model.metrics)


# ---------------------------------------------------------------- the manager


@dataclass(frozen=True)
class ModelSpec:
    """What `create` needs; validated and canonicalized by `ModelManager`."""

    name: str
    version: str
    model_class: str
    config: Mapping[str, Any]
    description: str | None = None


class ModelManager:
    """Create, read and move probability model versions through their lifecycle.

    `allowed_classes` narrows the database's model classes (the CLI passes the configured
    `probability_models.model_classes`); `clock` stamps created/testing/active/deprecated.
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        allowed_classes: Collection[str] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._allowed = None if allowed_classes is None else frozenset(allowed_classes)

    async def _run(self, work: Callable[[Conn], Awaitable[T]], *, write: bool = True) -> T:
        """One connection (and transaction for writes); a lost activation race as a model error.

        The advisory lock serializes activations made through this class; the one-active
        index still refuses a concurrent writer that bypasses it.
        """
        try:
            async with self._db.connection() as conn:
                if not write:
                    return await work(conn)
                async with conn.transaction():
                    return await work(conn)
        except UniqueViolationError as exc:
            if exc.constraint == crud_models.ONE_ACTIVE_INDEX:
                raise IllegalTransitionError(
                    "another version of this model became active at the same time; "
                    "nothing was changed, look at `precog models list` and retry"
                ) from exc
            raise

    # -- create -------------------------------------------------------------------

    async def create(
        self,
        name: str,
        version: str,
        model_class: str,
        config: Mapping[str, Any],
        description: str | None = None,
    ) -> ModelRow:
        """Store a new draft version; see `create_many`."""
        spec = ModelSpec(name, version, model_class, config, description)
        return (await self.create_many([spec]))[0]

    async def create_many(self, specs: Sequence[ModelSpec]) -> list[ModelRow]:
        """Store new draft versions in one transaction: all of them, or none and an error."""
        prepared = [self._prepare(s) for s in specs]
        keys = [(p.name, p.version) for p in prepared]
        if len(set(keys)) != len(keys):
            twice = next(k for k in keys if keys.count(k) > 1)
            raise DuplicateVersionError(f"model {twice[0]} {twice[1]} is given twice")

        async def work(conn: Conn) -> list[ModelRow]:
            class_ids = await crud_models.model_class_ids(conn)
            new = [
                NewModel(p.name, p.version, self._class_id(p.model_class, class_ids), p.config,
                         p.description)
                for p in prepared
            ]  # fmt: skip
            ids = await crud_models.insert_models(conn, new, self._clock.now())
            stored = await crud_models.get_models(conn, keys)
            if len(ids) != len(new):
                created = set(ids)
                clash = next(row for row in stored if row.model_id not in created)
                raise _clash_error(clash, prepared[keys.index((clash.name, clash.version))])
            return stored

        result = await self._run(work)
        order = {key: i for i, key in enumerate(keys)}
        return sorted(result, key=lambda row: order[(row.name, row.version)])

    def _prepare(self, spec: ModelSpec) -> ModelSpec:
        if spec.description is not None:
            _checked_text(spec.description, "description")
        return ModelSpec(
            name=validate_name(spec.name),
            version=canonical_version(spec.version),
            model_class=spec.model_class,
            config=validate_config(spec.config),
            description=spec.description,
        )

    def _class_id(self, model_class: str, class_ids: Mapping[str, int]) -> int:
        known = sorted(class_ids if self._allowed is None else self._allowed & class_ids.keys())
        if model_class not in known:
            raise UnknownModelClassError(
                f"unknown model class {model_class!r}; use one of: {', '.join(known)}"
            )
        return class_ids[model_class]

    # -- read ---------------------------------------------------------------------

    async def get(self, model_id: int) -> ModelRow:
        async def work(conn: Conn) -> ModelRow | None:
            return await crud_models.get_model(conn, model_id)

        row = await self._run(work, write=False)
        if row is None:
            raise ModelNotFoundError(f"no model with id {model_id}")
        return row

    async def find(self, name: str, version: str) -> ModelRow | None:
        key = (name, canonical_version(version))

        async def work(conn: Conn) -> list[ModelRow]:
            return await crud_models.get_models(conn, [key])

        rows = await self._run(work, write=False)
        return rows[0] if rows else None

    async def get_version(self, name: str, version: str) -> ModelRow:
        row = await self.find(name, version)
        if row is None:
            raise ModelNotFoundError(
                f"no model {name} {canonical_version(version)}; see `precog models list`"
            )
        return row

    async def list(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        model_class: str | None = None,
    ) -> list[ModelRow]:
        """Versions matching the filters, by name and semantic version."""
        if status is not None:
            _check_status(status)

        async def work(conn: Conn) -> list[ModelRow]:
            return await crud_models.list_models(
                conn, name=name, status=status, model_class=model_class
            )

        rows = await self._run(work, write=False)
        return rows

    async def latest(self, name: str, status: str | None = None) -> ModelRow | None:
        """The highest version of `name` by semantic order (1.10 above 1.9)."""
        if status is not None:
            _check_status(status)

        async def work(conn: Conn) -> ModelRow | None:
            return await crud_models.latest_model(conn, name, status)

        return await self._run(work, write=False)

    async def active(self, name: str) -> ModelRow | None:
        return await self.latest(name, "active")

    # -- lifecycle ----------------------------------------------------------------

    async def start_testing(self, name: str, version: str) -> ModelRow:
        return await self._transition(name, version, "testing")

    async def activate(self, name: str, version: str) -> ModelRow:
        """Make this version the active one; the version it replaces becomes deprecated."""
        return await self._transition(name, version, "active")

    async def deprecate(self, name: str, version: str) -> ModelRow:
        return await self._transition(name, version, "deprecated")

    async def _transition(self, name: str, version: str, target: str) -> ModelRow:
        key = (name, canonical_version(version))

        async def work(conn: Conn) -> ModelRow:
            await crud_models.lock_model_name(conn, name)
            row = await _stored_row(conn, key)
            if not allowed_transition(row.status, target):
                raise IllegalTransitionError(_illegal(row, target))
            at = self._clock.now()
            if target == "active":
                current = await crud_models.latest_model(conn, name, "active")
                if current is not None:
                    await crud_models.set_status(conn, current.model_id, "deprecated", at)
            await crud_models.set_status(conn, row.model_id, target, at)
            return await _stored_row(conn, key)

        return await self._run(work)

    # -- metrics ------------------------------------------------------------------

    async def record_metrics(self, name: str, version: str, metrics: ModelMetrics) -> ModelRow:
        """Store (replace) the evaluation metrics of a version; its config stays as it is."""
        key = (name, canonical_version(version))

        async def work(conn: Conn) -> ModelRow:
            row = await _stored_row(conn, key)
            await crud_models.set_metrics(conn, row.model_id, metrics.to_json())
            return await _stored_row(conn, key)

        return await self._run(work)


async def _stored_row(conn: Conn, key: tuple[str, str]) -> ModelRow:
    rows = await crud_models.get_models(conn, [key])
    if not rows:
        raise ModelNotFoundError(f"no model {key[0]} {key[1]}; see `precog models list`")
    return rows[0]


def _check_status(status: str) -> None:
    if status not in LIFECYCLE:
        raise InvalidModelInputError(
            f"unknown status {status!r}; use one of: {', '.join(LIFECYCLE)}"
        )


def _illegal(row: ModelRow, target: str) -> str:
    allowed = TRANSITIONS[row.status]
    then = f"it can only go to {' or '.join(allowed)}" if allowed else "it is final"
    hint = " (move it to testing first)" if (row.status, target) == ("draft", "active") else ""
    return (
        f"model {row.name} {row.version} is {row.status} and cannot become {target}{hint}; {then}"
    )


def _clash_error(stored: ModelRow, wanted: ModelSpec) -> ModelError:
    if stored.config != wanted.config or stored.model_class != wanted.model_class:
        return ImmutableConfigError(
            f"model {stored.name} {stored.version} is already stored with a different "
            f"{'config' if stored.config != wanted.config else 'class'}; a stored version "
            "never changes: create a new version instead"
        )
    return DuplicateVersionError(
        f"model {stored.name} {stored.version} already exists; choose a new version"
    )
