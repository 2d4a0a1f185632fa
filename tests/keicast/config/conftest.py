"""Helpers of the configuration tests: the problems a config file gives, and a config with many scenarios."""

import pytest

from keicast.config import load_settings
from keicast.errors import ConfigError
from keicast.yamlfile import dump_yaml

from ...conftest import base_config, write_config


def problems_of(tmp_path, text=None, config=None, **kwargs):
    path = tmp_path / "config.yaml"
    if config is not None:
        path.write_text(dump_yaml(config))
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    return info.value.problems, str(info.value)


def error_for(tmp_path, **kwargs) -> ConfigError:
    """The ConfigError of loading the quick test config with these command-line arguments."""
    path = write_config(tmp_path, base_config(tmp_path))
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    return info.value


def _many_scenarios(tmp_path, size: int):
    """The quick test config with enough one-line scenarios to make the file ``size`` bytes as stored."""
    head = dump_yaml({k: v for k, v in base_config(tmp_path).items() if k != "scenarios"})
    line = "  s{:05d}: {{description: one of many, launch_year: 2028, road_access: kei_class}}\n"
    count = (size - len(head) - len("scenarios:\n")) // len(line.format(0))
    text = head + "scenarios:\n" + "".join(line.format(i) for i in range(count))
    return text + "#" * (size - len(text) - 1) + "\n", count
