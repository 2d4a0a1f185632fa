"""The command process: version, help and exit codes."""

from keicast.cli import app

from .conftest import runner


def test_version_and_help_read_like_a_tool():
    assert runner.invoke(app, ["--version"]).output.startswith("keicast ")
    helped = runner.invoke(app, ["run", "--help"]).output
    assert "KEY=VALUE" in helped and "--quiet" in helped and "<list" not in helped and "<bool>" not in helped
    assert "<pdf|increments>" in runner.invoke(app, ["calibrate", "--help"]).output
