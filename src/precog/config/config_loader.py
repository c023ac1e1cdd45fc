"""Load, validate and cache the configuration; atomic, thread-safe reload.

Files: seven YAML files, one per `Settings` section — system, data_sources, markets,
probability_models, trading, trade_strategies, position_management (`<name>.yaml`).

Layering (later wins, mappings are deep-merged, lists and scalars replaced whole):

1. the packaged defaults, `precog/config/defaults/<name>.yaml` (every key lives here);
2. `<name>.yaml` files in the user directory `PRECOG_CONFIG_DIR` (any subset of the seven,
   any subset of keys; another `*.yaml`/`*.yml` file there is an error, to catch typos);
3. environment variables `PRECOG__<FILE>__<KEY>__<SUBKEY>=value`, e.g.
   `PRECOG__DATA_SOURCES__KALSHI__POLL_INTERVAL_SECONDS=5` or
   `PRECOG__DATA_SOURCES__ESPN__LEAGUES=[nfl, nba]`. Names are case-insensitive, the value
   is read as a YAML scalar or flow value (a flow mapping merges into the mapping at that
   key, as a file would), and the key must already exist (a typo is an error naming the
   variable, never a silently ignored setting).

Then `${VAR}` and `${VAR:-default}` in string values are replaced from the environment
(`:-` also applies when VAR is empty); an unset VAR without a default is an error. Finally
each file is validated against its schema (`precog.config.schemas`). Numbers with a
fraction are read as `Decimal`, never `float`. Every problem is reported as one line
`<file or variable>: <key path>: <problem>`, and all problems are reported at once.

`ConfigLoader.settings` is an immutable snapshot; `reload()` builds a complete new one and
swaps the reference, so a reader holding a snapshot sees one consistent configuration, and
a failed reload raises `ConfigError` and keeps serving the previous snapshot.
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from precog.config.schemas import SECTIONS, Settings
from precog.config.yaml_loader import parse_yaml
from precog.errors import ConfigError
from precog.utils.masking import mask_value

DEFAULTS_DIR = Path(__file__).with_name("defaults")
ENV_PREFIX = "PRECOG__"

KeyPath = tuple[str | int, ...]
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class InvalidConfigError(ConfigError):
    """One or more configuration problems; `problems` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more; run `precog config validate` to list them)" if more else ""
        super().__init__(f"{self.problems[0]}{suffix}")


# ---------------------------------------------------------------- building a snapshot


class _Build:
    """One attempt to build `Settings`: the merged tree, where each value came from, problems."""

    def __init__(
        self, config_dir: Path | None, environ: Mapping[str, str], defaults_dir: Path
    ) -> None:
        self.environ = environ
        self.tree: dict[str, Any] = {}
        self.sources: dict[KeyPath, str] = {}
        self.problems: list[str] = []
        for name in SECTIONS:
            self._layer(defaults_dir / f"{name}.yaml", name, required=True)
        if config_dir is not None:
            self._user_dir(config_dir)
        self._env_overrides()
        self.tree = self._interpolate(self.tree, ())

    def settings(self) -> Settings:
        sections: dict[str, BaseModel] = {}
        for name, schema in SECTIONS.items():
            if name not in self.tree:  # its file failed to parse; already reported
                continue
            try:
                sections[name] = schema.model_validate(self.tree[name])
            except ValidationError as exc:
                self.problems.extend(self._describe(name, error) for error in exc.errors())
        if self.problems:
            raise InvalidConfigError(self.problems)
        return Settings.model_validate(sections)

    # -- layers

    def _layer(self, path: Path, name: str, *, required: bool) -> None:
        try:
            text = path.read_bytes().decode()  # UTF-8 (decode's default), never the locale's
        except FileNotFoundError:
            if required:
                self.problems.append(f"{path}: file is missing from the installation")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{path}: cannot read: {exc}")
            self.tree.pop(name, None)
            return
        try:
            data = parse_yaml(text, str(path))
        except ConfigError as exc:
            self.problems.append(str(exc))
            self.tree.pop(name, None)  # a broken file poisons its section, not the others
            return
        if data is None:  # an empty file changes nothing
            return
        if not isinstance(data, dict):
            self.problems.append(f"{path}: expected a mapping of keys, found {_show(data)}")
            self.tree.pop(name, None)
            return
        if name in self.tree or required:
            self.tree[name] = self._merge(self.tree.get(name), data, (name,), str(path))

    def _user_dir(self, config_dir: Path) -> None:
        if not config_dir.is_dir():
            self.problems.append(f"PRECOG_CONFIG_DIR={config_dir} is not a directory")
            return
        expected = ", ".join(f"{name}.yaml" for name in SECTIONS)
        try:
            entries = sorted(config_dir.iterdir())
        except OSError as exc:
            self.problems.append(f"{config_dir}: cannot list: {exc}")
            return
        for entry in entries:
            visible_yaml = entry.suffix in (".yaml", ".yml") and not entry.name.startswith(".")
            if visible_yaml and (entry.suffix == ".yml" or entry.stem not in SECTIONS):
                self.problems.append(
                    f"{entry}: not a configuration file name; expected one of {expected}"
                )
        for name in SECTIONS:
            self._layer(config_dir / f"{name}.yaml", name, required=False)

    def _merge(self, base: Any, overlay: Any, path: KeyPath, source: str) -> Any:
        self.sources[path] = source
        if isinstance(base, dict) and isinstance(overlay, dict):
            merged = dict(base)
            for key, value in overlay.items():
                merged[key] = self._merge(base.get(key), value, (*path, key), source)
            return merged
        if isinstance(overlay, dict):
            return {key: self._merge(None, v, (*path, key), source) for key, v in overlay.items()}
        return overlay

    def _env_overrides(self) -> None:
        for variable in sorted(self.environ):
            if variable.upper().startswith(ENV_PREFIX):
                try:
                    self._env_override(variable, self.environ[variable])
                except ConfigError as exc:
                    self.problems.append(str(exc))

    def _env_override(self, variable: str, raw: str) -> None:
        parts = variable[len(ENV_PREFIX) :].lower().split("__")
        section, keys = parts[0], parts[1:]
        if section not in SECTIONS or not keys or not all(keys):
            files = ", ".join(name.upper() for name in SECTIONS)
            raise ConfigError(
                f"environment variable {variable}: expected PRECOG__<FILE>__<KEY>[__<KEY>...] "
                f"with FILE one of {files}"
            )
        if section not in self.tree:  # its file failed; already reported
            return
        node: Any = self.tree[section]
        path: KeyPath = (section,)
        for depth, key in enumerate(keys):
            actual = _find_key(node, key)
            if actual is None:
                where = ".".join(str(p) for p in path[1:]) or f"{section}.yaml"
                known = sorted(str(k) for k in node) if isinstance(node, dict) else []
                raise ConfigError(
                    f"environment variable {variable}: unknown key {key!r} in {where}"
                    + (f"; known keys: {', '.join(known)}" if known else "")
                )
            path = (*path, actual)
            if depth < len(keys) - 1:
                node = node[actual]
        source = f"environment variable {variable}"
        value = parse_yaml(raw, source)
        # a mapping value merges into the mapping there, like a file layer does
        node[path[-1]] = self._merge(node[path[-1]], value, path, source)

    # -- interpolation

    def _interpolate(self, value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: self._interpolate(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._interpolate(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return _VARIABLE.sub(lambda match: self._variable(match, path), value)
        return value

    def _variable(self, match: re.Match[str], path: KeyPath) -> str:
        name, default = match.group(1), match.group(2)
        value = self.environ.get(name)
        if value:  # unset and empty alike
            return value
        if default is not None:
            return default
        self.problems.append(
            self._locate(
                path,
                f"environment variable {name} is not set or empty (set it, or write "
                f"${{{name}:-default}} to give a default)",
            )
        )
        return match.group(0)

    # -- error messages

    def _locate(self, path: KeyPath, problem: str) -> str:
        # The layer that last wrote the nearest recorded key; every section in the tree has
        # at least its own entry (the defaults layer records it), so one is always found.
        source = next(
            self.sources[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.sources
        )
        key = _key_path(path[1:])
        return f"{source}: {key}: {problem}" if key else f"{source}: {problem}"

    def _describe(self, section: str, error: ErrorDetails) -> str:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(SECTIONS[section], loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
            return self._locate((section, *loc), f"unknown key; {hint}")
        if error["type"] == "missing":
            return self._locate((section, *loc), "missing required key")
        return self._locate((section, *loc), _problem(error))


def _find_key(node: Any, key: str) -> str | None:
    if not isinstance(node, dict):
        return None
    return next((k for k in node if isinstance(k, str) and k.lower() == key), None)


def _key_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the schema allows in the model at `loc` (for typo hints).

    `loc` leads through model fields and the names of `Mapping[name, model]` entries (e.g. a
    strategy); pydantic gives a field's annotation with its `Annotated` metadata taken off.
    A shape the hint does not follow (an optional model, a list of models) gives no hint
    rather than an error about the error.
    """
    annotation: Any = model
    for part in loc:
        if get_origin(annotation) is Mapping:
            annotation = get_args(annotation)[1]
        elif _is_model(annotation) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
        else:
            return []
    return list(annotation.model_fields) if _is_model(annotation) else []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


_EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a number",
    "decimal_type": "a number",
    "finite_number": "a finite number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "mapping_type": "a mapping",
    "path_type": "a path",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _problem(error: ErrorDetails) -> str:
    kind = error["type"]
    found = _show(error["input"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, found {found}"
    # pydantic gives these kinds their limit in `ctx`
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        return f"expected a value {op} {error['ctx'][key]}, found {found}"
    if kind in ("enum", "literal_error"):
        return f"expected one of {error['ctx']['expected']}, found {found}"
    if kind == "string_pattern_mismatch":
        return f"expected a value matching {error['ctx']['pattern']}, found {found}"
    if kind == "too_short":
        return f"expected at least {error['ctx']['min_length']} item(s), found {found}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if kind == "value_error" else f"{message}, found {found}"


def _show(value: Any) -> str:
    """A config value as the user wrote it, for error messages."""
    if isinstance(value, dict | list | tuple):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None or isinstance(value, bool):
        return str(value).lower().replace("none", "null")
    return repr(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- the loader


def build_settings(
    config_dir: Path | None, environ: Mapping[str, str], *, defaults_dir: Path = DEFAULTS_DIR
) -> Settings:
    """Build a complete `Settings` from the layers, or raise `InvalidConfigError`.

    `defaults_dir` is the installation's packaged files (another one lets a test break them).
    """
    build = _Build(config_dir, environ, defaults_dir)
    return build.settings()


class ConfigLoader:
    """Holds the current `Settings` snapshot; `reload()` replaces it atomically.

    `config_dir` defaults to `PRECOG_CONFIG_DIR` (read at each load) and `environ` to
    `os.environ`. The constructor loads once and raises `ConfigError` if that fails.
    Read `settings` once and use that object when several values must agree.
    """

    def __init__(
        self, config_dir: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self._explicit_dir = config_dir
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        # Reload coordination (see `reload`): builds run one at a time, numbered in the
        # order they start; `_outcome` is the result of build number `_finished`.
        self._turn = threading.Condition()
        self._building = False
        self._started = 0
        self._finished = 0
        self._outcome: Settings | ConfigError | None = None
        self._settings = self._build()

    @property
    def config_dir(self) -> Path | None:
        """The user configuration directory in effect (None: packaged defaults only)."""
        if self._explicit_dir is not None:
            return self._explicit_dir
        raw = self._environ.get("PRECOG_CONFIG_DIR", "").strip()
        return Path(raw).expanduser() if raw else None

    @property
    def settings(self) -> Settings:
        """The current immutable snapshot."""
        return self._settings

    def reload(self) -> Settings:
        """Build a new snapshot from the files and environment and swap it in.

        Returns the result of a build that started after this call began, so it reflects
        every file written before the call. Builds run one at a time (so the snapshot in
        place is always the one read last and readers never see versions go back), but a
        caller never queues behind more than the build already running: callers that
        arrive during a build share the next one. A steady stream of reloads from other
        threads therefore cannot starve anyone (a plain lock held during the build could:
        `threading.Lock` is not fair). On failure the previous snapshot stays and
        `ConfigError` is raised to every caller that shared that build.
        """
        with self._turn:
            wanted = self._started + 1  # the first build to start after this call
            while self._finished < wanted:
                if self._building:
                    self._turn.wait()
                    continue
                self._building = True
                self._started += 1
                number = self._started
                self._turn.release()  # build outside the lock: readers and waiters go on
                try:
                    outcome: Settings | ConfigError = self._build()
                except ConfigError as exc:
                    outcome = exc
                finally:
                    self._turn.acquire()
                    self._building = False
                    self._turn.notify_all()  # also if the build died: a waiter takes over
                if isinstance(outcome, Settings):
                    self._settings = outcome  # one reference assignment: old or new
                self._outcome, self._finished = outcome, number
            shared = self._outcome
        if isinstance(shared, ConfigError):
            raise shared.with_traceback(None)  # shared by every caller of that build
        assert shared is not None
        return shared

    def get(self, key: str) -> Any:
        """A value by dotted path, e.g. "data_sources.kalshi.poll_interval_seconds"."""
        return lookup(self._settings, key)

    def as_dict(self, file: str | None = None) -> dict[str, Any]:
        """Plain data of the whole configuration (or one file), secrets masked."""
        data = self._settings.model_dump()
        if file is not None:
            if file not in SECTIONS:
                raise ConfigError(
                    f"unknown configuration file {file!r}; use one of {', '.join(SECTIONS)}"
                )
            data = data[file]
        masked: dict[str, Any] = mask_value(data)
        return masked

    def _build(self) -> Settings:
        return build_settings(self.config_dir, self._environ)


def lookup(settings: Settings, key: str) -> Any:
    """The value at a dotted path in a snapshot; an unknown key is a ConfigError."""
    node: Any = settings
    done: list[str] = []
    for part in key.split("."):
        known = _children(node)
        if part not in known:
            where = ".".join(done) or "the configuration"
            hint = f"known keys: {', '.join(known)}" if known else f"{where} is a value"
            raise ConfigError(f"unknown configuration key {key!r}: no {part!r} in {where}; {hint}")
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
        done.append(part)
    return node


def _children(node: Any) -> list[str]:
    if isinstance(node, BaseModel):
        return list(type(node).model_fields)
    if isinstance(node, Mapping):
        return [str(k) for k in node]
    return []
