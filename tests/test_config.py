"""Settings: sources, precedence, defaults and errors that name the variable."""

from pathlib import Path

import pytest

from ziggy_desktop.config import load_settings
from ziggy_desktop.errors import ConfigError


def test_defaults(tmp_path: Path):
    settings = load_settings({"ZIGGY_DATA_DIR": str(tmp_path / "d")}, cwd=tmp_path)
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.max_concurrent_jobs == 10
    assert settings.max_system_queue_size == 10000
    assert settings.sqlite_path == tmp_path / "d" / "ziggy.db"


def test_documented_spelling_and_alias(tmp_path: Path):
    assert load_settings({"MAX_CONCURENT_JOBS": "4"}, cwd=tmp_path).max_concurrent_jobs == 4
    assert load_settings({"MAX_CONCURRENT_JOBS": "5"}, cwd=tmp_path).max_concurrent_jobs == 5
    # Ziggy's own spelling wins when both are set.
    assert load_settings({"MAX_CONCURENT_JOBS": "4", "MAX_CONCURRENT_JOBS": "5"}, cwd=tmp_path).max_concurrent_jobs == 4


@pytest.mark.parametrize("name,value", [
    ("MAX_CONCURENT_JOBS", "abc"), ("MAX_CONCURENT_JOBS", "0"), ("ZIGGY_PORT", "99999"),
    ("MAX_SYSTEM_QUEUE_SIZE", "-1"), ("ZIGGY_DATABASE_URL", "not a url"), ("ZIGGY_LOG_LEVEL", "LOUD"),
    ("ZIGGY_SHUTDOWN_GRACE_SECONDS", "soon"),
])
def test_bad_value_names_the_variable(tmp_path: Path, name: str, value: str):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value}, cwd=tmp_path)
    assert name in caught.value.message


def test_precedence_environment_over_cwd_env_over_data_dir_env(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / ".env").write_text("ZIGGY_PORT=4001\nMAX_SYSTEM_QUEUE_SIZE=77\nMAX_CONCURENT_JOBS=2\n")
    (tmp_path / ".env").write_text(f"ZIGGY_DATA_DIR={data_dir}\nZIGGY_PORT=4002\nMAX_CONCURENT_JOBS=3\n")
    settings = load_settings({"MAX_CONCURENT_JOBS": "6"}, cwd=tmp_path)
    assert settings.data_dir == data_dir
    assert settings.port == 4002  # working-directory .env beats the data dir's
    assert settings.max_system_queue_size == 77  # only the data dir's .env sets it
    assert settings.max_concurrent_jobs == 6  # the environment beats both


def test_bad_value_in_env_file_is_reported(tmp_path: Path):
    (tmp_path / ".env").write_text("ZIGGY_PORT=eighty\n")
    with pytest.raises(ConfigError, match="ZIGGY_PORT"):
        load_settings({}, cwd=tmp_path)
