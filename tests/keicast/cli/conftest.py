"""Fixtures of the command tests: a published project to prove bad input changes nothing, bad configs, an inbox."""

import hashlib
import json

import pytest
from typer.testing import CliRunner

from keicast.cli import app
from keicast.yamlfile import dump_yaml, parse_yaml

from ...conftest import ROOT, base_config, write_config

runner = CliRunner()


def snapshot(tmp_path):
    """Hash of every file under the project folder except the configs we write."""
    digest = {}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and not path.name.endswith(".yaml"):
            digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A project folder with an existing warehouse and published report, to prove they stay untouched."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse.duckdb").write_bytes(b"pretend warehouse")
    (tmp_path / "reports" / "r0").mkdir(parents=True)
    (tmp_path / "reports" / "r0" / "index.html").write_text("<p>previous report</p>")
    return tmp_path


def bad_configs(tmp):
    good = base_config(tmp)

    def with_(mutate):
        c = parse_yaml(dump_yaml(good), "test")
        mutate(c)
        return dump_yaml(c)

    return {
        "malformed": ("run: {draws: [1, 2\n", [], ["line"]),
        "empty": ("", [], ["empty file"]),
        "not a mapping": ("- 1\n- 2\n", [], ["mapping"]),
        "unknown key": (with_(lambda c: c["run"].update(drawz=5)), [], ["run.drawz", "did you mean 'draws'"]),
        "wrong type": (with_(lambda c: c["run"].update(seed="abc")), [], ["run.seed", "'abc'"]),
        "share out of range": (
            with_(lambda c: c.update(assumptions={"japan.kei_share": 1.4})),
            [],
            ["assumptions.japan.kei_share", "1.4", "[0, 1]"],
        ),
        "zero price": (with_(lambda c: c.update(assumptions={"kei.target_price": 0})), [], ["kei.target_price", "> 0"]),
        "tariff above 1": (
            with_(lambda c: c["scenarios"]["japan_imports_tariff"].update(assumptions={"policy.import_tariff": 1.5})),
            [],
            ["scenarios.japan_imports_tariff.assumptions.policy.import_tariff", "1.5"],
        ),
        "nan": (
            with_(lambda c: None).replace("assumptions: {}", "assumptions: {policy.import_tariff: .nan}"),
            [],
            ["policy.import_tariff", "nan"],
        ),
        "unknown scenario": (with_(lambda c: None), ["--scenario", "nope"], ["--scenario", "'nope'"]),
        "malformed --set": (with_(lambda c: None), ["--set", "kei.target_price"], ["--set", "KEY=VALUE"]),
        "alias bomb": ("a: &a [1, 1]\nb: &b [*a, *a]\nc: [*b, *b]\n", [], ["aliases"]),
        "python tag": ("run: !!python/object/apply:os.system ['true']\n", [], ["python/object/apply"]),
        "sql in key": (
            with_(lambda c: None),
            ["--set", "x;drop table runs=1"],
            ["x;drop table runs", "[a-z0-9_.] only"],
        ),
        "shell in key": (with_(lambda c: None), ["--set", "kei.$(touch pwned)=1"], ["[a-z0-9_.] only"]),
        "every problem at once": (
            with_(lambda c: (c["run"].update(drawz=5), c.update(assumptions={"policy.import_tarif": 0.1}))),
            ["--set", "kei.target_pric=9000"],
            ["run.drawz", "assumptions.policy.import_tarif", "did you mean 'policy.import_tariff'", "kei.target_pric"],
        ),
        "missing field": (
            with_(lambda c: c["scenarios"]["status_quo"].pop("description")),
            [],
            ["scenarios.status_quo.description", "this key is required"],
        ),
    }


@pytest.fixture
def inbox_project(prefect_server, tmp_path):
    import shutil

    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    inbox = tmp_path / "articles"
    inbox.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "inbox" / "prices.md", inbox / "prices.md")
    config = base_config(tmp_path, register_file=str(register), articles_dir=str(inbox))
    return write_config(tmp_path, config), register, inbox


def scan_json(config):
    result = runner.invoke(app, ["articles", "scan", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)
