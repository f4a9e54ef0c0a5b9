"""Reading a config: YAML through PyYAML's safe loader, remembering each value's line.

``yaml.safe_load`` returns plain dicts and lists and forgets where each value came from. To
name the line of a typo'd key or a bad value, the file is composed into PyYAML's node tree
(``SafeLoader.get_single_node``: still the safe loader, so no tag can construct a Python
object) and walked here: scalars are constructed by the safe constructor, and every path
(``("model", 1, "out_features")``) is mapped to its line. Duplicate keys, which ``safe_load``
silently lets the last one win, are an error.

``--set key=value`` overrides are applied to the result; their paths remember the override
text instead of a line.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "Source", "read_yaml", "did_you_mean"]

PathT = tuple[Any, ...]


class ConfigError(ValueError):
    """A config file is wrong; the message names the file, the line and the key.

    Attributes:
        file: the config file.
        line: the line (from 1) of the offending value, or ``None`` (e.g. an override).
        key: the key's path, e.g. ``"model[1].out_features"``.

    Example:
        >>> str(ConfigError("net.yaml: line 3: optimizer.lr: expected a number", "net.yaml", 3,
        ...                 "optimizer.lr"))
        'net.yaml: line 3: optimizer.lr: expected a number'
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.key = key


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""``.

    Example:
        >>> did_you_mean("optimiser", ["optimizer", "model"])
        " (did you mean 'optimizer'?)"
    """
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def format_path(path: Sequence[Any]) -> str:
    """``("model", 1, "out_features")`` -> ``"model[1].out_features"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


class Source:
    """A config's data plus where each value came from (file lines, ``--set`` overrides)."""

    def __init__(self, file: str, data: Any, lines: dict[PathT, int], base_dir: Path) -> None:
        self.file = file
        self.data = data
        self.lines = lines
        self.origins: dict[PathT, str] = {}
        #: relative paths in the file are relative to this directory
        self.base_dir = base_dir

    def line(self, path: PathT) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins:
                return None
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def origin(self, path: PathT) -> str | None:
        """The ``--set`` that gave ``path`` (or an ancestor, or a key it created) its value."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
        if path and path not in self.lines:
            for p, origin in self.origins.items():
                if p[:len(path)] == path:
                    return origin
        return None

    def where(self, path: PathT) -> str:
        """``"net.yaml: line 5"`` or ``"net.yaml: --set optimizer.lr=x"``."""
        origin = self.origin(path)
        if origin is not None:
            return f"{self.file}: {origin}"
        line = self.line(path)
        if line is None:
            return self.file
        inner = [o for p, o in self.origins.items() if p[:len(path)] == path]
        return f"{self.file}: line {line}" + (f" (with {'; '.join(inner)})" if inner else "")

    def error(self, path: PathT, message: str) -> ConfigError:
        """A :class:`ConfigError` for the value at ``path``."""
        key = format_path(path)
        return ConfigError(f"{self.where(path)}: {key}: {message}", self.file,
                           None if self.origin(path) else self.line(path), key)

    def resolve_path(self, path: PathT, value: str) -> Path:
        """A filesystem path from the config: relative to the config's folder, or to the
        current directory for a ``--set`` value."""
        p = Path(os.path.expanduser(value))
        if p.is_absolute():
            return p
        return (Path.cwd() if self.origin(path) else self.base_dir) / p

    # -- overrides ------------------------------------------------------------------------
    def override(self, text: str) -> None:
        """Apply ``key.path=value`` (the value is YAML: ``0.1``, ``[1, 2]``, ``Adam``).

        Keys are dot-separated; a list is indexed by position or, for lists of named
        mappings (layers, callbacks), by the ``name`` or ``type`` of an entry:
        ``model.fc1.out_features=128``, ``callbacks.EarlyStopping.patience=3``.
        """
        import yaml

        origin = f"{self.file}: --set {text}"
        if "=" not in text:
            raise ConfigError(f"{origin}: expected key=value")
        key, raw = text.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"{origin}: the key {key!r} is not a dotted path like "
                              "optimizer.lr")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"{origin}: the value is not valid YAML ({_problem(e)})") from None
        parts = key.split(".")
        node = self.data
        path: PathT = ()
        if not isinstance(node, dict):
            raise ConfigError(f"{origin}: the config is not a mapping")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, dict) and "layers" in node and part not in node and \
                    isinstance(node["layers"], list) and path == ("model",):
                node, path = node["layers"], path + ("layers",)
            if isinstance(node, list):
                index = _list_index(node, part)
                if index is None:
                    named = [str(e.get("name", e.get("type"))) for e in node if isinstance(e, dict)]
                    raise ConfigError(f"{origin}: {format_path(path)} has no entry {part!r}"
                                      f"{did_you_mean(part, named)} (entries: "
                                      f"{', '.join(named) or 'none'})")
                path = path + (index,)
                if last:
                    node[index] = value
                else:
                    node = node[index]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"{origin}: {format_path(path)} is a "
                                  f"{type(node).__name__}, not a mapping: cannot set {part!r}")
            path = path + (part,)
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                elif isinstance(node[part], str) and not last:
                    node[part] = {"type": node[part]}  # loss: CrossEntropyLoss -> mapping
                node = node[part]
        self.origins[path] = origin[len(self.file) + 2:]
        for p in [p for p in self.lines if p[:len(path)] == path and len(p) > len(path)]:
            del self.lines[p]


def _list_index(items: list, part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if -len(items) <= index < len(items) else None
    for key in ("name", "type"):
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get(key) == part:
                return i
            if key == "type" and item == part:
                return i
    return None


def _problem(e: Exception) -> str:
    problem = getattr(e, "problem", None) or str(e)
    mark = getattr(e, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def read_yaml(path: str | os.PathLike) -> Source:
    """Read a YAML config with the safe loader, keeping every value's line.

    Raises:
        ConfigError: the file is missing, not YAML, uses a non-safe tag, or repeats a key.

    Example:
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "c.yaml")
        >>> _ = open(p, "w").write("seed: 0\\noptimizer:\\n  type: Adam\\n  lr: 0.001\\n")
        >>> src = read_yaml(p)
        >>> src.data["optimizer"], src.line(("optimizer", "lr"))
        ({'type': 'Adam', 'lr': 0.001}, 4)
    """
    import yaml

    file = os.fspath(path)
    try:
        text = Path(file).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file", file) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot read the config ({e})", file) from None
    loader = yaml.SafeLoader(text)
    lines: dict[PathT, int] = {}
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise ConfigError(f"{file}: line {line}: not valid YAML: "
                              f"{getattr(e, 'problem', None) or e}", file, line) from None
        data = {} if node is None else _convert(loader, node, (), lines, file)
    finally:
        loader.dispose()
    return Source(file, data, lines, Path(file).resolve().parent)


def _convert(loader: Any, node: Any, path: PathT, lines: dict[PathT, int], file: str) -> Any:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    try:
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in (
                "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            line = node.start_mark.line + 1
            raise ConfigError(f"{file}: line {line}: {format_path(path)}: the tag {node.tag} "
                              "is not allowed (configs are read with the safe loader)", file,
                              line)
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise ConfigError(f"{file}: line {line}: a key must be a plain scalar, "
                                      f"got {key!r}", file, line)
                if key in out:
                    raise ConfigError(f"{file}: line {line}: {format_path(path + (key,))}: "
                                      f"duplicate key (first given on line "
                                      f"{lines[path + (key,)]})", file, line)
                lines[path + (key,)] = line
                out[key] = _convert(loader, value_node, path + (key,), lines, file)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [_convert(loader, v, path + (i,), lines, file)
                    for i, v in enumerate(node.value)]
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        line = node.start_mark.line + 1
        raise ConfigError(f"{file}: line {line}: {format_path(path)}: "
                          f"{getattr(e, 'problem', None) or e}", file, line) from None
