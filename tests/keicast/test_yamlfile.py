"""Reading YAML safely: malformed, aliased, tagged, oversized, deep, duplicated or special files are refused with
the file and position."""

import pytest

from keicast.config import load_settings
from keicast.errors import ConfigError

from ..conftest import base_config, write_config
from .config.conftest import _many_scenarios, problems_of


def test_malformed_yaml(tmp_path):
    problems, text = problems_of(tmp_path, "run: {draws: [1, 2\n")
    assert "config.yaml" in text and "line" in problems[0].key


def test_empty_file(tmp_path):
    _, text = problems_of(tmp_path, "")
    assert "empty file" in text


def test_non_mapping_top_level(tmp_path):
    _, text = problems_of(tmp_path, "- a\n- b\n")
    assert "mapping" in text and "list" in text


def test_missing_config_path(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.yaml")
    assert "not found" in str(info.value) and "nope.yaml" in str(info.value)


def test_unreadable_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "UTF-8" in str(info.value)


def test_alias_bomb_is_refused_without_expanding(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    _, text = problems_of(tmp_path, bomb)
    assert "aliases" in text


def test_python_tags_are_refused(tmp_path):
    _, text = problems_of(tmp_path, "run: !!python/object/apply:os.system ['echo pwned']\n")
    assert "python/object/apply" in text


def test_oversized_file_is_refused(tmp_path):
    _, text = problems_of(tmp_path, "# " + "x" * 1_100_000 + "\n")
    assert "bytes" in text


def test_duplicate_keys_are_refused_with_their_line(tmp_path):
    text = write_config(tmp_path, base_config(tmp_path)).read_text() + "run:\n  draws: 100\n"
    problems, message = problems_of(tmp_path, text)
    assert "duplicate key 'run'" in message and problems[0].key.startswith("line ")


def test_deep_nesting_is_refused_without_recursion(tmp_path):
    _, message = problems_of(tmp_path, "a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert "nesting deeper than 32 levels" in message


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_config_at_a_device_or_fifo_is_refused_at_once(tmp_path, special):
    import os

    path = tmp_path / "fifo.yaml"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path = special
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(path)


def test_the_size_limit_counts_the_file_as_stored_and_nothing_else(tmp_path):
    """Issue 26: 9,600 scenarios in 0.99 MB load (one measure: the file's bytes); one byte over 1 MB is refused."""
    from keicast.yamlfile import MAX_YAML_BYTES

    path = tmp_path / "config.yaml"
    text, count = _many_scenarios(tmp_path, 990_000)
    path.write_text(text)
    assert path.stat().st_size == 990_000 and count >= 9_600
    assert len(load_settings(path).scenarios) == count
    path.write_text(text[:-1] + "#" * (MAX_YAML_BYTES + 1 - len(text)) + "\n")
    problems, message = problems_of(tmp_path)
    assert "at most 1,000,000 bytes as stored" in message and "too large: 1,000,001 bytes" in message
