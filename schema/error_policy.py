"""Error policy, applied by the HTTP view to every result: expected errors keep their code; unexpected ones are logged once, with
the request id, and reach the client masked. No stack trace or SQL ever leaves."""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.exceptions import StrawberryInputCoercionError

from schema.errors import ErrorCode, LandguardError

log = logging.getLogger("landguard.graphql")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_TOKEN_LIMIT = "Syntax Error: Document contains more than"  # graphql-core's parser
QUERY_CANCELED = "57014"  # SQLSTATE of statement_timeout (psycopg's QueryCanceled)
RETRYABLE = {"40P01": "deadlock", "40001": "serialization failure"}
"""Two writers that lock the same rows in opposite orders (e.g. a parcel geometry write,
which takes the parcel advisory lock, and a project edit) can deadlock; PostgreSQL aborts
one of them. Nothing was written; the client may simply send the mutation again."""


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a driver error, whether SQLAlchemy wrapped it (`.orig`) or not."""
    for candidate in (error, getattr(error, "orig", None), error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def _with_code(error: GraphQLError, code: ErrorCode, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message if message is not None else error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )


def _where(error: GraphQLError) -> str:
    return ".".join(str(p) for p in error.path or ())


def _replaced(
    error: GraphQLError,
    message: str,
    code: ErrorCode,
    request_id: str,
    *,
    retryable: bool = False,
) -> GraphQLError:
    """A new error at `error`'s place with our message and code (nothing of the original's
    text), the request id to quote, and `retryable` when sending it again may succeed."""
    extensions: dict[str, object] = {"code": code.value}
    if retryable:
        extensions["retryable"] = True
    extensions["requestId"] = request_id
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, LandguardError) or (
        original is None and (error.extensions or {}).get("code")
    ):
        return error
    if original is None:
        if error.message.startswith(_TOKEN_LIMIT):
            code = ErrorCode.TOO_MANY_TOKENS
        elif error.message.startswith("Syntax Error"):
            code = ErrorCode.GRAPHQL_PARSE_FAILED
        else:
            code = ErrorCode.GRAPHQL_VALIDATION_FAILED
        return _with_code(error, code)
    state = _sqlstate(original)
    if state in RETRYABLE:
        log.warning(
            "%s in %s (request %s): rolled back, client may retry",
            RETRYABLE[state],
            _where(error),
            request_id,
        )
        return _replaced(
            error,
            f"并发写冲突，已回滚，请重试 The write collided with a concurrent one ({RETRYABLE[state]}) "
            f"and was rolled back; nothing changed — send it again (request id {request_id})",
            ErrorCode.WRITE_CONFLICT,
            request_id,
            retryable=True,
        )
    if isinstance(original, PoolTimeout):
        # The pool is sized to the cores (api/settings.default_pool_size): under a burst,
        # requests queue for a connection, and one that waited longer than the pool
        # timeout is refused here. Nothing ran; the client may retry.
        log.warning("no free database connection for %s (request %s)", _where(error), request_id)
        return _replaced(
            error,
            f"服务繁忙，请稍后重试 Every database connection stayed busy; nothing ran — retry "
            f"shortly (request id {request_id})",
            ErrorCode.DATABASE_BUSY,
            request_id,
            retryable=True,
        )
    if state == QUERY_CANCELED:
        # statement_timeout: expected under load, logged without a trace; nothing of the
        # SQL or the driver's message reaches the client.
        log.warning("statement timeout in %s (request %s)", _where(error), request_id)
        return _replaced(
            error,
            f"The query took too long and was cancelled 查询超时 (request id {request_id})",
            ErrorCode.QUERY_TIMEOUT,
            request_id,
        )
    if error.path is None and isinstance(
        original, ValueError | TypeError | StrawberryInputCoercionError
    ):
        # Argument/variable coercion: the message comes from our scalars, Strawberry's
        # (e.g. a Date variable of 2024-13-01) or graphql-core.
        return _with_code(error, ErrorCode.BAD_USER_INPUT)
    log.error(
        "unexpected error in %s (request %s)",
        _where(error),
        request_id,
        exc_info=(type(original), original, original.__traceback__),
    )
    return _replaced(
        error,
        f"Internal server error 服务器内部错误 (request id {request_id})",
        ErrorCode.INTERNAL_SERVER_ERROR,
        request_id,
    )


def _without_suggestions(error: GraphQLError) -> GraphQLError:
    """Production: no "Did you mean …?" hints, they leak the schema piece by piece."""
    message = _SUGGESTION.sub("", error.message)
    if message != error.message:
        error.message = message
    return error


def apply(
    errors: list[GraphQLError] | None, request_id: str, *, hide_suggestions: bool = False
) -> list[GraphQLError] | None:
    """The policy over a whole result: parse, validation and execution errors alike."""
    if errors is None:
        return None
    classified = [classify(e, request_id) for e in errors]
    return [_without_suggestions(e) for e in classified] if hide_suggestions else classified
