"""Reading keicast's YAML files (config.yaml, the register, article front matter) safely.

A regular file under MAX_YAML_BYTES, UTF-8, parsed with a SafeLoader that also refuses aliases, nesting
deeper than MAX_YAML_DEPTH and duplicate keys. Every problem is a ConfigError naming the file and position.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import yaml

from keicast.errors import ConfigError, Problem
from keicast.inputs import InputRefused, read_bounded, reason

MAX_YAML_BYTES = 1_000_000  # the file's bytes as stored (README: Limits), never a size after parsing
MAX_YAML_DEPTH = 32  # the config nests 5 deep and the register 4; deeper is a mistake or an attack


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader (no python/* tags) that also refuses aliases (alias bombs cannot expand), nesting deeper
    than MAX_YAML_DEPTH (a deep file cannot exhaust the stack) and a key given twice in one mapping (a second
    ``run:`` block would silently replace the first)."""

    depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in keicast files", event.start_mark
            )
        if self.depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nesting deeper than {MAX_YAML_DEPTH} levels", event.start_mark
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (each key may appear once per mapping)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML text with :class:`_NoAliasLoader`. Raises ConfigError naming ``name`` and the position."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - _NoAliasLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, where, problem, "well-formed YAML with plain values only")]) from None
    except RecursionError:
        raise ConfigError([Problem(name, "", "(deeply nested)", f"at most {MAX_YAML_DEPTH} levels")]) from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file safely: a regular file under MAX_YAML_BYTES, no python tags, no aliases, no duplicate
    keys, limited nesting. Raises ConfigError."""
    return parse_yaml(read_yaml_bytes(path).decode("utf-8"), str(path))


def read_yaml_bytes(path: Path) -> bytes:
    """The bytes of a YAML input file (regular file, size-limited, UTF-8). Raises ConfigError."""
    name = str(path)
    try:
        data = read_bounded(path, MAX_YAML_BYTES)
        data.decode("utf-8")
        return data
    except FileNotFoundError:
        raise ConfigError([Problem(name, "", name, "an existing, readable YAML file (not found)")]) from None
    except InputRefused as exc:
        # the one measure of a YAML file's size: its bytes as stored, comments and indentation included
        limit = f" of at most {MAX_YAML_BYTES:,} bytes as stored" if exc.errno == errno.EFBIG else ""
        raise ConfigError([Problem(name, "", name, f"a regular YAML file{limit} ({reason(exc)})")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [Problem(name, "", name, f"a readable UTF-8 YAML file ({exc.__class__.__name__}: {exc})")]
        ) from None
