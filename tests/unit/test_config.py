"""Settings come from the environment, with safe local defaults, and never leak secrets."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from backend import config
from backend.config import Settings, redact_url

VARIABLES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "REDIS_URL",
    "ACCESS_TOKEN_MINUTES",
    "REFRESH_TOKEN_DAYS",
    "CODE_FAILURES_ALLOWED",
    "CODE_FAILURE_WINDOW_MINUTES",
    "API_HOST",
    "API_PORT",
    "TRUSTED_PROXIES",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No configuration variables set, and var/ in a temporary folder."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "VAR_DIR", tmp_path / "var")
    return tmp_path / "var"


def test_defaults_are_the_embedded_local_platform(clean_env: Path) -> None:
    s = Settings.from_env()
    assert s.database_url == f"sqlite:///{clean_env / 'wattpass.db'}"
    assert s.redis_url is None
    assert (s.api_host, s.api_port) == ("127.0.0.1", 8000)
    assert s.access_token_minutes == 15
    assert s.refresh_token_days == 30
    assert (s.code_failures_allowed, s.code_failure_window_minutes) == (5, 15)
    assert s.trusted_proxies == 0


def test_local_secret_is_generated_once_and_private(clean_env: Path) -> None:
    first = Settings.from_env().secret_key
    second = Settings.from_env().secret_key
    assert first == second
    assert len(first) >= 43  # 32 random bytes or more, URL-safe base64
    mode = stat.S_IMODE((clean_env / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_environment_overrides_every_default(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://wp:pw@db.internal:5432/wattpass")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("API_PORT", "9001")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    s = Settings.from_env()
    assert s.database_url == "postgresql://wp:pw@db.internal:5432/wattpass"
    assert s.secret_key == "k" * 40
    assert s.redis_url == "redis://cache:6379/2"
    assert (s.access_token_minutes, s.api_port, s.trusted_proxies) == (5, 9001, 1)
    # An explicit SECRET_KEY means nothing is written to var/.
    assert not (clean_env / "secret_key").exists()


def test_empty_variables_fall_back_to_defaults(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("API_PORT", "")
    s = Settings.from_env()
    assert s.database_url.startswith("sqlite:///")
    assert s.redis_url is None
    assert s.api_port == 8000


def test_var_dir_follows_wattpass_var_dir(tmp_path: Path) -> None:
    # VAR_DIR is fixed at import, so this needs a fresh interpreter.
    env = {**os.environ, "WATTPASS_VAR_DIR": str(tmp_path / "elsewhere")}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from backend.config import Settings as S, VAR_DIR as V;"
            "print(V); print(S.from_env(secret_key='x').database_url)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out == [str(tmp_path / "elsewhere"), f"sqlite:///{tmp_path / 'elsewhere'}/wattpass.db"]


def test_repr_never_shows_the_secret_or_passwords() -> None:
    s = Settings(
        database_url="postgresql://wattpass:db-pass-123@db:5432/wattpass",
        secret_key="top-secret-signing-key",
        redis_url="redis://:redis-pass-456@cache:6379/0",
    )
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert "top-secret-signing-key" not in text
        assert "db-pass-123" not in text
        assert "redis-pass-456" not in text
    assert "postgresql://wattpass:***@db:5432/wattpass" in repr(s)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://wp:secret@db:5432/wattpass", "postgresql://wp:***@db:5432/wattpass"),
        ("postgresql://wp:p@ss@db/wattpass", "postgresql://wp:***@db/wattpass"),
        ("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("sqlite:////srv/wattpass/var/wattpass.db", "sqlite:////srv/wattpass/var/wattpass.db"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_readme_documents_every_variable_the_settings_read() -> None:
    root = Path(config.__file__).resolve().parent.parent
    source = Path(config.__file__).read_text()
    read = set(re.findall(r'(?:environ\.get|_int)\(\s*"([A-Z_]+)"', source))
    assert set(VARIABLES) | {"WATTPASS_VAR_DIR"} <= read
    readme = (root / "README.md").read_text()
    assert {name for name in read if f"| `{name}` |" not in readme} == set()
