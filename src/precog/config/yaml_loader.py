"""YAML for configuration: numbers with a fraction become `Decimal` (never `float`), and a
syntax error becomes one line naming the file, the line and the problem.

YAML 1.1 float forms (`0.05`, `1.5e3`, `.inf`, `.nan`, `1_000.5`, `1:30.5`) are built from
their source text as `Decimal`, so `0.1` in a file is exactly `Decimal("0.1")`. The dumper
writes `Decimal` back as a plain YAML number, so dump -> load is lossless.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

import yaml

from precog.errors import ConfigError

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class DecimalLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader whose floats are `Decimal`."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text in (".inf", ".nan"):
        return sign * Decimal("Infinity") if text == ".inf" else Decimal("NaN")
    if ":" in text:  # YAML 1.1 sexagesimal, e.g. 1:30.5 == 90.5
        value = Decimal(0)
        for part in text.split(":"):
            value = value * 60 + Decimal(part)
        return sign * value
    return sign * Decimal(text)


DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with Decimal floats; a syntax error is a one-line ConfigError."""
    try:
        return yaml.load(text, Loader=DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = ": ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{source}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """SafeDumper that writes Decimal as numbers and tuples, enums and paths as plain data."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if not value.is_finite():
        return dumper.represent_scalar("tag:yaml.org,2002:float", str(value).lower())
    text = format(value, "f")
    return dumper.represent_scalar("tag:yaml.org,2002:float", text if "." in text else f"{text}.0")


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(tuple, lambda dumper, value: dumper.represent_list(list(value)))
_Dumper.add_multi_representer(Enum, lambda dumper, value: dumper.represent_str(str(value.value)))
_Dumper.add_multi_representer(PurePath, lambda dumper, value: dumper.represent_str(str(value)))


def dump_yaml(data: Any) -> str:
    """Block-style YAML of plain data (Decimal, tuple, Enum and Path allowed), keys in order."""
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return text
