"""JWT keys are loaded and checked before `serve` and `token` start: one clear line, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from schedulesy.jwtkeys import JwtKeyError, load_signing_key, load_verification_key
from schedulesy.settings import Settings
from tests.fixtures.infra import pem_pair, replace_settings

HMAC_SECRET = "a-test-secret-that-is-long-enough-for-hs256!"


@pytest.fixture(scope="module")
def ec_keys() -> tuple[str, str]:
    return pem_pair(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def key_files(tmp_path: Path, jwt_keys: tuple[str, str], ec_keys: tuple[str, str]) -> dict[str, str]:
    files = {"rsa_private": jwt_keys[0], "rsa_public": jwt_keys[1], "ec_private": ec_keys[0], "ec_public": ec_keys[1],
             "not_pem": "hello\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.pem").write_text(text)
    return {name: str(tmp_path / f"{name}.pem") for name in files}


def _verification_error(settings: Settings, **changes: object) -> str:
    with pytest.raises(JwtKeyError) as caught:
        load_verification_key(replace_settings(settings, **changes))
    return str(caught.value)


def _signing_error(settings: Settings, **changes: object) -> str:
    with pytest.raises(JwtKeyError) as caught:
        load_signing_key(replace_settings(settings, **changes))
    return str(caught.value)


def test_good_keys_load_from_text_and_from_files(settings: Settings, key_files: dict[str, str]) -> None:
    assert load_verification_key(settings) is not None
    assert load_signing_key(replace_settings(settings, jwt_private_key=key_files["rsa_private"])) is not None
    es = replace_settings(settings, jwt_algorithm="ES256", jwt_public_key=key_files["ec_public"],
                          jwt_private_key=key_files["ec_private"])
    assert load_verification_key(es) is not None and load_signing_key(es) is not None
    hs = replace_settings(settings, jwt_algorithm="HS256", jwt_public_key=HMAC_SECRET, jwt_private_key="")
    assert load_signing_key(hs) == load_verification_key(hs) == HMAC_SECRET.encode()


def test_a_missing_or_unreadable_key_file_names_the_variable(settings: Settings, tmp_path: Path) -> None:
    message = _verification_error(settings, jwt_public_key=str(tmp_path / "absent.pem"))
    assert message.startswith("SCHEDULESY_JWT_PUBLIC_KEY: no such file") and "absent.pem" in message
    message = _verification_error(settings, jwt_public_key=str(tmp_path))
    assert message.startswith("SCHEDULESY_JWT_PUBLIC_KEY: cannot read")
    assert "is not set" in _verification_error(settings, jwt_public_key="")


def test_a_file_that_is_no_pem_key_is_refused(settings: Settings, key_files: dict[str, str]) -> None:
    assert "not a PEM key" in _verification_error(settings, jwt_public_key=key_files["not_pem"])
    broken = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    assert "not a PEM key" in _verification_error(settings, jwt_public_key=broken)


def test_a_key_of_the_wrong_type_for_the_algorithm_is_refused(settings: Settings, key_files: dict[str, str]) -> None:
    message = _verification_error(settings, jwt_algorithm="ES256")  # the session's RSA public key
    assert message == (
        "SCHEDULESY_JWT_PUBLIC_KEY is an RSA public key but SCHEDULESY_JWT_ALGORITHM=ES256 needs an EC key on the "
        "P-256 curve: give the matching key or set SCHEDULESY_JWT_ALGORITHM to the key's algorithm"
    )
    assert "generator" not in message
    message = _verification_error(settings, jwt_public_key=key_files["ec_public"])  # RS256 with an EC key
    assert "is an EC public key on the secp256r1 curve" in message and "needs an RSA key" in message
    p384 = pem_pair(ec.generate_private_key(ec.SECP384R1()))[1]
    assert "secp384r1" in _verification_error(settings, jwt_algorithm="ES256", jwt_public_key=p384)
    hs_with_pem = _verification_error(settings, jwt_algorithm="HS256", jwt_public_key=key_files["rsa_public"])
    assert "needs a shared secret" in hs_with_pem


def test_private_and_public_keys_in_each_others_variable_are_refused(
    settings: Settings, key_files: dict[str, str]
) -> None:
    assert "holds a private key" in _verification_error(settings, jwt_public_key=key_files["rsa_private"])
    assert "holds a public key" in _signing_error(settings, jwt_private_key=key_files["rsa_public"])
    assert "SCHEDULESY_JWT_PRIVATE_KEY is not set" in _signing_error(settings, jwt_private_key="")


def test_weak_keys_are_refused(settings: Settings) -> None:
    message = _verification_error(settings, jwt_algorithm="HS256", jwt_public_key="/etc/schedulesy/jwt.secret")
    assert "secret is 26 bytes" in message and "file does not exist" in message
    weak = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=1024))[1]
    assert "1024 bits" in _verification_error(settings, jwt_public_key=weak)


def _run_cli(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCHEDULESY_")}
    env.update({"SCHEDULESY_LOG_LEVEL": "warning", **variables})
    return subprocess.run([sys.executable, "-m", "schedulesy.cli", *args], env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(
    ("command", "variables", "expected"),
    [
        (["serve"], {"SCHEDULESY_JWT_PUBLIC_KEY": "{tmp}/absent.pem"},
         "schedulesy serve: SCHEDULESY_JWT_PUBLIC_KEY: no such file"),
        (["serve"], {"SCHEDULESY_JWT_PUBLIC_KEY": "{rsa_public}", "SCHEDULESY_JWT_ALGORITHM": "ES256"},
         "schedulesy serve: SCHEDULESY_JWT_PUBLIC_KEY is an RSA public key but SCHEDULESY_JWT_ALGORITHM=ES256"),
        (["serve"], {}, "schedulesy serve: SCHEDULESY_JWT_PUBLIC_KEY is not set"),
        (["token", "alice"], {"SCHEDULESY_JWT_PRIVATE_KEY": "{rsa_public}"},
         "schedulesy token: SCHEDULESY_JWT_PRIVATE_KEY holds a public key"),
        (["token", "alice"], {"SCHEDULESY_JWT_PUBLIC_KEY": "{rsa_public}"},
         "schedulesy token: SCHEDULESY_JWT_PRIVATE_KEY is not set"),
    ],
    ids=["serve-missing-file", "serve-wrong-type", "serve-unset", "token-public-as-private", "token-unset"],
)
def test_serve_and_token_stop_with_one_line_naming_the_variable(
    tmp_path: Path, key_files: dict[str, str], command: list[str], variables: dict[str, str], expected: str
) -> None:
    env = {name: value.format(tmp=tmp_path, **key_files) for name, value in variables.items()}
    result = _run_cli(*command, "--port", "1", **env) if command == ["serve"] else _run_cli(*command, **env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(expected), lines[0]


def _readme_key_commands() -> list[list[str]]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Making a JWT key pair", 1)[1].split("\n#", 1)[0]
    return [line.split() for line in section.splitlines() if line.startswith("    openssl ")]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
@pytest.mark.parametrize(("algorithm", "pair"), [("RS256", 0), ("ES256", 1)])
def test_the_readme_makes_key_pairs_that_serve_and_token_accept(
    settings: Settings, tmp_path: Path, algorithm: str, pair: int
) -> None:
    commands = _readme_key_commands()
    assert len(commands) == 4, "two commands per algorithm, RS256 first"
    for command in commands[2 * pair: 2 * pair + 2]:
        subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    made = replace_settings(settings, jwt_algorithm=algorithm, jwt_public_key=str(tmp_path / "jwt-public.pem"),
                            jwt_private_key=str(tmp_path / "jwt-private.pem"))
    assert load_verification_key(made) is not None and load_signing_key(made) is not None
