"""Expected errors: each carries a stable machine-readable code and a human reason.

Anything else raised in a resolver is unexpected: it is logged once with the request id
and reaches the client only as INTERNAL_SERVER_ERROR (see schema/error_policy.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class ErrorCode(StrEnum):
    BAD_USER_INPUT = "BAD_USER_INPUT"
    PAGE_TOO_LARGE = "PAGE_TOO_LARGE"
    INVALID_CURSOR = "INVALID_CURSOR"
    NOT_FOUND = "NOT_FOUND"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Abuse limits and HTTP hygiene (schema/limits.py, api/middleware.py, api/app.py)
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    WRITE_CONFLICT = "WRITE_CONFLICT"  # deadlock / serialization failure: retry the write
    DATABASE_BUSY = "DATABASE_BUSY"  # every pooled connection stayed busy: retry later
    BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
    BAD_REQUEST = "BAD_REQUEST"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # Authentication (api/auth.py) and authorisation (schema/permissions.py)
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    AUTH_UNAVAILABLE = "AUTH_UNAVAILABLE"
    # Geometry input (geo.geometry_input and geo.spatial raise these codes)
    INVALID_GEOJSON = "INVALID_GEOJSON"
    INVALID_WKT = "INVALID_WKT"
    INVALID_GEOMETRY = "INVALID_GEOMETRY"
    UNSUPPORTED_SRID = "UNSUPPORTED_SRID"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    UNSUPPORTED_GEOMETRY_TYPE = "UNSUPPORTED_GEOMETRY_TYPE"
    EMPTY_GEOMETRY = "EMPTY_GEOMETRY"
    NOT_2D = "NOT_2D"
    TOO_MANY_VERTICES = "TOO_MANY_VERTICES"
    COORDINATE_OUT_OF_RANGE = "COORDINATE_OUT_OF_RANGE"
    INVALID_BBOX = "INVALID_BBOX"
    INVALID_DISTANCE = "INVALID_DISTANCE"
    # Row checks (bulk import reports these per row; geo.imports.report.IMPORT_CODES)
    UNKNOWN_COUNTY = "UNKNOWN_COUNTY"
    UNKNOWN_PROJECT = "UNKNOWN_PROJECT"
    UNKNOWN_ADMIN_AREA = "UNKNOWN_ADMIN_AREA"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    PARCEL_OVERLAP = "PARCEL_OVERLAP"
    MISSING_FIELD = "MISSING_FIELD"
    BAD_VALUE = "BAD_VALUE"
    # Writes (schema/mutation_base.py and the mutation modules; DUPLICATE_CODE above)
    STALE_VERSION = "STALE_VERSION"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    PARCEL_ALREADY_LINKED = "PARCEL_ALREADY_LINKED"
    # Parcels and quotas (schema/mutations_land.py; DUPLICATE_CODE, PARCEL_OVERLAP above)
    OUTSIDE_COUNTY = "OUTSIDE_COUNTY"
    INSUFFICIENT_QUOTA = "INSUFFICIENT_QUOTA"


class LandguardError(GraphQLError):
    """An error the client caused and can fix; its message is safe to show."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": code.value, **details})
        self.code = code


def bad_input(message: str, **details: Any) -> LandguardError:
    return LandguardError(ErrorCode.BAD_USER_INPUT, message, **details)
