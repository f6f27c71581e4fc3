import pytest

from schedulesy.settings import SettingsError, load_settings


def test_defaults_need_no_configuration() -> None:
    settings = load_settings({})
    assert settings.ade_categories == ("classroom", "instructor", "trainee", "category5")
    assert settings.poll_interval == 300
    assert settings.max_events == 7000
    assert settings.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCHEDULESY_POLL_INTERVAL", "soon"),
        ("SCHEDULESY_POLL_INTERVAL", "-5"),
        ("SCHEDULESY_MAX_EVENTS", "0"),
        ("SCHEDULESY_TIMEZONE", "Mars/Olympus_Mons"),
        ("SCHEDULESY_LOG_FORMAT", "xml"),
        ("SCHEDULESY_JWT_ALGORITHM", "none"),
        ("SCHEDULESY_DATABASE_URL", "not a url"),
        ("SCHEDULESY_ADE_CATEGORIES", " , "),
    ],
)
def test_an_invalid_value_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({variable: value})
    assert variable in str(excinfo.value)


def test_lists_are_comma_separated() -> None:
    settings = load_settings({"SCHEDULESY_SUPERUSERS": "alice, bob", "SCHEDULESY_ADE_CATEGORIES": "trainee"})
    assert settings.superusers == ("alice", "bob")
    assert settings.ade_categories == ("trainee",)


def test_an_env_file_is_read_and_the_environment_wins(tmp_path) -> None:
    env_file = tmp_path / "schedulesy.env"
    env_file.write_text("# comment\nSCHEDULESY_MAX_EVENTS=500\nSCHEDULESY_TIMEZONE='UTC'\n")
    settings = load_settings({"SCHEDULESY_ENV_FILE": str(env_file), "SCHEDULESY_TIMEZONE": "Europe/Paris"})
    assert settings.max_events == 500
    assert settings.timezone == "Europe/Paris"


def test_the_cli_stops_with_the_variable_name(monkeypatch, capsys) -> None:
    from schedulesy import cli, settings as settings_module

    settings_module.get_settings.cache_clear()
    monkeypatch.setenv("SCHEDULESY_POLL_INTERVAL", "often")
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["migrate"])
    settings_module.get_settings.cache_clear()
    assert "SCHEDULESY_POLL_INTERVAL" in str(excinfo.value)
