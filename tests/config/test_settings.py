"""Settings come from defaults, a TOML file and KLYUCH_* variables; bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.operations.options import OperationsOptions
from config import ConfigError, load_settings
from config.display import MASK, render_settings


def test_defaults_run_embedded() -> None:
    settings = load_settings()
    assert settings.storage.dsn is None
    assert settings.server.workers >= 1


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "klyuch.toml"
    toml.write_text('[server]\nport = 9000\nhost = "127.0.0.2"\n[limits]\nmax_batch_items = 7\n')
    monkeypatch.setenv("KLYUCH_SERVER__PORT", "9100")
    settings = load_settings(toml)
    assert settings.server.port == 9100
    assert settings.server.host == "127.0.0.2"
    assert settings.limits.max_batch_items == 7


def test_bad_environment_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLYUCH_SERVER__PORT", "abc")
    with pytest.raises(ConfigError, match=r"server\.port \[env KLYUCH_SERVER__PORT\]"):
        load_settings()


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "klyuch.toml"
    toml.write_text("[server]\nprot = 9000\n")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings(toml)


def test_broken_toml_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "klyuch.toml"
    toml.write_text("[server\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(toml)


def test_impossible_combination_is_refused() -> None:
    with pytest.raises(ConfigError, match="pool_min_size"):
        load_settings(storage={"pool_min_size": 5, "pool_max_size": 2})
    with pytest.raises(ConfigError, match="writer_reply_timeout_s"):
        load_settings(storage={"command_timeout_s": 60, "writer_reply_timeout_s": 30})


def test_secrets_are_masked_and_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLYUCH_STORAGE__DSN", "postgresql://u:hunter2@db/klyuch")
    text = render_settings(load_settings())
    assert "hunter2" not in text
    assert MASK in text


def test_a_refused_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLYUCH_SERVER__METRICS_TOKEN", "too-short-scrape-secret")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "KLYUCH_SERVER__METRICS_TOKEN" in str(raised.value)
    assert "too-short-scrape-secret" not in str(raised.value)


def test_a_refused_plain_value_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLYUCH_SERVER__PORT", "eighty")
    with pytest.raises(ConfigError, match=r"server\.port \[env KLYUCH_SERVER__PORT\].*\(got 'eighty'\)"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


def test_checking_only_the_first_signatures_needs_self_checking_units(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KLYUCH_OPERATIONS__VERIFY_RESULTS", "first")
    monkeypatch.setenv("KLYUCH_HSM__SELF_CHECK", "false")
    with pytest.raises(ConfigError, match=r"needs hsm\.self_check = true"):
        load_settings()
    monkeypatch.setenv("KLYUCH_HSM__SELF_CHECK", "true")
    settings = load_settings()
    assert (settings.operations.verify_results, settings.hsm.self_check) == ("first", True)


@pytest.mark.parametrize(("self_check", "checked"), [(None, "first"), ("true", "first"), ("false", "every")])
def test_unset_verify_results_follows_the_units_self_check(
    monkeypatch: pytest.MonkeyPatch, self_check: str | None, checked: str
) -> None:
    if self_check is not None:
        monkeypatch.setenv("KLYUCH_HSM__SELF_CHECK", self_check)
    assert OperationsOptions.from_settings(load_settings()).verify_results == checked
