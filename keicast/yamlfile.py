"""Reading keicast's YAML files (config.yaml, the register, article front matter) safely.

A regular file under MAX_YAML_BYTES, UTF-8, parsed with a SafeLoader that also refuses aliases, nesting
deeper than MAX_YAML_DEPTH and duplicate keys. Every problem is a ConfigError naming the file and position.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from keicast.errors import ConfigError, Problem
from keicast.inputs import InputRefused, read_bounded, reason

MAX_YAML_BYTES = 1_000_000  # the file's bytes as stored (docs/configuration.md: Limits), never a size after parsing
MAX_YAML_DEPTH = 32  # the config nests 5 deep and the register 4; deeper is a mistake or an attack


class _NoAliasComposer(Composer):
    """Refuses aliases: an alias bomb cannot expand."""

    def compose_node(self, parent, index):  # noqa: D102 - ruamel.yaml hook
        if self.parser.check_event(AliasEvent):
            mark = self.parser.peek_event().start_mark
            raise ComposerError(None, None, "YAML aliases (*name) are not allowed in keicast files", mark)
        return super().compose_node(parent, index)


class _UniqueKeyConstructor(SafeConstructor):
    """The safe constructor (no python/* tags) that refuses a key given twice in one mapping: a second ``run:``
    block would silently replace the first."""

    def check_mapping_key(self, node, key_node, mapping, key, value):  # noqa: D102 - ruamel.yaml hook
        if key in mapping:
            raise ConstructorError(
                None, None, f"duplicate key '{key}' (each key may appear once per mapping)", key_node.start_mark
            )
        return True


def _safe_yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer, yaml.Constructor = _NoAliasComposer, _UniqueKeyConstructor
    yaml.max_depth = MAX_YAML_DEPTH  # a deep file cannot exhaust the stack
    return yaml


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML text safely (plain values, no aliases, no duplicate keys, limited nesting). Raises ConfigError
    naming ``name`` and the position."""
    try:
        return _safe_yaml().load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        raise ConfigError([Problem(name, where, f"nesting deeper than {MAX_YAML_DEPTH} levels",
                                   "well-formed YAML with plain values only")]) from None  # fmt: skip
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, where, problem, "well-formed YAML with plain values only")]) from None
    except RecursionError:
        raise ConfigError([Problem(name, "", "(deeply nested)", f"at most {MAX_YAML_DEPTH} levels")]) from None


def dump_yaml(data: Any) -> str:
    """Plain YAML text of ``data`` (block style, keys in their order)."""
    import io

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style, yaml.sort_base_mapping_type_on_output = False, False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


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
