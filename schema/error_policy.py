"""Error policy, applied by the HTTP view to every result: expected errors keep their code; unexpected ones are logged once, with
the request id, and reach the client masked. No stack trace or SQL ever leaves."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

from schema.errors import ErrorCode, LandguardError

log = logging.getLogger("landguard.graphql")


def _with_code(error: GraphQLError, code: ErrorCode, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message if message is not None else error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, LandguardError) or (
        original is None and (error.extensions or {}).get("code")
    ):
        return error
    if original is None:
        code = (
            ErrorCode.GRAPHQL_PARSE_FAILED
            if error.message.startswith("Syntax Error")
            else ErrorCode.GRAPHQL_VALIDATION_FAILED
        )
        return _with_code(error, code)
    if error.path is None and isinstance(
        original, ValueError | TypeError | StrawberryInputCoercionError
    ):
        # Argument/variable coercion: the message comes from our scalars, Strawberry's
        # (e.g. a Date variable of 2024-13-01) or graphql-core.
        return _with_code(error, ErrorCode.BAD_USER_INPUT)
    log.error(
        "unexpected error in %s (request %s)",
        ".".join(str(p) for p in error.path or ()),
        request_id,
        exc_info=(type(original), original, original.__traceback__),
    )
    masked = GraphQLError(
        f"Internal server error 服务器内部错误 (request id {request_id})",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id},
    )
    return masked


def apply(errors: list[GraphQLError] | None, request_id: str) -> list[GraphQLError] | None:
    """The policy over a whole result: parse, validation and execution errors alike."""
    return None if errors is None else [classify(e, request_id) for e in errors]
