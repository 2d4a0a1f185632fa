"""The temporary server's preconditions, read from the environment; no server is started here."""

import sys
from pathlib import Path

import pytest

from keicast import server
from keicast.errors import KeicastError


@pytest.fixture
def env(monkeypatch):
    """A clean Prefect environment: no API URL, no database URL, no profile."""
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", *server.DATABASE_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_prefect_home_comes_from_prefect_home(env, tmp_path):
    env.setenv("PREFECT_HOME", str(tmp_path / "home"))
    assert server.prefect_home() == (tmp_path / "home", "PREFECT_HOME")


def test_without_prefect_home_it_is_the_default_under_home(env, tmp_path):
    env.delenv("PREFECT_HOME", raising=False)
    env.setenv("HOME", str(tmp_path))
    home, origin = server.prefect_home()
    assert home == tmp_path / ".prefect" and origin == f"Prefect's default home ~/.prefect, HOME={tmp_path}"


def test_the_database_is_prefect_db_in_the_home_unless_a_setting_names_one(env, tmp_path):
    assert server.prefect_database(tmp_path) == (tmp_path / "prefect.db", None)
    env.setenv("PREFECT_API_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{tmp_path}/other.db?timeout=5")
    assert server.prefect_database(tmp_path) == (tmp_path / "other.db", "PREFECT_API_DATABASE_CONNECTION_URL")
    env.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", f"sqlite:///{tmp_path}/first.db")  # read first
    assert server.prefect_database(tmp_path) == (tmp_path / "first.db", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://u:p@host/prefect", "sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///"]
)
def test_another_database_is_not_a_file_to_check(env, tmp_path, url):
    env.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", url)
    assert server.prefect_database(tmp_path) == (None, None)


def test_a_writable_home_is_created_and_returned(env, tmp_path):
    env.setenv("PREFECT_HOME", str(tmp_path / "new" / "home"))
    assert server.check_prefect_home() == tmp_path / "new" / "home"
    assert (tmp_path / "new" / "home").is_dir() and list((tmp_path / "new" / "home").iterdir()) == []


def test_an_unwritable_home_is_refused_naming_the_setting(env):
    env.setenv("PREFECT_HOME", "/dev/null/prefect")
    with pytest.raises(KeicastError) as info:
        server.check_prefect_home()
    text = str(info.value)
    assert "the folder /dev/null/prefect is not writable" in text and "it comes from PREFECT_HOME" in text
    assert "Set PREFECT_HOME to a writable place" in text and "PREFECT_API_URL" in text


def test_an_unwritable_default_home_names_home(env):
    env.delenv("PREFECT_HOME", raising=False)
    env.setenv("HOME", "/dev/null")
    with pytest.raises(KeicastError, match=r"/dev/null/\.prefect is not writable.*HOME=/dev/null.*Set PREFECT_HOME"):
        server.check_prefect_home()


def test_a_database_that_cannot_be_opened_is_named_with_its_setting(env, tmp_path):
    env.setenv("PREFECT_HOME", str(tmp_path / "home"))
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "prefect.db").mkdir()  # a folder where SQLite wants a file
    env.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{tmp_path}/db/prefect.db")
    with pytest.raises(KeicastError) as info:
        server.check_prefect_home()
    text = str(info.value)
    assert f"{tmp_path}/db/prefect.db is not writable" in text
    setting = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    assert f"from {setting}" in text and f"Set {setting} to a writable place" in text


def test_configured_reflects_prefect_api_url(env):
    env.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert server.configured() is True


def test_with_prefect_loaded_its_settings_answer(env):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert server.configured() is True
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert server.configured() is False


def write_profiles(path: Path, active: str, url: str | None) -> None:
    body = f'[profiles.{active}]\nPREFECT_API_URL = "{url}"\n' if url else f"[profiles.{active}]\n"
    path.write_text(f'active = "{active}"\n' + body)


def test_before_prefect_loads_the_active_profile_answers(env, tmp_path):
    env.setenv("PREFECT_HOME", str(tmp_path))
    env.delitem(sys.modules, "prefect.settings", raising=False)  # as in a command that has not imported Prefect yet
    assert server.configured() is False  # no profiles.toml
    write_profiles(tmp_path / "profiles.toml", "standing", "http://127.0.0.1:4200/api")
    assert server.configured() is True
    write_profiles(tmp_path / "profiles.toml", "local", None)
    assert server.configured() is False
    (tmp_path / "profiles.toml").write_text("not = [toml")
    assert server.configured() is False


def test_prefect_profile_picks_the_profile(env, tmp_path):
    env.setenv("PREFECT_HOME", str(tmp_path))
    env.delitem(sys.modules, "prefect.settings", raising=False)
    (tmp_path / "profiles.toml").write_text(
        'active = "local"\n[profiles.local]\n[profiles.remote]\nPREFECT_API_URL = "http://h/api"\n'
    )
    assert server.configured() is False
    env.setenv("PREFECT_PROFILE", "remote")
    assert server.configured() is True


def test_start_temporary_server_does_nothing_when_an_api_url_is_set(env):
    env.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    env.setenv("PREFECT_HOME", "/dev/null/prefect")  # not even checked
    assert server.start_temporary_server() is None
