"""One settings object, read from the environment once at startup."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from geo.actor import API_DB_ROLE


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


DEV_CORS_ORIGINS = (
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:8080",
    "http://127.0.0.1:8080",
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
    db_pool_size: int = (
        16  # a request opens up to ~3 connections at once (root field + loader batches)
    )
    statement_timeout_ms: int = 15000
    geojson_precision: int = 8  # decimal digits of degrees: 1e-8° ≈ 1 mm
    workers: int = 1
    db_role: str = API_DB_ROLE  # SET ROLE on every connection; "" = keep the login role
    reference_date: dt.date | None = (
        None  # 'today' for overdue/as-of defaults; None = the real date
    )

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
            db_pool_size=int(e.get("LANDGUARD_DB_POOL_SIZE", "16")),
            statement_timeout_ms=int(e.get("LANDGUARD_STATEMENT_TIMEOUT_MS", "15000")),
            geojson_precision=int(e.get("LANDGUARD_GEOJSON_PRECISION", "8")),
            workers=int(e.get("LANDGUARD_WORKERS", "1")),
            db_role=e.get("LANDGUARD_DB_ROLE", API_DB_ROLE).strip(),
            reference_date=dt.date.fromisoformat(e["LANDGUARD_REFERENCE_DATE"])
            if e.get("LANDGUARD_REFERENCE_DATE")
            else None,
        )
