"""Results computed from a parsed GraphQL document, remembered per document object.

Strawberry's ParserCache hands out one DocumentNode per query text, so a repeated query
(a dashboard polling landGuarantee, a map client paging) arrives with the very same
object. Its validation verdict and its cost estimate (for the same variables) can then be
found by identity. A functools cache keyed by the document itself — Strawberry's
ValidationCache — hashes the whole frozen syntax tree on every request instead (~3 % of
a landGuarantee request's Python time, profiled).

Each entry keeps its document alive and is found only by that same object (`is`), so an
id reused after garbage collection can never return another document's result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

import orjson
from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

MISSING = object()


class DocumentMemo:
    """A bounded LRU map (document, extra key) → value."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, Hashable], tuple[DocumentNode, Any]] = OrderedDict()

    def get(self, document: DocumentNode, key: Hashable) -> Any:
        entry = self._entries.get((id(document), key))
        if entry is None or entry[0] is not document:
            return MISSING
        self._entries.move_to_end((id(document), key))
        return entry[1]

    def put(self, document: DocumentNode, key: Hashable, value: Any) -> None:
        self._entries[(id(document), key)] = (document, value)
        self._entries.move_to_end((id(document), key))
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


VALIDATIONS = DocumentMemo(maxsize=256)
"""(document, (schema, rules)) → validation errors."""
COSTS = DocumentMemo(maxsize=1024)
"""(document, (schema, operation name, variables as JSON, default page)) → estimated cost."""


def variables_key(variables: dict[str, Any] | None) -> bytes | None:
    """The request's variables as canonical JSON, or None when they cannot be keyed."""
    try:
        return orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


class ValidationMemo(SchemaExtension):
    """Strawberry's ValidationCache, keyed by document identity (see the module docstring).
    Pass it as a factory, like every extension: the memo itself is module-level."""

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document  # circular at import time

        ec = self.execution_context
        schema, document = ec.schema._schema, ec.graphql_document
        key = (schema, tuple(ec.validation_rules))
        errors = VALIDATIONS.get(document, key) if document is not None else MISSING
        if errors is MISSING:
            errors = validate_document(schema, document, key[1])
            if document is not None:
                VALIDATIONS.put(document, key, errors)
        ec.pre_execution_errors = errors
        yield
