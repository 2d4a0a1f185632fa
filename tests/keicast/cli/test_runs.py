"""`runs`, `report`, `compare`, `sql`, `schema`: commands on stored runs."""

from keicast.cli import app

from .conftest import runner


def test_runs_limit_must_be_positive(published):
    assert runner.invoke(app, ["runs", "--limit", "-1"]).exit_code == 2
