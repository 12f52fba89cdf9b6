"""One settings object, read from the environment once at startup."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from geo.actor import API_DB_ROLE


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def default_pool_size(workers: int, cores: int | None = None) -> int:
    """Connections per worker when LANDGUARD_DB_POOL_SIZE is unset: four per core of this
    machine over all workers, at least 2. The embedded cluster shares these cores.

    Why four and not the textbook two: a request holds its connection for the statement
    and its rows only, and when it lets go, the next request in line must first get its
    turn on the worker's event loop, which is busy completing other answers — with two
    per core the backends sat idle in those gaps and queued requests cost Python time.
    Measured on landGuarantee at 100,000 parcels (2 cores, 2 workers, 8 clients, 12
    alternating 5-second rounds each, bench/README.md): 2 per worker 79 % of its SQL's
    throughput, 4 per worker 82 %; paired 12-second runs 87–90 vs 95–98 req/s. Many more
    only take turns on the cores: 32 per worker reached 62–67 %. A server elsewhere: set
    the variable (≈ 4 × its cores ÷ all workers).

    A request holds one connection at a time (the whole suite passes with one connection
    per worker), so a small pool makes requests wait their turn, never deadlock."""
    cores = cores or os.cpu_count() or 2
    return max(2, (4 * cores) // max(1, workers))


DEV_CORS_ORIGINS = (
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:8080",
    "http://127.0.0.1:8080",
)


ROOT = Path(__file__).resolve().parent.parent
DEV_KEY_PATH = ROOT / ".dev-keys" / "jwt-ed25519.pem"
"""Gitignored; created on first use in development (api/auth.py)."""

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""What LANDGUARD_JWT_ALGORITHMS may name: never `none`, never a shared-secret HS*."""


@dataclass(frozen=True)
class AuthSettings:
    """Bearer-token verification (api/auth.py; README "Authentication")."""

    jwks_url: str | None = None
    issuer: str = "landguard-dev"
    audience: str = "landguard"
    algorithms: tuple[str, ...] = ("RS256",)
    """Accepted from the JWKS provider; the dev key is Ed25519 and accepts EdDSA only."""
    leeway_s: int = 30
    dev_key_path: Path = DEV_KEY_PATH
    role_claim: str = "landguard_role"
    county_claim: str = "counties"
    anonymous_reads: bool = True
    jwks_cache_s: int = 300

    @classmethod
    def from_env(cls, e: dict[str, str] | os._Environ[str], *, production: bool) -> AuthSettings:
        algorithms = _list(e.get("LANDGUARD_JWT_ALGORITHMS") or "RS256")
        bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not algorithms:
            raise RuntimeError(
                f"LANDGUARD_JWT_ALGORITHMS: {bad or 'empty'} not allowed; "
                f"use public-key algorithms only: {sorted(ASYMMETRIC_ALGORITHMS)}"
            )
        jwks_url = e.get("LANDGUARD_JWT_JWKS_URL") or None
        if production and jwks_url and not e.get("LANDGUARD_JWT_ISSUER"):
            raise RuntimeError("LANDGUARD_JWT_ISSUER must be set with LANDGUARD_JWT_JWKS_URL")
        return cls(
            jwks_url=jwks_url,
            issuer=(e.get("LANDGUARD_JWT_ISSUER") or "landguard-dev"),
            audience=(e.get("LANDGUARD_JWT_AUDIENCE") or "landguard"),
            algorithms=algorithms,
            leeway_s=int(e.get("LANDGUARD_JWT_LEEWAY_S") or "30"),
            dev_key_path=Path(e.get("LANDGUARD_JWT_DEV_KEY") or DEV_KEY_PATH),
            role_claim=(e.get("LANDGUARD_JWT_ROLE_CLAIM") or "landguard_role"),
            county_claim=(e.get("LANDGUARD_JWT_COUNTY_CLAIM") or "counties"),
            anonymous_reads=_bool(e.get("LANDGUARD_ANONYMOUS_READS") or "1"),
            jwks_cache_s=int(e.get("LANDGUARD_JWT_JWKS_CACHE_S") or "300"),
        )


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Every field has an environment variable (see README)."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    environment: str = "development"  # development | production
    cors_origins: tuple[str, ...] = DEV_CORS_ORIGINS
    max_page_size: int = 500
    default_page_size: int = 50
    db_pool_size: int | None = None  # connections per worker; None = default_pool_size()
    db_pool_timeout_s: float = 10.0  # wait for a free connection, then DATABASE_BUSY
    statement_timeout_ms: int = 15000
    geojson_precision: int = 8  # decimal digits of degrees: 1e-8° ≈ 1 mm
    workers: int = 1
    db_role: str = API_DB_ROLE  # SET ROLE on every connection; "" = keep the login role
    reference_date: dt.date | None = (
        None  # 'today' for overdue/as-of defaults; None = the real date
    )
    # Abuse limits (schema/limits.py, schema/cost.py, api/middleware.py)
    max_query_depth: int = 12
    max_aliases: int = 100
    max_tokens: int = 5000
    max_query_cost: int = 20000
    max_body_bytes: int = 1024 * 1024
    metrics_enabled: bool = True
    max_metric_operations: int = 100  # distinct operation names labelled; the rest: "other"
    auth: AuthSettings = field(default_factory=AuthSettings)

    @property
    def pool_size(self) -> int:
        """Database connections per worker: LANDGUARD_DB_POOL_SIZE, or default_pool_size."""
        return self.db_pool_size or default_pool_size(self.workers)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        url = e.get("DATABASE_URL", "")
        if not url:
            raise RuntimeError(
                "DATABASE_URL is not set (make run sets it for the embedded cluster)"
            )
        environment = e.get("LANDGUARD_ENV", "development")
        if environment not in ("development", "production"):
            raise RuntimeError("LANDGUARD_ENV must be 'development' or 'production'")
        origins = (
            _list(e["LANDGUARD_CORS_ORIGINS"])
            if "LANDGUARD_CORS_ORIGINS" in e
            else (() if environment == "production" else DEV_CORS_ORIGINS)
        )
        return cls(
            database_url=url,
            host=e.get("LANDGUARD_HOST", "127.0.0.1"),
            port=int(e.get("LANDGUARD_PORT", "8000")),
            log_level=e.get("LANDGUARD_LOG_LEVEL", "info").lower(),
            environment=environment,
            cors_origins=origins,
            max_page_size=int(e.get("LANDGUARD_MAX_PAGE_SIZE", "500")),
            default_page_size=int(e.get("LANDGUARD_DEFAULT_PAGE_SIZE", "50")),
            db_pool_size=int(e["LANDGUARD_DB_POOL_SIZE"])
            if e.get("LANDGUARD_DB_POOL_SIZE")
            else None,
            db_pool_timeout_s=float(e.get("LANDGUARD_DB_POOL_TIMEOUT_S", "10")),
            statement_timeout_ms=int(e.get("LANDGUARD_STATEMENT_TIMEOUT_MS", "15000")),
            geojson_precision=int(e.get("LANDGUARD_GEOJSON_PRECISION", "8")),
            workers=int(e.get("LANDGUARD_WORKERS", "1")),
            db_role=e.get("LANDGUARD_DB_ROLE", API_DB_ROLE).strip(),
            reference_date=dt.date.fromisoformat(e["LANDGUARD_REFERENCE_DATE"])
            if e.get("LANDGUARD_REFERENCE_DATE")
            else None,
            max_query_depth=int(e.get("LANDGUARD_MAX_QUERY_DEPTH", "12")),
            max_aliases=int(e.get("LANDGUARD_MAX_ALIASES", "100")),
            max_tokens=int(e.get("LANDGUARD_MAX_TOKENS", "5000")),
            max_query_cost=int(e.get("LANDGUARD_MAX_QUERY_COST", "20000")),
            max_body_bytes=int(e.get("LANDGUARD_MAX_BODY_BYTES", str(1024 * 1024))),
            metrics_enabled=_bool(e.get("LANDGUARD_METRICS_ENABLED", "1")),
            max_metric_operations=int(e.get("LANDGUARD_MAX_METRIC_OPERATIONS", "100")),
            auth=AuthSettings.from_env(e, production=environment == "production"),
        )
