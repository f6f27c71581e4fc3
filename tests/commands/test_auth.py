"""Bearer JWT authentication: every failure is a 403 JSON (docs/compatibility.md §1.4, §2.1)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.auth import OPTIONAL_IDENTITY, OptionalIdentityDep, VerifiedTokens, authenticate, mint_token
from schedulesy.errors import EXCEPTION_HANDLERS, Forbidden
from schedulesy.jwtkeys import JwtKeyError
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings

PROTECTED = "/legacy/customization.json"
HMAC_SECRET = "a-test-secret-that-is-long-enough-for-hs256!"


def assert_forbidden_json(response) -> dict:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "forbidden" and body["detail"]
    return body


async def test_no_credentials_on_a_protected_endpoint_is_a_403_json(api: AsyncTestClient) -> None:
    body = assert_forbidden_json(await api.get(PROTECTED))
    assert body["reason"] == "not_authenticated"


async def test_a_valid_token_is_accepted(api: AsyncTestClient, make_token: TokenFactory) -> None:
    response = await api.get(PROTECTED, headers=auth_header(make_token("jdupont")))
    assert response.status_code == 200


async def test_an_expired_token_is_a_403(api: AsyncTestClient, make_token: TokenFactory) -> None:
    token = make_token("jdupont", exp=int(time.time()) - 3600)
    body = assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(token)))
    assert body["reason"] == "token_expired"


async def test_a_token_expired_within_the_leeway_is_still_accepted(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    token = make_token("jdupont", exp=int(time.time()) - 5)  # default leeway: 30 s of clock skew
    assert (await api.get(PROTECTED, headers=auth_header(token))).status_code == 200


async def test_a_token_without_exp_is_a_403(api: AsyncTestClient, make_token: TokenFactory) -> None:
    body = assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(make_token("jdupont", exp=None))))
    assert "exp" in body["detail"]


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": "9999999999"}, "Token claim 'exp' must be an integer number of seconds since 1970"),
        ({"exp": 1e308}, "Token claim 'exp' must be an integer number of seconds since 1970"),
        ({"exp": time.time() + 3600}, "Token claim 'exp' must be an integer number of seconds since 1970"),
        ({"exp": int(time.time()) + 2 * 366 * 86400}, "Token expires more than 366 days from now: refused"),
        ({"iat": "1700000000"}, "Token claim 'iat' must be an integer number of seconds since 1970"),
        ({"nbf": True}, "Token claim 'nbf' must be an integer number of seconds since 1970"),
        ({"iat": -1}, "Token claim 'iat' is before 1970"),
        ({"nbf": int(time.time()) + 3600}, "Token is not valid yet (its 'nbf' claim is in the future)"),
        ({"iat": int(time.time()) + 3600},
         "Token was issued in the future (its 'iat' claim): check the token server's clock"),
    ],
)
async def test_time_claims_must_be_integer_numeric_dates_within_bounds(
    api: AsyncTestClient, make_token: TokenFactory, claims: dict[str, object], detail: str
) -> None:
    body = assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(make_token("jdupont", **claims))))
    assert (body["detail"], body["reason"]) == (detail, "token_invalid")


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_403_never_echoes_the_jwt_library_s_own_error_text(api: AsyncTestClient) -> None:
    nested = _segment(b"[" * 50_000 + b"]" * 50_000)
    payload = _segment(b'{"user_id": "jdupont"}')
    header = _segment(b'{"alg": "RS256"}')
    other_algorithm = _segment(b'{"alg": "HS512"}')
    details = set()
    for token in (f"{nested}.{payload}.c2ln", f"{header}.{nested}.c2ln", f"{header}.!!!.c2ln", "a.b.c",
                  f"{other_algorithm}.{payload}.c2ln", f"{header}.{payload}.c2ln"):
        details.add(assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(token)))["detail"])
    assert details == {
        "Token is not a well-formed JWT (header.claims.signature, base64url-encoded JSON)",
        "Token is not signed with the algorithm this server accepts",
        "Token signature is invalid",
    }


async def test_a_token_signed_by_another_key_is_a_403(api: AsyncTestClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"user_id": "jdupont", "exp": int(time.time()) + 60}, stranger, algorithm="RS256")
    assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(token)))


async def test_algorithm_confusion_and_unsigned_tokens_are_refused(
    api: AsyncTestClient, jwt_keys: tuple[str, str]
) -> None:
    claims = {"user_id": "admin", "exp": int(time.time()) + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")
    header, payload, _ = jwt.encode(claims, HMAC_SECRET, algorithm="HS256").split(".")
    forged = ".".join([header, payload, "c2lnbmF0dXJl"])
    for token in (unsigned, forged):
        assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(token)))


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic amRlOnB3", "Token abcdef", "Bearer a b", "Bearer not.a.jwt", "bearer"],
)
async def test_a_malformed_authorization_header_is_a_403(api: AsyncTestClient, header: str) -> None:
    assert_forbidden_json(await api.get(PROTECTED, headers={"Authorization": header}))


async def test_a_refresh_token_is_not_an_access_token(api: AsyncTestClient, make_token: TokenFactory) -> None:
    token = make_token("jdupont", token_type="refresh")
    assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(token)))


async def test_a_token_without_a_usable_username_is_a_403(api: AsyncTestClient, make_token: TokenFactory) -> None:
    for username in ("", "  ", "a/b", "a\x00b", "x" * 151):
        assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(make_token(username))))
    numeric = make_token("ignored", user_id=12)
    assert_forbidden_json(await api.get(PROTECTED, headers=auth_header(numeric)))


async def test_a_superuser_claim_in_the_token_grants_nothing(
    api: AsyncTestClient, make_token: TokenFactory, pool
) -> None:
    await pool.execute("INSERT INTO public.w_edtperso (uid, uds_directory_id) VALUES ('someone', '1')")
    token = make_token("mallory", is_superuser=True, is_staff=True, superuser=False)
    response = await api.get(PROTECTED, headers=auth_header(token))
    assert response.status_code == 200 and response.json() == []


async def test_issuer_and_audience_are_checked_when_configured(
    settings: Settings, pool, jwt_keys: tuple[str, str]
) -> None:
    strict = replace_settings(settings, jwt_issuer="https://jwt.example", jwt_audience="schedulesy")
    now = int(time.time())

    def token(**claims: object) -> dict[str, str]:
        return auth_header(jwt.encode({"user_id": "jdupont", "exp": now + 60, **claims}, jwt_keys[0], algorithm="RS256"))

    async with AsyncTestClient(app=create_app(strict), base_url="https://testserver") as client:
        good = await client.get(PROTECTED, headers=token(iss="https://jwt.example", aud="schedulesy"))
        assert good.status_code == 200, good.text
        for claims in (
            {"iss": "https://evil.example", "aud": "schedulesy"},
            {"iss": "https://jwt.example", "aud": "another-app"},
            {"aud": "schedulesy"},
            {"iss": "https://jwt.example"},
        ):
            assert_forbidden_json(await client.get(PROTECTED, headers=token(**claims)))
        minted = mint_token(strict, "jdupont")
        assert (await client.get(PROTECTED, headers=auth_header(minted))).status_code == 200


async def test_hs256_uses_a_shared_secret_and_refuses_rs256_tokens(
    settings: Settings, pool, make_token: TokenFactory
) -> None:
    hmac = replace_settings(settings, jwt_algorithm="HS256", jwt_public_key=HMAC_SECRET, jwt_private_key="")
    good = jwt.encode({"user_id": "jdupont", "exp": int(time.time()) + 60}, HMAC_SECRET, algorithm="HS256")
    async with AsyncTestClient(app=create_app(hmac), base_url="https://testserver") as client:
        assert (await client.get(PROTECTED, headers=auth_header(good))).status_code == 200
        assert (await client.get(PROTECTED, headers=auth_header(mint_token(hmac, "jdupont")))).status_code == 200
        assert_forbidden_json(await client.get(PROTECTED, headers=auth_header(make_token("jdupont"))))


async def test_es256_tokens_verify_with_an_ec_public_key(settings: Settings) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    es = replace_settings(settings, jwt_algorithm="ES256", jwt_public_key=public, jwt_private_key=private)
    identity = authenticate(es, "Bearer " + mint_token(es, "jdupont", directory_id="42"))
    assert identity is not None
    assert (identity.username, identity.directory_id, identity.is_superuser) == ("jdupont", "42", False)


async def test_the_username_claim_is_configurable(settings: Settings, jwt_keys: tuple[str, str]) -> None:
    by_sub = replace_settings(settings, jwt_username_claim="sub")
    token = jwt.encode({"sub": "jdupont", "exp": int(time.time()) + 60}, jwt_keys[0], algorithm="RS256")
    identity = authenticate(by_sub, f"Bearer {token}")
    assert identity is not None and identity.username == "jdupont"


async def test_the_verification_key_is_read_once_even_from_a_file(
    settings: Settings, jwt_keys: tuple[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "public.pem"
    key_file.write_text(jwt_keys[1])
    from_file = replace_settings(settings, jwt_public_key=str(key_file))
    token = mint_token(from_file, "jdupont")
    assert authenticate(from_file, f"Bearer {token}") is not None
    key_file.unlink()  # a second read would fail
    assert authenticate(from_file, f"Bearer {token}") is not None


async def test_without_a_configured_public_key_every_token_is_refused(settings: Settings) -> None:
    unconfigured = replace_settings(settings, jwt_public_key="")
    with pytest.raises(Forbidden):
        authenticate(unconfigured, "Bearer " + mint_token(settings, "jdupont"))
    assert authenticate(unconfigured, None) is None


def test_minting_without_a_private_key_says_which_variable_to_set(settings: Settings) -> None:
    with pytest.raises(JwtKeyError, match="SCHEDULESY_JWT_PRIVATE_KEY"):
        mint_token(replace_settings(settings, jwt_private_key=""), "jdupont")


def test_a_minted_token_carries_what_the_front_end_decodes(settings: Settings) -> None:
    token = mint_token(settings, "jdupont", directory_id="42", lifetime_seconds=600)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["user_id"] == "jdupont" and claims["directory_id"] == "42"
    assert claims["token_type"] == "access" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 600


def test_superuser_status_comes_only_from_the_settings(settings: Settings) -> None:
    stranger = authenticate(settings, "Bearer " + mint_token(settings, "bob", superuser=True))
    admin = authenticate(settings, "Bearer " + mint_token(settings, "admin"))
    assert stranger is not None and not stranger.is_superuser
    assert admin is not None and admin.is_superuser


@get("/whoami", dependencies=OPTIONAL_IDENTITY)
async def whoami(request: Request, identity: OptionalIdentityDep) -> dict[str, str | None]:
    return {
        "username": identity.username if identity else None,
        "logged_as": (request.scope.get("state") or {}).get("username"),
    }


@pytest.fixture
async def open_endpoint(settings: Settings):
    """A one-handler app using the optional provider (the shape of /api/events)."""
    app = Litestar(
        route_handlers=[whoami],
        state=State({"verified_tokens": VerifiedTokens(settings)}),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_optional_identity_lets_anonymous_callers_in(open_endpoint: AsyncTestClient) -> None:
    response = await open_endpoint.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"username": None, "logged_as": None}


async def test_optional_identity_still_refuses_bad_credentials(
    open_endpoint: AsyncTestClient, make_token: TokenFactory
) -> None:
    expired = make_token("jdupont", exp=int(time.time()) - 3600)
    assert_forbidden_json(await open_endpoint.get("/whoami", headers=auth_header(expired)))


async def test_the_authenticated_login_is_left_for_the_request_log(
    open_endpoint: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await open_endpoint.get("/whoami", headers=auth_header(make_token("jdupont")))
    assert response.json() == {"username": "jdupont", "logged_as": "jdupont"}
