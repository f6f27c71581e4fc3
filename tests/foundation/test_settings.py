import json

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
        ("SCHEDULESY_POLL_INTERVAL", "5 minutes"),
        ("SCHEDULESY_POLL_INTERVAL", "-1s"),
        ("SCHEDULESY_POLL_INTERVAL", "0s"),
        ("SCHEDULESY_MAX_EVENTS", "0"),
        ("SCHEDULESY_TIMEZONE", "Mars/Olympus_Mons"),
        ("SCHEDULESY_LOG_FORMAT", "xml"),
        ("SCHEDULESY_JWT_ALGORITHM", "none"),
        ("SCHEDULESY_DATABASE_URL", "not a url"),
        ("SCHEDULESY_ADE_CATEGORIES", " , "),
        ("SCHEDULESY_SMTP_URL", "mail.example.org:25"),
        ("SCHEDULESY_SMTP_URL", "http://mail.example.org"),
        ("SCHEDULESY_NOTIFY_DELAY", "0"),
        ("SCHEDULESY_CHANGE_HISTORY_DAYS", "0"),
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


DURATION_VARIABLES = (
    "SCHEDULESY_ADE_CONNECT_TIMEOUT",
    "SCHEDULESY_ADE_READ_TIMEOUT",
    "SCHEDULESY_POLL_INTERVAL",
    "SCHEDULESY_SYNC_FAR_INTERVAL",
    "SCHEDULESY_JWT_LEEWAY",
)


@pytest.mark.parametrize("variable", DURATION_VARIABLES)
@pytest.mark.parametrize(("text", "seconds"), [("300", 300), ("300s", 300), ("5m", 300), ("1h", 3600), ("1.5h", 5400)])
def test_every_duration_takes_seconds_minutes_or_hours(variable: str, text: str, seconds: float) -> None:
    settings = load_settings({variable: text})
    assert getattr(settings, variable.removeprefix("SCHEDULESY_").lower()) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-1s", "5x", "m"])
def test_a_duration_in_another_form_says_which_forms_are_accepted(text: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({"SCHEDULESY_POLL_INTERVAL": text})
    assert str(excinfo.value) == (
        f"SCHEDULESY_POLL_INTERVAL: expected a duration such as 300, 300s, 5m or 1h, got {text!r}"
    )


def test_a_duration_keeps_its_bounds() -> None:
    with pytest.raises(SettingsError, match="SCHEDULESY_POLL_INTERVAL: expected more than 0 seconds"):
        load_settings({"SCHEDULESY_POLL_INTERVAL": "0m"})
    assert load_settings({"SCHEDULESY_JWT_LEEWAY": "0s"}).jwt_leeway == 0


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("SCHEDULESY_LOG_FORMAT", "xml", "json, console"),
        ("SCHEDULESY_LOG_LEVEL", "loud", "debug, info, warning, error"),
        ("SCHEDULESY_JWT_ALGORITHM", "none", "RS256, ES256, HS256"),
    ],
)
def test_a_value_outside_a_list_names_the_allowed_values(variable: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({variable: value})
    assert str(excinfo.value) == f"{variable}: {value!r} is not one of {allowed}"


def test_an_unknown_variable_is_a_warning_naming_the_closest_setting(capsys) -> None:
    settings = load_settings({"SCHEDULESY_DATABSE_URL": "postgresql://elsewhere/db", "SCHEDULESY_FROBNICATE": "1"})
    assert settings.database_url == load_settings({}).database_url
    out, err = capsys.readouterr()
    assert out == ""
    typo, unrelated = err.splitlines()
    assert "warning" in typo and "SCHEDULESY_DATABSE_URL" in typo and "did_you_mean=SCHEDULESY_DATABASE_URL" in typo
    assert "SCHEDULESY_FROBNICATE" in unrelated and "did_you_mean" not in unrelated


def test_the_warning_is_a_json_line_when_logs_are_json(capsys) -> None:
    load_settings({"SCHEDULESY_LOG_FORMAT": "json", "SCHEDULESY_POLL_INTERVALS": "60"})
    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["level"] == "warning"
    assert record["variable"] == "SCHEDULESY_POLL_INTERVALS"
    assert record["did_you_mean"] == "SCHEDULESY_POLL_INTERVAL"


def test_an_unknown_variable_of_the_env_file_is_reported_too(tmp_path, capsys) -> None:
    env_file = tmp_path / "schedulesy.env"
    env_file.write_text("POSTGRES_PASSWORD=secret\nSCHEDULESY_REDIS_PREFX=app:\n")
    load_settings({"SCHEDULESY_ENV_FILE": str(env_file)})
    (line,) = capsys.readouterr().err.splitlines()
    assert "SCHEDULESY_REDIS_PREFX" in line and "SCHEDULESY_REDIS_PREFIX" in line


def test_the_variables_of_tools_sharing_the_prefix_are_not_warned_about(tmp_path, capsys) -> None:
    env_file = tmp_path / "schedulesy.env"
    env_file.write_text("")
    load_settings({
        "SCHEDULESY_ENV_FILE": str(env_file),
        "SCHEDULESY_TEST_DATABASE_URL": "postgresql://127.0.0.1/postgres",
        "SCHEDULESY_TEST_REDIS_URL": "redis://127.0.0.1/0",
        "SCHEDULESY_BENCH_DATABASE_URL": "postgresql://127.0.0.1/bench",
    })
    assert capsys.readouterr().err == ""


def test_a_cli_command_shows_the_warning_on_stderr(monkeypatch, capsys) -> None:
    from schedulesy import cli, settings as settings_module

    monkeypatch.setenv("SCHEDULESY_JWT_ALGORITHM", "HS256")
    monkeypatch.setenv("SCHEDULESY_JWT_PRIVATE_KEY", "a-secret-long-enough-for-hs256-signing")
    monkeypatch.setenv("SCHEDULESY_SUPERUSER", "alice")
    settings_module.get_settings.cache_clear()
    try:
        assert cli.main(["token", "alice"]) == 0
    finally:
        settings_module.get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert out.count(".") == 2, "the token alone on stdout"
    assert "SCHEDULESY_SUPERUSER" in err and "did_you_mean=SCHEDULESY_SUPERUSERS" in err


def test_the_example_env_file_loads_without_a_warning(capsys) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    settings = load_settings({"SCHEDULESY_ENV_FILE": str(example)})
    assert settings.poll_interval == 300
    assert capsys.readouterr().err == ""
