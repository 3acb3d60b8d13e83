"""YAML loading that remembers where each value came from, and ``${VAR}`` interpolation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from responder.errors import ConfigIssue

Loc = tuple[str | int, ...]

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})")


@dataclass
class SourceFile:
    """A parsed YAML file with the line of every key path in it."""

    path: Path
    display: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    unset_vars: list[tuple[str, Loc]] = field(default_factory=list)
    """``${VAR}`` references without a value or default, with the key path that used each."""

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        return ConfigIssue(self.display, self.line_of(loc), format_loc(loc), message)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def interpolate(text: str, env: Mapping[str, str], unset: set[str]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; ``$$`` is a literal ``$``.

    An unset variable without a default expands to the empty string and is reported
    (as docker compose does), so a missing secret shows up in ``responder check``.
    """

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name")
        value = env.get(name)
        if value not in (None, ""):
            return str(value)
        if match.group("default") is not None:
            return match.group("default")
        unset.add(name)
        return ""

    return _VAR.sub(expand, text)


def load_yaml(
    path: Path, display: str, env: Mapping[str, str] | None = None
) -> tuple[SourceFile, list[ConfigIssue]]:
    """Parse ``path``; on a syntax error return the issue with YAML's own line and column."""
    source = SourceFile(path=path, display=display)
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return source, [ConfigIssue(display, None, "", f"cannot read file: {exc}")]
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return source, []
        issues: list[ConfigIssue] = []
        source.data = _convert(loader, node, (), source, env, issues)
        return source, issues
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        # The parser fails where it gave up (often the line after an unclosed bracket); the
        # context says where the construct it was reading began, which is where the fix usually goes.
        if exc.problem and exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            problem += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        return source, [ConfigIssue(display, line, "", f"YAML syntax error: {problem}")]
    finally:
        loader.dispose()


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    source: SourceFile,
    env: Mapping[str, str],
    issues: list[ConfigIssue],
) -> Any:
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                issues.append(source.issue(loc, f"mapping key {key!r} must be a string"))
                continue
            key_loc = (*loc, str(key))
            if key in result:
                issues.append(
                    ConfigIssue(
                        source.display,
                        key_node.start_mark.line + 1,
                        format_loc(key_loc),
                        f'duplicate key "{key}" (first defined at line {source.lines[key_loc]})',
                    )
                )
            source.lines[key_loc] = key_node.start_mark.line + 1
            result[key] = _convert(loader, value_node, key_loc, source, env, issues)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*loc, i), source, env, issues) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and "$" in value:
        unset: set[str] = set()
        value = interpolate(value, env, unset)
        source.unset_vars += [(name, loc) for name in sorted(unset)]
    return value
