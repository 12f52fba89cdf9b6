"""Bearer-token authentication: a JWT in `Authorization` becomes an `Actor` (geo/actor.py).

What is checked, and why (README "Authentication"):
- The algorithm comes from our list, never from the token: the dev key verifies EdDSA
  only; tokens from the bureau's OIDC provider (JWKS) only the LANDGUARD_JWT_ALGORITHMS
  list (public-key algorithms; settings refuse `none` and HS*), and only when the header's
  algorithm fits the key's type — so an HS256 token "signed" with a public key, or an
  alg `none` token, is refused before any signature maths (`bad_algorithm`).
- `iss`, `aud`, `exp` and `sub` are required; `nbf` and `iat` are honoured when present
  (a token issued in the future is not yet valid); LANDGUARD_JWT_LEEWAY_S of clock skew.
- Claims → Actor: the role claim (LANDGUARD_JWT_ROLE_CLAIM, default `landguard_role`; a
  dotted path such as `realm_access.roles` reaches a nested claim; a string, or a list in
  which exactly one landguard role appears) and, for COUNTY_OFFICER only, the county claim
  (LANDGUARD_JWT_COUNTY_CLAIM, default `counties`; a code or a list of codes, each one
  of the six county-level units). City-level roles get `counties=None` (every county).
- Key sources: in development a local Ed25519 key pair (LANDGUARD_JWT_DEV_KEY, created on
  first use, 0600, gitignored) and, if LANDGUARD_JWT_JWKS_URL is set, the provider's keys
  too (chosen by `kid`); in production only the JWKS — the dev key is never loaded.
  JWKS documents are fetched in a worker thread (never on the event loop) and cached by
  PyJWKClient (LANDGUARD_JWT_JWKS_CACHE_S; an unknown `kid` refetches at most every 30 s).
- No `Authorization` header: anonymous (actor None). Reads are allowed anonymously unless
  LANDGUARD_ANONYMOUS_READS=0; writes always need a principal (schema/permissions.py).
  A header that is present but not a valid bearer token is always refused: 401, a
  GraphQL-shaped JSON body with code UNAUTHENTICATED and a `reason`, and
  `WWW-Authenticate: Bearer error="invalid_token"` (`invalid_request` for a malformed
  header) — on every route, never a 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import AuthSettings
from geo.actor import Actor, Role
from schema.errors import ErrorCode
from schema.permissions import COUNTY_CODES

log = logging.getLogger("landguard.auth")

DEV_ALGORITHM = "EdDSA"
MAX_TOKEN_BYTES = 8192
"""Far above any real JWT; refuses a huge header before any parsing."""
JWKS_REFETCH_COOLDOWN_S = 30.0


class AuthError(Exception):
    """A refused credential; `reason` is a stable machine-readable word for clients/tests."""

    def __init__(
        self, reason: str, message: str, *, status: int = 401, error: str = "invalid_token"
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.error = error

    def response_parts(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        code = ErrorCode.UNAUTHENTICATED if self.status == 401 else ErrorCode.AUTH_UNAVAILABLE
        body = orjson.dumps(
            {
                "errors": [
                    {
                        "message": self.message,
                        "extensions": {"code": code.value, "reason": self.reason},
                    }
                ]
            }
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if self.status == 401:
            challenge = 'Bearer realm="landguard"'
            if self.error:
                challenge += f', error="{self.error}", error_description="{self.reason}"'
            headers.append((b"www-authenticate", challenge.encode()))
        else:
            headers.append((b"retry-after", b"30"))
        return self.status, headers, body


# ---------------------------------------------------------------- dev key


def load_or_create_dev_key(path: Path) -> Ed25519PrivateKey:
    """The local signing key, made on first use. Written to a temporary file and linked
    into place, so two processes starting at once end up with the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-key-")
        try:
            os.write(fd, pem)
            os.close(fd)
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)
                log.info("created the development JWT key %s", path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key (delete it to get a new one)")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "landguard-dev-" + hashlib.sha256(raw).hexdigest()[:16]


def _set_path(claims: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = claims
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def _get_path(claims: dict[str, Any], path: str) -> Any:
    node: Any = claims
    for name in path.split("."):
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
    return node


def sign_dev_token(
    settings: AuthSettings,
    *,
    sub: str,
    role: Role,
    counties: list[str] | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=8),
    now: dt.datetime | None = None,
) -> str:
    """A token the development server accepts (`python -m api token`)."""
    key = load_or_create_dev_key(settings.dev_key_path)
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": sub,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    _set_path(claims, settings.role_claim, role.value)
    if counties:
        _set_path(claims, settings.county_claim, counties)
    return jwt.encode(
        claims, key, algorithm=DEV_ALGORITHM, headers={"kid": key_id(key.public_key())}
    )


# ---------------------------------------------------------------- verification

_ALG_KEY_TYPES: dict[str, type] = {
    "RS": RSAPublicKey,
    "PS": RSAPublicKey,
    "ES": EllipticCurvePublicKey,
    "Ed": Ed25519PublicKey,
}

_REASONS: list[tuple[type[Exception], str, str]] = [
    (jwt.ExpiredSignatureError, "expired", "令牌已过期 The token has expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "令牌尚未生效 The token is not yet valid"),
    (jwt.InvalidIssuerError, "wrong_issuer", "令牌签发者不符 The token's issuer is not accepted"),
    (
        jwt.InvalidAudienceError,
        "wrong_audience",
        "令牌受众不符 The token is not meant for this API (audience)",
    ),
    (jwt.InvalidSignatureError, "bad_signature", "令牌签名无效 The token's signature is invalid"),
    (
        jwt.InvalidAlgorithmError,
        "bad_algorithm",
        "令牌算法不被接受 The token's algorithm is not accepted",
    ),
    (jwt.InvalidIssuedAtError, "invalid_iat", "令牌签发时间无效 The token's iat is not a number"),
    (jwt.DecodeError, "malformed_token", "令牌格式错误 The token is not a well-formed JWT"),
]


@dataclass(frozen=True)
class _Key:
    key: Any
    algorithms: list[str]


class Authenticator:
    """Verifies bearer tokens; one per app, safe to share between requests."""

    def __init__(self, settings: AuthSettings, *, production: bool) -> None:
        self.settings = settings
        self.production = production
        self.dev_key: Ed25519PublicKey | None = None
        self.dev_kid: str | None = None
        if not production:
            public = load_or_create_dev_key(settings.dev_key_path).public_key()
            self.dev_key, self.dev_kid = public, key_id(public)
        self.jwks: jwt.PyJWKClient | None = None
        if settings.jwks_url:
            self.jwks = jwt.PyJWKClient(
                settings.jwks_url,
                cache_jwk_set=True,
                lifespan=settings.jwks_cache_s,
                timeout=10,
                cooldown_duration=JWKS_REFETCH_COOLDOWN_S,
            )
        elif production:
            log.warning("production without LANDGUARD_JWT_JWKS_URL: every bearer token is refused")

    async def _key_for(self, token: str, header: dict[str, Any]) -> _Key:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise AuthError("bad_algorithm", "令牌算法不被接受 Unsigned tokens are refused")
        kid = header.get("kid")
        use_dev = self.dev_key is not None and (self.jwks is None or kid == self.dev_kid)
        if use_dev:
            return _Key(self.dev_key, [DEV_ALGORITHM])
        if self.jwks is None:
            raise AuthError("unknown_key", "令牌签名密钥未知 No key is configured for this token")
        if alg not in self.settings.algorithms:
            raise AuthError(
                "bad_algorithm",
                f"令牌算法不被接受 Algorithm {alg} is not accepted; expected one of "
                f"{list(self.settings.algorithms)}",
            )
        try:
            # urllib under the hood: never on the event loop, even when the set is cached.
            jwk = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS fetch failed: %s", exc)
            raise AuthError(
                "jwks_unavailable",
                "身份提供方暂不可用 The identity provider's keys cannot be fetched; retry shortly",
                status=503,
                error="",
            ) from None
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.DecodeError):
            raise AuthError(
                "unknown_key", "令牌签名密钥未知 The token's key (kid) is not the provider's"
            ) from None
        expected = _ALG_KEY_TYPES.get(alg[:2])
        declared = getattr(jwk, "_jwk_data", {}).get("alg")  # the JWK's own `alg`, if any
        if expected is None or not isinstance(jwk.key, expected) or declared not in (None, alg):
            raise AuthError(
                "bad_algorithm",
                f"令牌算法与密钥不符 Algorithm {alg} does not fit the provider's key",
            )
        return _Key(jwk.key, [alg])

    async def verify(self, token: str, request_id: str = "-") -> Actor:
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError("token_too_large", "令牌过大 The token is too large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError(
                "malformed_token", "令牌格式错误 The token is not a well-formed JWT"
            ) from None
        key = await self._key_for(token, header)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=key.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_sub": True},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(
                f"missing_{exc.claim}", f"令牌缺少声明 The token lacks the `{exc.claim}` claim"
            ) from None
        except jwt.PyJWTError as exc:
            for kind, reason, message in _REASONS:
                if isinstance(exc, kind):
                    raise AuthError(reason, message) from None
            raise AuthError("invalid_token", "令牌无效 The token is invalid") from None
        return self.actor_from_claims(claims, request_id)

    def actor_from_claims(self, claims: dict[str, Any], request_id: str = "-") -> Actor:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise AuthError("missing_sub", "令牌缺少声明 The token lacks a non-empty `sub`")
        role = self._role(_get_path(claims, self.settings.role_claim))
        counties: frozenset[str] | None = None
        if role is Role.COUNTY_OFFICER:
            counties = self._counties(_get_path(claims, self.settings.county_claim))
        return Actor(sub=sub, role=role, counties=counties, request_id=request_id)

    def _role(self, raw: Any) -> Role:
        claim = self.settings.role_claim
        if raw is None:
            raise AuthError("missing_role", f"令牌缺少角色 The token lacks the `{claim}` claim")
        values = raw if isinstance(raw, list) else [raw]
        known = {r.value for r in Role}
        found = {v.upper() for v in values if isinstance(v, str) and v.upper() in known}
        if not found:
            raise AuthError(
                "unknown_role",
                f"角色未知 `{claim}` names no landguard role; expected one of {sorted(known)}",
            )
        if len(found) > 1:
            raise AuthError(
                "ambiguous_role", f"角色不唯一 `{claim}` names several roles: {sorted(found)}"
            )
        return Role(found.pop())

    def _counties(self, raw: Any) -> frozenset[str]:
        claim = self.settings.county_claim
        values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        if not values:
            raise AuthError(
                "missing_county",
                f"县级专员令牌缺少县（市、区）代码 A COUNTY_OFFICER token needs `{claim}`",
            )
        bad = [v for v in values if not isinstance(v, str) or v not in COUNTY_CODES]
        if bad:
            raise AuthError(
                "unknown_county",
                f"县（市、区）代码无效 `{claim}` {bad!r} is not one of {sorted(COUNTY_CODES)}",
            )
        return frozenset(values)


# ---------------------------------------------------------------- middleware

PROTECTED_PREFIXES = ("/graphql", "/tiles", "/ogc", "/export")
"""Where a principal is needed when anonymous reads are off (health, index and GraphiQL
assets stay open so probes and the IDE still load)."""


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of the Authorization header; None when there is no header at all."""
    values = [v for k, v in headers if k == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise AuthError(
            "malformed_header",
            "Authorization 头重复 Send one Authorization header",
            error="invalid_request",
        )
    raw = values[0].decode("latin-1").strip()
    scheme, _, token = raw.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError(
            "unsupported_scheme",
            "仅支持 Bearer 令牌 Only `Authorization: Bearer <token>` is accepted",
            error="invalid_request",
        )
    token = token.strip()
    if not token or " " in token:
        raise AuthError(
            "missing_token",
            "Bearer 后缺少令牌 `Authorization: Bearer` must be followed by one token",
            error="invalid_request",
        )
    return token


def _needs_principal(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if not path.startswith(PROTECTED_PREFIXES):
        return False
    # The GraphiQL page itself (a browser GET without a query) loads without a token.
    return not (
        path == "/graphql" and scope.get("method") == "GET" and not scope.get("query_string")
    )


class Authenticate:
    """Pure ASGI middleware: verify the bearer token once per request and put the Actor
    (or None) on `request.state.actor`; refuse bad credentials with 401 on every route.

    Caching: a response to a request that carried a token is made `Cache-Control:
    private` (a shared cache must not hand one principal's answer to another), and every
    cacheable response gets `Vary: Authorization`."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = str(state.get("request_id", "-"))
        try:
            token = bearer_token(scope["headers"])
            if token is None:
                if not self.authenticator.settings.anonymous_reads and _needs_principal(scope):
                    raise AuthError(
                        "missing_token",
                        "需要登录 This server needs a bearer token for every request",
                        error="",
                    )
                actor = None
            else:
                actor = await self.authenticator.verify(token, request_id)
        except AuthError as exc:
            log.info(
                "refused credentials: %s (%s %s)",
                exc.reason,
                scope.get("method"),
                scope.get("path"),
            )
            status, headers, body = exc.response_parts()
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        state["actor"] = actor
        carried_token = token is not None

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _cache_headers(list(message.get("headers", [])), carried_token)
            await send(message)

        await self.app(scope, receive, send_private)


def _cache_headers(
    headers: list[tuple[bytes, bytes]], carried_token: bool
) -> list[tuple[bytes, bytes]]:
    if not any(k.lower() == b"cache-control" for k, _ in headers):
        return headers
    out: list[tuple[bytes, bytes]] = []
    vary_done = False
    for k, v in headers:
        name = k.lower()
        if name == b"cache-control" and carried_token:
            v = v.replace(b"public", b"private")
        elif name == b"vary":
            if b"authorization" not in v.lower():
                v = v + b", Authorization"
            vary_done = True
        out.append((k, v))
    if not vary_done:
        out.append((b"vary", b"Authorization"))
    return out
