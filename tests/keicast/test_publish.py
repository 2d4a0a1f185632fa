"""Publishing is all or nothing: both latest links move together or neither does, and nothing is lost."""

import errno
from types import SimpleNamespace

import pytest

from keicast.errors import KeicastError
from keicast.publish import _place, check_targets


def write(name):
    return lambda folder: (folder / name).write_text(f"{folder.name} {name}")


@pytest.fixture
def roots(tmp_path):
    reports, exports = tmp_path / "reports", tmp_path / "exports"
    _place({reports: write("index.html"), exports: write("part.parquet")}, "r1", make_latest=True)
    return reports, exports


def test_both_latest_links_switch_together(roots):
    reports, exports = roots
    _place({reports: write("index.html"), exports: write("part.parquet")}, "r2", make_latest=True)
    assert (reports / "latest").resolve().name == (exports / "latest").resolve().name == "r2"


def test_a_failure_while_publishing_leaves_latest_and_removes_what_it_made(roots):
    reports, exports = roots

    def disk_full(folder):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        _place({reports: write("index.html"), exports: disk_full}, "r2", make_latest=True)
    assert (reports / "latest").resolve().name == (exports / "latest").resolve().name == "r1"
    assert sorted(p.name for p in reports.iterdir()) == ["latest", "r1"]
    assert sorted(p.name for p in exports.iterdir()) == ["latest", "r1"]


def test_a_real_latest_folder_is_refused_and_kept(tmp_path):
    reports = tmp_path / "reports"
    (reports / "latest").mkdir(parents=True)
    (reports / "latest" / "mine.txt").write_text("a user's file")
    settings = SimpleNamespace(run=SimpleNamespace(reports_dir=reports, exports_dir=tmp_path / "exports"))
    with pytest.raises(KeicastError, match="is a real folder, not keicast's link") as info:
        check_targets(settings)
    assert "never deletes it" in str(info.value) and "mv " in str(info.value)
    assert (reports / "latest" / "mine.txt").read_text() == "a user's file"


def test_an_output_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    from keicast.errors import ConfigError

    (tmp_path / "file").write_text("")
    settings = SimpleNamespace(
        run=SimpleNamespace(reports_dir=tmp_path / "reports", exports_dir=tmp_path / "file" / "x")
    )
    with pytest.raises(ConfigError, match="run.exports_dir") as info:
        check_targets(settings)
    assert "a folder keicast can write" in str(info.value)
