"""Bearer-token authentication (api/auth.py) and the permission table (schema/permissions.py),
through the real app on the demo database. Keys are real (Ed25519/RSA made here); the
JWKS is served by a real HTTP server on a local port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, event, text
from starlette.applications import Starlette

from api.app import create_app
from api.auth import key_id, load_or_create_dev_key
from api.cli import main as cli_main
from api.settings import AuthSettings, Settings
from geo.actor import Actor, Role
from schema.errors import LandguardError
from schema.permissions import COUNTY_SCOPED, PERMISSIONS, Action, is_allowed, require

ME = "{ me { sub role counties actions } }"
TILE = "/tiles/parcels/12/3331/1627.mvt"
OGC = "/ogc/collections/parcels/items?limit=1"


# ---------------------------------------------------------------- fixtures and helpers


@dataclass
class Running:
    app: Starlette
    client: httpx.AsyncClient
    statements: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def dev_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "dev.pem"


@contextlib.asynccontextmanager
async def start(url: str, **settings: Any) -> AsyncIterator[Running]:
    app = create_app(Settings(database_url=url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            running = Running(app, c)

            def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                running.statements.append(statement)

            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", before)
            try:
                yield running
            finally:
                event.remove(engine, "before_cursor_execute", before)


@pytest.fixture(scope="module")
async def dev(demo_db_url: str, dev_key_path: Path) -> AsyncIterator[Running]:
    """The app in development mode with a dev key of its own."""
    async with start(demo_db_url, auth=AuthSettings(dev_key_path=dev_key_path)) as running:
        yield running


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def now() -> int:
    return int(time.time())


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "landguard-dev",
        "aud": "landguard",
        "sub": "alice",
        "iat": now(),
        "exp": now() + 600,
        "landguard_role": "COUNTY_OFFICER",
        "counties": ["140521"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def dev_sign(path: Path, payload: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
    real = load_or_create_dev_key(path)
    return jwt.encode(
        payload, key or real, algorithm="EdDSA", headers={"kid": key_id(real.public_key())}
    )


def raw_token(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return head + "." + (b64(sign(head.encode())) if sign else "")


async def gql(c: httpx.AsyncClient, query: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await c.post("/graphql", json={"query": query}, headers=headers)


def assert_refused(response: httpx.Response, reason: str, error: str = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    ext = body["errors"][0]["extensions"]
    assert ext == {"code": "UNAUTHENTICATED", "reason": reason}, body
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="landguard"')
    if error:
        assert f'error="{error}", error_description="{reason}"' in challenge
    else:  # no credentials at all: a bare challenge (RFC 6750 §3)
        assert challenge == 'Bearer realm="landguard"'
    assert response.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- the refusal set


def _cases(path: Path) -> list[tuple[str, str, str, str]]:
    """(name, Authorization header value, reason, WWW-Authenticate error)."""
    public_pem = (
        load_or_create_dev_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    other = Ed25519PrivateKey.generate()
    t = lambda **o: "Bearer " + dev_sign(path, claims(**o))  # noqa: E731
    return [
        (
            "alg none",
            "Bearer " + raw_token({"alg": "none", "typ": "JWT"}, claims()),
            "bad_algorithm",
            "invalid_token",
        ),
        (
            "HS256 keyed with the public key (alg confusion)",
            "Bearer "
            + raw_token(
                {"alg": "HS256", "typ": "JWT"},
                claims(landguard_role="CITY_ADMIN"),
                lambda m: hmac.new(public_pem, m, hashlib.sha256).digest(),
            ),
            "bad_algorithm",
            "invalid_token",
        ),
        (
            "wrong key",
            "Bearer " + dev_sign(path, claims(), key=other),
            "bad_signature",
            "invalid_token",
        ),
        ("wrong issuer", t(iss="https://evil.example"), "wrong_issuer", "invalid_token"),
        ("wrong audience", t(aud="another-api"), "wrong_audience", "invalid_token"),
        ("expired", t(iat=now() - 7200, exp=now() - 3600), "expired", "invalid_token"),
        ("not yet valid (nbf)", t(nbf=now() + 3600), "not_yet_valid", "invalid_token"),
        ("issued in the future (iat)", t(iat=now() + 3600), "not_yet_valid", "invalid_token"),
        ("missing sub", t(sub=None), "missing_sub", "invalid_token"),
        ("empty sub", t(sub=""), "missing_sub", "invalid_token"),
        ("missing exp", t(exp=None), "missing_exp", "invalid_token"),
        ("unknown role", t(landguard_role="SUPERUSER"), "unknown_role", "invalid_token"),
        ("missing role", t(landguard_role=None), "missing_role", "invalid_token"),
        (
            "two roles",
            t(landguard_role=["ANALYST", "CITY_ADMIN"]),
            "ambiguous_role",
            "invalid_token",
        ),
        ("county officer without county", t(counties=None), "missing_county", "invalid_token"),
        (
            "county officer, unknown county",
            t(counties=["999999"]),
            "unknown_county",
            "invalid_token",
        ),
        ("county officer, dev zone code", t(counties="140571"), "unknown_county", "invalid_token"),
        ("Bearer without token", "Bearer", "missing_token", "invalid_request"),
        ("Bearer and spaces", "Bearer    ", "missing_token", "invalid_request"),
        ("Basic credentials", "Basic YWxpY2U6c2VjcmV0", "unsupported_scheme", "invalid_request"),
        ("garbage", "Bearer not-a-jwt", "malformed_token", "invalid_token"),
        ("garbage with dots", "Bearer a.b.c", "malformed_token", "invalid_token"),
        ("huge", "Bearer " + "a" * 9000, "token_too_large", "invalid_token"),
    ]


CASE_NAMES = [
    "alg none",
    "HS256 keyed with the public key (alg confusion)",
    "wrong key",
    "wrong issuer",
    "wrong audience",
    "expired",
    "not yet valid (nbf)",
    "issued in the future (iat)",
    "missing sub",
    "empty sub",
    "missing exp",
    "unknown role",
    "missing role",
    "two roles",
    "county officer without county",
    "county officer, unknown county",
    "county officer, dev zone code",
    "Bearer without token",
    "Bearer and spaces",
    "Basic credentials",
    "garbage",
    "garbage with dots",
    "huge",
]


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_bad_credentials_are_refused_everywhere_before_any_sql(
    dev: Running, dev_key_path: Path, name: str
) -> None:
    cases = {c[0]: c[1:] for c in _cases(dev_key_path)}
    assert list(cases) == CASE_NAMES
    header, reason, error = cases[name]
    dev.statements.clear()
    r = await dev.client.post("/graphql", json={"query": ME}, headers={"Authorization": header})
    assert_refused(r, reason, error)
    for path in (TILE, OGC, "/export/parcels.geojson"):
        assert_refused(await dev.client.get(path, headers={"Authorization": header}), reason, error)
    # a mutation-free GET /graphql too
    r = await dev.client.get("/graphql", params={"query": ME}, headers={"Authorization": header})
    assert_refused(r, reason, error)
    assert dev.statements == []


async def test_two_authorization_headers_are_refused(dev: Running, dev_key_path: Path) -> None:
    token = dev_sign(dev_key_path, claims())
    r = await dev.client.post(
        "/graphql",
        json={"query": ME},
        headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")],
    )
    assert_refused(r, "malformed_header", "invalid_request")


async def test_leeway_accepts_small_clock_skew(dev: Running, dev_key_path: Path) -> None:
    # exp 10 s ago and nbf 10 s ahead are inside the default 30 s leeway.
    token = dev_sign(dev_key_path, claims(exp=now() - 10, nbf=now() + 10))
    r = await gql(dev.client, ME, token)
    assert r.status_code == 200 and r.json()["data"]["me"]["sub"] == "alice"


# ---------------------------------------------------------------- valid tokens


async def test_me_returns_the_claims(dev: Running, dev_key_path: Path) -> None:
    token = dev_sign(dev_key_path, claims(sub="alice", counties=["140581", "140521"]))
    r = await gql(dev.client, ME, token)
    assert r.status_code == 200
    assert r.json()["data"] == {
        "me": {
            "sub": "alice",
            "role": "COUNTY_OFFICER",
            "counties": ["140521", "140581"],
            "actions": [
                "project.create",
                "project.update",
                "project.link_parcel",
                "parcel.create",
                "parcel.update",
                "approval_item.create",
                "approval_item.update",
                "sensitive.read",
                "investment.report",
                "promotion.record_trip",
            ],
        }
    }


async def test_city_roles_ignore_the_county_claim(dev: Running, dev_key_path: Path) -> None:
    token = dev_sign(dev_key_path, claims(landguard_role="LAND_BUREAU", counties=["140521"]))
    me = (await gql(dev.client, ME, token)).json()["data"]["me"]
    assert me["role"] == "LAND_BUREAU" and me["counties"] is None
    assert me["actions"] == [a.value for a in Action if a in PERMISSIONS[Role.LAND_BUREAU]]


async def test_anonymous_me_is_null_and_reads_work(dev: Running) -> None:
    r = await dev.client.post(
        "/graphql", json={"query": '{ me { sub } adminArea(code: "140521") { name } }'}
    )
    assert r.status_code == 200
    assert r.json()["data"] == {"me": None, "adminArea": {"name": "沁水县"}}


async def test_cli_token_is_accepted(
    dev: Running, dev_key_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("LANDGUARD_JWT_DEV_KEY", str(dev_key_path))
    monkeypatch.delenv("LANDGUARD_ENV", raising=False)
    argv = ["token", "--role", "COUNTY_OFFICER", "--county", "140521", "--sub", "bob"]
    assert cli_main([*argv, "--ttl", "2h"]) == 0
    token = capsys.readouterr().out.strip()
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 7200
    me = (await gql(dev.client, ME, token)).json()["data"]["me"]
    assert (me["sub"], me["role"], me["counties"]) == ("bob", "COUNTY_OFFICER", ["140521"])
    # refusals: a county officer needs a county; a production environment signs nothing
    assert cli_main(["token", "--role", "COUNTY_OFFICER"]) == 2
    monkeypatch.setenv("LANDGUARD_ENV", "production")
    assert cli_main(argv) == 2


async def test_tiles_with_a_token_are_private(
    dev: Running, dev_key_path: Path, demo_sync_engine: Engine
) -> None:
    anonymous = await dev.client.get("/tiles/parcels.json")
    assert anonymous.status_code == 200
    assert anonymous.headers["cache-control"] == "public, max-age=60"
    assert "Authorization" in anonymous.headers["vary"]
    token = dev_sign(dev_key_path, claims(landguard_role="ANALYST", counties=None))
    signed = await dev.client.get(
        "/tiles/parcels.json", headers={"Authorization": f"Bearer {token}"}
    )
    assert signed.status_code == 200
    assert signed.headers["cache-control"] == "private, max-age=60"
    assert "Authorization" in signed.headers["vary"] and "Origin" in signed.headers["vary"]
    assert signed.content == anonymous.content


# ---------------------------------------------------------------- sensitive reads


async def test_handler_phone_follows_the_role(
    dev: Running, dev_key_path: Path, demo_sync_engine: Engine
) -> None:
    with demo_sync_engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT DISTINCT ON (p.county_code) p.county_code, p.code
                FROM approval_item a JOIN project p ON p.id = a.project_id
                WHERE a.handler_phone IS NOT NULL AND p.county_code IN ('140521', '140522')
                ORDER BY p.county_code, p.code
                """
            )
        ).all()
        projects = {r.county_code: r.code for r in rows}
        assert set(projects) == {"140521", "140522"}
        phones = {
            r.code: r.handler_phone
            for r in conn.execute(
                text(
                    "SELECT a.code, a.handler_phone FROM approval_item a "
                    "JOIN project p ON p.id = a.project_id WHERE p.code = ANY(:codes)"
                ),
                {"codes": list(projects.values())},
            )
        }
    assert any(phones.values())

    async def seen(token: str | None, county: str) -> dict[str, str | None]:
        q = (
            f'{{ approvalItems(filter: {{projectCode: "{projects[county]}"}}, first: 100) '
            "{ edges { node { code handlerPhone } } } }"
        )
        body = (await gql(dev.client, q, token)).json()
        assert "errors" not in body, body
        return {
            e["node"]["code"]: e["node"]["handlerPhone"]
            for e in body["data"]["approvalItems"]["edges"]
        }

    def phones_of(county: str, visible: bool) -> dict[str, str | None]:
        with demo_sync_engine.connect() as conn:
            codes = conn.execute(
                text(
                    "SELECT a.code FROM approval_item a JOIN project p ON p.id = a.project_id "
                    "WHERE p.code = :c"
                ),
                {"c": projects[county]},
            ).scalars()
            return {c: (phones[c] if visible else None) for c in codes}

    admin = dev_sign(dev_key_path, claims(landguard_role="CITY_ADMIN", counties=None))
    analyst = dev_sign(dev_key_path, claims(landguard_role="ANALYST", counties=None))
    officer = dev_sign(dev_key_path, claims())  # COUNTY_OFFICER of 140521
    for county in ("140521", "140522"):
        assert await seen(None, county) == phones_of(county, False)
        assert await seen(analyst, county) == phones_of(county, False)
        assert await seen(admin, county) == phones_of(county, True)
        assert await seen(officer, county) == phones_of(county, county == "140521")


# ---------------------------------------------------------------- anonymous reads off, production


async def test_anonymous_reads_can_be_turned_off(demo_db_url: str, dev_key_path: Path) -> None:
    auth = AuthSettings(dev_key_path=dev_key_path, anonymous_reads=False)
    async with start(demo_db_url, auth=auth) as run:
        assert_refused(await gql(run.client, ME), "missing_token", "")
        r = await run.client.get(TILE)
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="landguard"'
        assert (await run.client.get("/healthz")).status_code == 200
        assert (await run.client.get("/readyz")).status_code == 200
        token = dev_sign(dev_key_path, claims(landguard_role="ANALYST", counties=None))
        me = (await gql(run.client, ME, token)).json()["data"]["me"]
        assert me == {"sub": "alice", "role": "ANALYST", "counties": None, "actions": []}


# ---------------------------------------------------------------- JWKS (the bureau's provider)


class Jwks:
    """A JWKS endpoint on a local port, counting fetches; `delay` slows each answer."""

    def __init__(self, document: dict[str, Any], delay: float = 0.0) -> None:
        self.document = document
        self.fetches = 0
        self.delay = delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                time.sleep(outer.delay)
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ISSUER = "https://idp.example/realms/bureau"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    doc = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**doc, "kid": kid, "use": "sig", "alg": "RS256"}


def bureau_claims(**overrides: Any) -> dict[str, Any]:
    return claims(
        iss=ISSUER,
        landguard_role=None,
        counties=None,
        realm_access={"roles": ["offline_access", "LAND_BUREAU"]},
        **overrides,
    )


@pytest.fixture(scope="module")
def bureau_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def jwks(bureau_key: rsa.RSAPrivateKey) -> Iterator[Jwks]:
    server = Jwks({"keys": [jwk_of(bureau_key, "bureau-1")]})
    yield server
    server.close()


def bureau_auth(url: str, dev_key_path: Path) -> AuthSettings:
    return AuthSettings(
        jwks_url=url,
        issuer=ISSUER,
        audience="landguard",
        algorithms=("RS256",),
        dev_key_path=dev_key_path,
        role_claim="realm_access.roles",
    )


async def test_jwks_tokens_in_production(
    demo_db_url: str, dev_key_path: Path, jwks: Jwks, bureau_key: rsa.RSAPrivateKey
) -> None:
    auth = bureau_auth(jwks.url, dev_key_path)
    async with start(demo_db_url, environment="production", auth=auth) as run:
        good = jwt.encode(
            bureau_claims(sub="bureau-7"), bureau_key, "RS256", headers={"kid": "bureau-1"}
        )
        r = await gql(run.client, ME, good)
        assert r.status_code == 200, r.text
        me = r.json()["data"]["me"]
        assert (me["sub"], me["role"], me["counties"]) == ("bureau-7", "LAND_BUREAU", None)

        forged = jwt.encode(bureau_claims(), rsa_key(), "RS256", headers={"kid": "bureau-1"})
        assert_refused(await gql(run.client, ME, forged), "bad_signature")
        stranger = jwt.encode(bureau_claims(), rsa_key(), "RS256", headers={"kid": "bureau-9"})
        assert_refused(await gql(run.client, ME, stranger), "unknown_key")
        rs384 = jwt.encode(bureau_claims(), bureau_key, "RS384", headers={"kid": "bureau-1"})
        assert_refused(await gql(run.client, ME, rs384), "bad_algorithm")
        pem = bureau_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        confused = raw_token(
            {"alg": "HS256", "kid": "bureau-1"},
            bureau_claims(),
            lambda m, pem=pem: hmac.new(pem, m, hashlib.sha256).digest(),
        )
        assert_refused(await gql(run.client, ME, confused), "bad_algorithm")
        # production never accepts the development key, whatever the token claims
        dev_token = dev_sign(dev_key_path, claims(iss=ISSUER, landguard_role="CITY_ADMIN"))
        assert_refused(await gql(run.client, ME, dev_token), "bad_algorithm")
        assert run.app.state.authenticator.dev_key is None
        # one fetch for all of it: the set is cached and an unknown kid waits for the cooldown
        assert jwks.fetches == 1


async def test_production_with_eddsa_still_ignores_the_dev_key(
    demo_db_url: str, dev_key_path: Path, jwks: Jwks
) -> None:
    auth = replace(bureau_auth(jwks.url, dev_key_path), algorithms=("RS256", "EdDSA"))
    async with start(demo_db_url, environment="production", auth=auth) as run:
        dev_token = dev_sign(dev_key_path, claims(iss=ISSUER, landguard_role="CITY_ADMIN"))
        assert_refused(await gql(run.client, ME, dev_token), "unknown_key")


async def test_production_without_jwks_refuses_every_token(
    demo_db_url: str, dev_key_path: Path
) -> None:
    async with start(
        demo_db_url, environment="production", auth=AuthSettings(dev_key_path=dev_key_path)
    ) as run:
        token = dev_sign(dev_key_path, claims())
        assert_refused(await gql(run.client, ME, token), "unknown_key")
        # anonymous reads stay (default on)
        assert (await gql(run.client, ME)).json()["data"] == {"me": None}


async def test_development_accepts_dev_key_and_jwks_side_by_side(
    demo_db_url: str, dev_key_path: Path, jwks: Jwks, bureau_key: rsa.RSAPrivateKey
) -> None:
    auth = bureau_auth(jwks.url, dev_key_path)
    async with start(demo_db_url, auth=auth) as run:
        bureau = jwt.encode(bureau_claims(), bureau_key, "RS256", headers={"kid": "bureau-1"})
        assert (await gql(run.client, ME, bureau)).json()["data"]["me"]["role"] == "LAND_BUREAU"
        dev_token = dev_sign(
            dev_key_path,
            claims(iss=ISSUER, landguard_role=None, realm_access={"roles": ["TASK_FORCE"]}),
        )
        assert (await gql(run.client, ME, dev_token)).json()["data"]["me"]["role"] == "TASK_FORCE"


async def test_jwks_fetch_does_not_block_the_event_loop(
    demo_db_url: str, dev_key_path: Path, bureau_key: rsa.RSAPrivateKey
) -> None:
    slow = Jwks({"keys": [jwk_of(bureau_key, "bureau-1")]}, delay=0.6)
    try:
        async with start(
            demo_db_url, environment="production", auth=bureau_auth(slow.url, dev_key_path)
        ) as run:
            token = jwt.encode(bureau_claims(), bureau_key, "RS256", headers={"kid": "bureau-1"})
            finished: list[str] = []

            async def authed() -> None:
                r = await gql(run.client, ME, token)
                assert r.status_code == 200, r.text
                finished.append("token")

            async def health() -> None:
                await asyncio.sleep(0.1)  # the JWKS fetch is under way by now
                assert (await run.client.get("/healthz")).status_code == 200
                finished.append("health")

            await asyncio.gather(authed(), health())
            assert finished == ["health", "token"]
            assert slow.fetches == 1
    finally:
        slow.close()


async def test_jwks_unreachable_is_503_not_500(
    demo_db_url: str, dev_key_path: Path, bureau_key: rsa.RSAPrivateKey
) -> None:
    gone = Jwks({"keys": []})
    gone.close()  # nothing listens on that port any more
    async with start(
        demo_db_url, environment="production", auth=bureau_auth(gone.url, dev_key_path)
    ) as run:
        token = jwt.encode(bureau_claims(), bureau_key, "RS256", headers={"kid": "bureau-1"})
        r = await gql(run.client, ME, token)
        assert r.status_code == 503
        assert r.json()["errors"][0]["extensions"] == {
            "code": "AUTH_UNAVAILABLE",
            "reason": "jwks_unavailable",
        }


def test_settings_refuse_symmetric_and_none_algorithms() -> None:
    for algs in ("HS256", "none", "RS256,HS512", ""):
        env = {"DATABASE_URL": "postgresql://x/y", "LANDGUARD_JWT_ALGORITHMS": algs}
        if algs == "":
            env["LANDGUARD_JWT_ALGORITHMS"] = " , "
        with pytest.raises(RuntimeError, match="LANDGUARD_JWT_ALGORITHMS"):
            Settings.from_env(env)
    env = {"DATABASE_URL": "postgresql://x/y", "LANDGUARD_JWT_ALGORITHMS": "RS256,EdDSA"}
    assert Settings.from_env(env).auth.algorithms == ("RS256", "EdDSA")
    env = {
        "DATABASE_URL": "postgresql://x/y",
        "LANDGUARD_ENV": "production",
        "LANDGUARD_JWT_JWKS_URL": "https://idp.example/certs",
    }
    with pytest.raises(RuntimeError, match="LANDGUARD_JWT_ISSUER"):
        Settings.from_env(env)


# ---------------------------------------------------------------- the permission matrix

# ✓ = any county; own = only the actor's own county; - = never. Columns: CITY_ADMIN,
# LAND_BUREAU, COUNTY_OFFICER, TASK_FORCE, ANALYST. Any change to schema/permissions.py's
# table must be made here too, on purpose.
EXPECTED = """
project.create          ✓  -  own  -  -
project.update          ✓  -  own  -  -
project.link_parcel     ✓  ✓  own  -  -
project.set_key         ✓  -  -    -  -
parcel.create           ✓  ✓  own  -  -
parcel.update           ✓  ✓  own  -  -
parcel.status           ✓  ✓  -    -  -
quota.allocate          ✓  ✓  -    -  -
quota.transfer          ✓  ✓  -    -  -
approval_item.create    ✓  -  own  ✓  -
approval_item.update    ✓  -  own  ✓  -
issue.create            ✓  -  -    ✓  -
issue.update            ✓  -  -    ✓  -
issue.escalate          ✓  -  -    ✓  -
import.parcels          ✓  ✓  -    -  -
import.protected_zones  ✓  ✓  -    -  -
import.admin_areas      ✓  -  -    -  -
import.projects         ✓  -  -    -  -
audit.read              ✓  -  -    -  -
sensitive.read          ✓  ✓  own  ✓  -
investment.report       ✓  -  own  -  -
promotion.record_trip   ✓  -  own  ✓  -
"""
ROLES = [Role.CITY_ADMIN, Role.LAND_BUREAU, Role.COUNTY_OFFICER, Role.TASK_FORCE, Role.ANALYST]
OWN, OTHER = "140521", "140522"


def expected_matrix() -> dict[tuple[str, Role, str], bool]:
    out: dict[tuple[str, Role, str], bool] = {}
    for line in EXPECTED.strip().splitlines():
        action, *cells = line.split()
        assert len(cells) == len(ROLES), line
        for role, cell in zip(ROLES, cells, strict=True):
            out[(action, role, OWN)] = cell in ("✓", "own")
            out[(action, role, OTHER)] = cell == "✓"
    return out


def actor_of(role: Role) -> Actor:
    counties = frozenset({OWN}) if role is Role.COUNTY_OFFICER else None
    return Actor(sub=f"t-{role.value}", role=role, counties=counties)


def test_permission_matrix_is_exactly_the_table() -> None:
    expected = expected_matrix()
    assert {a for a, _, _ in expected} == {a.value for a in Action}, "an action was added/removed"
    actual: dict[tuple[str, Role, str], bool] = {}
    for action in Action:
        for role in ROLES:
            for county in (OWN, OTHER):
                try:
                    require(actor_of(role), action, county)
                    actual[(action.value, role, county)] = True
                except LandguardError as exc:
                    assert exc.extensions["code"] == "FORBIDDEN"
                    assert exc.extensions == {
                        "code": "FORBIDDEN",
                        "role": role.value,
                        "action": action.value,
                        "county": county,
                    }
                    assert role.zh in exc.message and f"role {role.value}" in exc.message
                    actual[(action.value, role, county)] = False
                assert (
                    is_allowed(actor_of(role), action, county)
                    == actual[(action.value, role, county)]
                )
    assert actual == expected
    # 22 actions × 5 roles × 2 counties; allowed cells counted by hand from the table
    # (issue 6 added investment.report: admin, officer own; promotion.record_trip: admin,
    # officer own, task force)
    assert len(actual) == 220
    assert sum(actual.values()) == 44 + 18 + 10 + 14 + 0


def test_county_scoped_actions_need_a_county_for_county_officers() -> None:
    officer = actor_of(Role.COUNTY_OFFICER)
    for action in PERMISSIONS[Role.COUNTY_OFFICER]:
        assert action in COUNTY_SCOPED
        with pytest.raises(LandguardError) as info:
            require(officer, action, None)
        assert info.value.extensions["code"] == "FORBIDDEN"
    # city-level roles need none
    require(actor_of(Role.LAND_BUREAU), Action.PARCEL_STATUS, None)


def test_anonymous_is_unauthenticated_for_every_action() -> None:
    for action in Action:
        with pytest.raises(LandguardError) as info:
            require(None, action, OWN)
        assert info.value.extensions == {"code": "UNAUTHENTICATED", "action": action.value}


async def test_require_action_permission_on_a_field() -> None:
    """The Strawberry helper raises the same coded errors as `require`."""
    import strawberry
    from strawberry.permission import PermissionExtension

    from schema.context import Context
    from schema.error_policy import apply
    from schema.permissions import RequireAction, SensitiveRead

    @strawberry.type
    class Q:
        @strawberry.field(extensions=[PermissionExtension([RequireAction(Action.AUDIT_READ)])])
        def audit(self) -> str:
            return "rows"

        @strawberry.field(extensions=[PermissionExtension([SensitiveRead()], fail_silently=True)])
        def phone(self) -> str | None:
            return "0356-1234567"

    schema = strawberry.Schema(query=Q)

    async def run(actor: Actor | None) -> tuple[Any, list[dict[str, Any]]]:
        ctx = Context(sessions=None, config=None, actor=actor)  # type: ignore[arg-type]
        result = await schema.execute("{ audit phone }", context_value=ctx)
        errors = apply(result.errors, "t") or []
        return result.data, [e.formatted for e in errors]

    data, errors = await run(actor_of(Role.CITY_ADMIN))
    assert data == {"audit": "rows", "phone": "0356-1234567"} and errors == []
    data, errors = await run(actor_of(Role.ANALYST))
    assert data is None
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    data, errors = await run(None)
    assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]


def test_dev_key_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "k" / "dev.pem"
    first = load_or_create_dev_key(path)
    second = load_or_create_dev_key(path)
    assert key_id(first.public_key()) == key_id(second.public_key())
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["dev.pem"]


def test_ttl_parsing() -> None:
    from api.cli import parse_ttl

    assert parse_ttl("8h") == dt.timedelta(hours=8)
    assert parse_ttl("90s") == dt.timedelta(seconds=90)
    for bad in ("0h", "31d", "8 hours", "-1h"):
        with pytest.raises(Exception, match="ttl"):
            parse_ttl(bad)
