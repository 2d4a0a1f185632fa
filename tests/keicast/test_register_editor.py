"""Accepting a claim: a prepared, validated edit of the register, written and undone atomically."""

import shutil

import pytest

from keicast.errors import ConfigError
from keicast.register import load_register
from keicast.register_editor import register_edit

from ..conftest import ROOT

CLAIM = {
    "path": "/inbox/prices.md",
    "title": "New-car prices ease",
    "publisher": "Test Wire",
    "date": "2026-11-01",
    "text": "$48,000",
    "value": 48_000.0,
    "unit": "USD",
    "family": "usd",
    "sentence": "The average new car price now sits at about $48,000, down from last year.",
}


def test_a_register_edit_is_prepared_without_writing_and_accepting_twice_changes_nothing(tmp_path):
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    before = register.read_text()
    edit = register_edit(register, CLAIM, "market.avg_new_vehicle_price", "2026-11-23")
    assert register.read_text() == before and "+    value: 48000" in edit.diff()
    edit.write()
    assert load_register(register).assumptions["market.avg_new_vehicle_price"].value == 48_000
    assert register_edit(register, CLAIM, "market.avg_new_vehicle_price", "2026-11-24") is None
    edit.undo()
    assert register.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["register.yaml"]  # no staging file left


def test_an_edit_leaves_the_lines_it_does_not_change_as_they_were(tmp_path):
    """The sources list keeps its indentation and its nulls: a reviewer's diff shows the accept, nothing else."""
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    diff = register_edit(register, CLAIM, "market.avg_new_vehicle_price", "2026-11-23").diff().splitlines()
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    assert len(removed) <= 4, removed  # version, value, rationale, the evidence line it goes above


def test_a_new_key_takes_the_register_unit_of_the_claims_family(tmp_path):
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    register_edit(register, CLAIM, "market.price_fixture", "2026-11-23", new=True).write()
    entry = load_register(register).assumptions["market.price_fixture"]
    assert (entry.unit, entry.domain, entry.kind) == ("USD", "positive", "article")
    assert entry.use == "context only (accepted from prices.md on 2026-11-23)"
    assert load_register(register).source(entry.evidence[0].source).folder == "/inbox"


@pytest.mark.parametrize(
    "key,expected", [("japan.kei_share", "a key whose unit fits the claim's (usd)"), ("Bad Key;", "lower-case words")]
)
def test_a_key_of_another_unit_or_a_malformed_key_is_refused(tmp_path, key, expected):
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    before = register.read_text()
    with pytest.raises(ConfigError) as info:
        register_edit(register, CLAIM, key, "2026-11-23", new=True)
    assert info.value.problems[0].key == "" and expected in info.value.problems[0].expected
    assert register.read_text() == before


def test_a_key_the_register_lacks_is_refused_unless_asked_for_with_its_nearest_key(tmp_path):
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    before = register.read_text()
    with pytest.raises(ConfigError) as info:
        register_edit(register, CLAIM, "market.avg_new_vehicle_prise", "2026-11-23")
    assert "did you mean 'market.avg_new_vehicle_price'" in info.value.problems[0].expected
    assert register.read_text() == before
