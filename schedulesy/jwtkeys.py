"""The JWT keys: read from the settings, parsed and checked against the algorithm once.

``serve`` and ``token`` load their key before doing anything else, so that a missing file, a
file that is no PEM key, or a key that does not fit ``SCHEDULESY_JWT_ALGORITHM`` stops the
process with one line naming the variable, instead of a server answering 403 to every call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeAlias

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from schedulesy.errors import StartupError
from schedulesy.settings import Settings, env_name

KeyRole: TypeAlias = Literal["public", "private"]

_WANTED = {"RS256": "an RSA key", "ES256": "an EC key on the P-256 curve"}
MIN_HMAC_SECRET_BYTES = 32  # RFC 7518 §3.2: at least the hash's size
_KEYGEN_HINT = "see README, 'Making a JWT key pair'"


class JwtKeyError(StartupError):
    """A JWT key setting is unusable; the message names the variable and what to do."""


def _variable(role: KeyRole) -> str:
    return env_name(f"jwt_{role}_key")


def _read(settings: Settings, role: KeyRole) -> str:
    """The key text: the variable holds PEM text (or the HS256 secret) or a path to a file."""
    variable = _variable(role)
    value: str = getattr(settings, f"jwt_{role}_key")
    if value.lstrip().startswith(("-----", "ssh-")):
        return value
    path = Path(value)
    if settings.jwt_algorithm == "HS256" and not path.is_file():
        return value  # the secret itself
    try:
        return path.read_text()
    except FileNotFoundError:
        raise JwtKeyError(
            f"{variable}: no such file {value!r}; give the path of a PEM key file, or the PEM text itself"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise JwtKeyError(f"{variable}: cannot read {value!r} ({reason}); give a readable PEM key file") from None


def _parse_pem(text: str, variable: str) -> Any:
    data = text.strip().encode()
    try:
        if data.startswith(b"ssh-"):
            return serialization.load_ssh_public_key(data)
        if b"PRIVATE KEY-----" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except TypeError:  # the private key is encrypted
        raise JwtKeyError(f"{variable}: the private key is encrypted; give it without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise JwtKeyError(
            f"{variable}: not a PEM key (expected a '-----BEGIN PUBLIC KEY-----' or "
            f"'-----BEGIN PRIVATE KEY-----' block); {_KEYGEN_HINT}"
        ) from None


def _is_private(key: Any) -> bool:
    return callable(getattr(key, "public_key", None))  # only private keys derive their public key


def _describe(key: Any) -> str:
    role = "private" if _is_private(key) else "public"
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return f"an RSA {role} key"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return f"an EC {role} key on the {key.curve.name} curve"
    kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey").removesuffix("PrivateKey")
    return f"a {role} key of type {kind}"


def _fits(algorithm: str, key: Any) -> bool:
    if algorithm == "RS256":
        return isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey))
    if algorithm == "ES256":
        return isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and (
            key.curve.name == "secp256r1"
        )
    return False


def _asymmetric_key(text: str, algorithm: str, role: KeyRole) -> Any:
    variable = _variable(role)
    key = _parse_pem(text, variable)
    if not _fits(algorithm, key):
        raise JwtKeyError(
            f"{variable} is {_describe(key)} but {env_name('jwt_algorithm')}={algorithm} needs "
            f"{_WANTED[algorithm]}: give the matching key or set {env_name('jwt_algorithm')} to the key's algorithm"
        )
    if role == "public" and _is_private(key):
        raise JwtKeyError(
            f"{variable} holds a private key: give only the public key "
            "(openssl pkey -in private.pem -pubout -out public.pem)"
        )
    if role == "private" and not _is_private(key):
        raise JwtKeyError(f"{variable} holds a public key: signing needs the private key; {_KEYGEN_HINT}")
    return key


def _load(settings: Settings, role: KeyRole) -> Any:
    variable, algorithm = _variable(role), settings.jwt_algorithm
    text = _read(settings, role)
    if algorithm == "HS256":
        if text.lstrip().startswith(("-----", "ssh-")):
            raise JwtKeyError(f"{variable}: {algorithm} needs a shared secret, not a PEM key")
        key: Any = text.encode()
    else:
        key = _asymmetric_key(text, algorithm, role)
    if algorithm == "HS256" and len(key) < MIN_HMAC_SECRET_BYTES:
        raise JwtKeyError(
            f"{variable}: the HS256 secret is {len(key)} bytes, fewer than the {MIN_HMAC_SECRET_BYTES} "
            "RFC 7518 asks for: give a longer secret (if the value is a file path, that file does not exist)"
        )
    too_weak = jwt.get_algorithm_by_name(algorithm).check_key_length(key)
    if too_weak:
        raise JwtKeyError(f"{variable}: {too_weak.split('. See')[0]}; give a stronger key")
    return key


_LOADED: dict[tuple[str, KeyRole, str], Any] = {}


def _cached(settings: Settings, role: KeyRole, raw: str) -> Any:
    """Read (maybe from a file) and check a key once per (algorithm, role, setting value).

    A racing first use loads twice; both results are equal, so no lock is needed.
    """
    cache_key = (settings.jwt_algorithm, role, raw)
    if cache_key not in _LOADED:
        _LOADED[cache_key] = _load(settings, role)
    return _LOADED[cache_key]


def load_verification_key(settings: Settings) -> Any:
    """The key that verifies Bearer tokens; :class:`JwtKeyError` when it is missing or unusable."""
    if not settings.jwt_public_key:
        raise JwtKeyError(
            f"{_variable('public')} is not set: give the token server's public key (a PEM file path "
            f"or the PEM text; the shared secret for HS256); {_KEYGEN_HINT}"
        )
    return _cached(settings, "public", settings.jwt_public_key)


def load_signing_key(settings: Settings) -> Any:
    """The key that signs tokens (``schedulesy token``, the demo); :class:`JwtKeyError` when unusable."""
    if settings.jwt_private_key:
        return _cached(settings, "private", settings.jwt_private_key)
    if settings.jwt_algorithm == "HS256" and settings.jwt_public_key:
        return load_verification_key(settings)  # one shared secret signs and verifies
    raise JwtKeyError(
        f"{_variable('private')} is not set: give the private key (a PEM file path or the PEM text) "
        f"matching {_variable('public')}; {_KEYGEN_HINT}"
    )
