"""Settings: environment first, flags override, bad input gives a clear error."""

import subprocess
import sys

import pytest

from service.config import (
    ENV_VARS,
    OPTIONS,
    SERVICE_OPTIONS,
    ConfigError,
    Settings,
    build_parser,
    load_settings,
)


def test_defaults():
    s = load_settings([], environ={})
    assert (s.port, s.address, s.redis_url, s.queue_key) == (
        8080, "0.0.0.0", "redis://localhost:6379/0", "hello:queue")
    assert s.max_body_bytes == 64 * 1024


def test_hardening_settings_from_environment_and_flags():
    env = {"IDLE_TIMEOUT": "5", "BODY_TIMEOUT": "2.5", "DEDUPE_SECONDS": "900",
           "MAX_PENDING": "100"}
    s = load_settings([], environ=env)
    assert (s.idle_timeout, s.body_timeout, s.dedupe_seconds, s.max_pending) == (
        5.0, 2.5, 900, 100)
    assert load_settings(["--max-pending", "7"], environ=env).max_pending == 7


def test_environment_then_flags():
    env = {"PORT": "9000", "ADDRESS": "127.0.0.1", "POD_NAME": "hello-abc"}
    s = load_settings([], environ=env)
    assert (s.port, s.address, s.instance) == (9000, "127.0.0.1", "hello-abc")
    assert load_settings(["--port", "9100"], environ=env).port == 9100


def test_every_setting_has_an_env_var_the_service_declares():
    # ENV_VARS feeds the Kubernetes cross-checks; it must list exactly what is read.
    assert {option.env for option in OPTIONS} | {"POD_NAME"} == ENV_VARS
    assert set(Settings.__dataclass_fields__) == {option.name for option in OPTIONS} | {"instance"}


def test_the_settings_table_gives_each_setting_an_env_name_a_flag_and_help():
    envs = [option.env for option in OPTIONS]
    assert len(set(envs)) == len(envs) and all(env.isupper() for env in envs)
    for prog, names in [("python -m service", SERVICE_OPTIONS),
                        ("python -m service.worker", [o.name for o in OPTIONS
                                                      if o.name not in SERVICE_OPTIONS])]:
        help_text = " ".join(build_parser(prog, names).format_help().split())
        for option in (o for o in OPTIONS if o.name in names):
            assert option.option_string.startswith("--")
            assert f"{option.option_string} {option.name.upper()}" in help_text
            assert f"[{option.env}] (default: {getattr(Settings(), option.name)})" in help_text
            assert option.help.split()[0] in help_text


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.name in SERVICE_OPTIONS],
                         ids=lambda option: option.env)
def test_each_setting_reads_its_env_var_and_its_flag_wins(option):
    env_text, flag_text = _two_values(option)
    from_env = load_settings([], environ={option.env: env_text})
    from_flag = load_settings([option.option_string, flag_text], environ={option.env: env_text})
    assert getattr(from_env, option.name) == option.parse(env_text)
    assert getattr(from_flag, option.name) == option.parse(flag_text)
    assert getattr(load_settings([], environ={}), option.name) == getattr(Settings(), option.name)


def _two_values(option):
    """Two valid, different values for a setting, as text."""
    if option.name == "log_level":
        return "DEBUG", "ERROR"
    if option.name in ("address", "redis_url", "queue_key"):
        return "env-value", "flag-value"
    return "7", "9"


@pytest.mark.parametrize("env, fragment", [
    ({"PORT": "eighty"}, "PORT: port must be a whole number"),
    ({"PORT": "70000"}, "PORT: port must be between 0 and 65535"),
    ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES: expected a number above 0"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: log level must be one of"),
    ({"IDLE_TIMEOUT": "0"}, "IDLE_TIMEOUT: expected a number of seconds above 0"),
    ({"BODY_TIMEOUT": "soon"}, "BODY_TIMEOUT: expected a number of seconds"),
    ({"DEDUPE_SECONDS": "-1"}, "DEDUPE_SECONDS: expected a number above 0"),
    ({"MAX_PENDING": "many"}, "MAX_PENDING: expected a whole number"),
])
def test_bad_environment_names_the_variable(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings([], environ=env)


@pytest.mark.parametrize("args, fragment", [
    (["--port", "x"], "argument --port: port must be a whole number, got 'x'"),
    (["--port", "-1"], "argument --port: port must be between 0 and 65535"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_flags_exit_2_with_usage(args, fragment):
    proc = subprocess.run([sys.executable, "-m", "service", *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "usage: python -m service" in proc.stderr
    assert fragment in proc.stderr


def test_bad_environment_exits_2_from_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "service"], env={"PORT": "abc", "PATH": ""},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "environment variable PORT" in proc.stderr
