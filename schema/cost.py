"""The cost model: how many objects a query may make the server produce, estimated from the
validated document and the variables BEFORE any resolver (or SQL) runs.

A client can predict the number from this module alone:

1. Every selected field whose type is an object (or a list of objects) costs one unit per
   object it can return: ``multiplier × items``. ``items`` is 1 for a single object.
2. ``items`` of a list field is, in this order:
   - its own ``first`` argument when given (``CountyLandGuarantee.atRiskProjects``);
   - a size an ancestor set: a Relay connection's ``first`` (default: the default page
     size) sizes its ``edges``; ``landStock(listLimit)`` sizes every ``StockGroup.parcels``
     (see ``SIZED_BY_ANCESTOR``);
   - otherwise the nominal size of that list in ``NOMINAL_LIST_SIZE`` (lists whose length
     the data sets, e.g. 8 admin areas, 7 county-level units), else ``DEFAULT_LIST_SIZE``.
3. The fields selected inside a field are costed with ``multiplier × items`` of that field
   (a connection itself is one object; its ``edges`` are ``first`` objects, and each
   edge's ``node`` one more object per edge).
4. Leaf fields (scalars, enums, lists of them) are free — they come with their row —
   except those in ``LEAF_COST`` (work per value: a geometry serialisation, a COUNT query)
   and a leaf with a ``first`` argument, which costs ``first`` per occurrence
   (``featureCollection(first: 1000)`` builds 1000 features).
5. Introspection (``__schema``, ``__type``, ``__typename``) is free. Fragments are expanded
   where they are spread; ``@skip``/``@include`` are ignored and repeated selections are
   not merged, so the estimate is an upper bound.

Worked example (default page size 50)::

    { projects(first: 10) { totalCount edges { node { code parcels { code } } } } }

    projects           1 object                      =   1
      totalCount       LEAF_COST 1, × 1              =   1
      edges            list, first 10, × 1           =  10
        node           1 per edge, × 10              =  10
          parcels      nominal 10 per project, × 10  = 100
                                               total = 122
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast

DEFAULT_LIST_SIZE = 10
"""Items assumed for a list of objects with no bounding argument and no nominal size."""

NOMINAL_LIST_SIZE: dict[str, int] = {
    "Query.adminAreas": 8,  # the city, six county-level units, the development zone
    "Query.landGuarantee": 7,  # county-level units (six and the development zone)
    "Query.landStock": 7,
    "CityLandGuarantee.counties": 7,
    "Query.landQuotas": 20,  # holders × quota kinds of one year
    "LandQuota.entries": 20,
    "CountyLandGuarantee.atRiskProjects": 20,  # `first` omitted = all of them
    "PoolAllocationPlan.rows": 100,  # one per project with unmet demand
    "PoolAllocationPlan.excluded": 50,
    "CountyLandSummary.cells": 50,  # land classes × procedure statuses
    "Parcel.conflicts": 3,  # protected zones one parcel overlaps
    "ProjectLandStatus.conflicts": 3,
    "ProjectLandStatus.byStatus": 8,  # one per land-procedure status
    # a refused write reports one error (a few at most)
    "ParcelPayload.errors": 3,
    "LandQuotaPayload.errors": 3,
    "QuotaTransferPayload.errors": 3,
    # issue 6 progress (schema/progress.py)
    "Query.investmentProgress": 7,  # race units
    "Query.statsInclusionList": 100,  # eligible, not yet included: tens a month
    "HorseRace.rows": 7,
    "HorseRace.rules": 4,
    "HorseRaceRow.scores": 4,
    "PeriodProjectList.items": 100,  # `first` of fastHorses/snails, default 100
    "KeyProjectSummary.byCategory": 4,
    "KeyProjectSummary.byCounty": 7,
    "KeyProjectSummary.byStage": 6,
    "KeyProjectSummary.lackingFourFixed": 50,
    "ProjectLifecycle.steps": 6,
    "ProjectLifecycle.openIssues": 5,
    "StatsInclusionItem.materials": 4,
    "PromotionStatus.funnel": 7,
    "PromotionStatus.leaders": 10,
    "PromotionStatus.bureaus": 24,  # 8 units × 3 months
    # warnings, dispatch and the task-force lists (schema/dispatch.py)
    "Warning.figures": 6,  # the figures of one rule (geo/warning_rules.py)
    "ProjectIssue.escalations": 3,  # at most three levels to climb
    "DispatchAgenda.items": 50,  # open issues at one level
    "ApprovalTaskList.counties": 7,
    "ApprovalTaskList.projects": 200,  # projects with approval items in the filter
    "Query.landTaskList": 7,  # county-level units
    "CountyLandTaskList.entries": 50,
    "Query.monthlyBulletin": 7,
    "EscalationPayload.escalations": 100,
    "EscalationPayload.errors": 3,
    "IssuePayload.errors": 3,
}

SIZED_BY_ANCESTOR: dict[str, tuple[str, str]] = {
    # ancestor field: (its argument, the descendant list it sizes)
    "Query.landStock": ("listLimit", "StockGroup.parcels"),
    "Query.fastHorses": ("first", "PeriodProjectList.items"),
    "Query.snails": ("first", "PeriodProjectList.items"),
    "Query.approvalTaskList": ("first", "ApprovalTaskList.items"),
}

MAX_SELECTIONS = 50_000
"""A document whose fragments expand to more selections than this is refused outright:
walking it would itself be the attack (fragments spreading fragments twice, n levels)."""


class ExpansionTooLarge(Exception):
    """The expanded document has more than MAX_SELECTIONS selections."""


LEAF_COST: dict[str, int] = {
    "geometry": 1,  # one GeoJSON serialisation per object (a loader batch)
    "totalCount": 1,  # one COUNT(*) query per connection
    # "Type.field" keys apply to that field only (looked up before the bare name)
    "AuditEntry.before": 1,  # a row image (JSON, dozens of keys) per audit entry
    "AuditEntry.after": 1,
}


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Any,
        default_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size
        self.visited = 0

    def selections(
        self,
        parent: Any,
        selection_set: SelectionSetNode | None,
        multiplier: int,
        sized: dict[str, int],
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            self.visited += 1
            if self.visited > MAX_SELECTIONS:
                raise ExpansionTooLarge
            if isinstance(sel, FieldNode):
                total += self.field(parent, sel, multiplier, sized, seen)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selections(target, sel.selection_set, multiplier, sized, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(
                    target, fragment.selection_set, multiplier, sized, seen | {name}
                )
        return total

    def field(
        self,
        parent: Any,
        node: FieldNode,
        multiplier: int,
        sized: dict[str, int],
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        try:
            args: dict[str, Any] = get_argument_values(definition, node, self.variables)
        except GraphQLError:  # the executor reports it, before any resolver runs
            args = {}
        key = f"{parent.name}.{name}"
        first = args.get("first") if "first" in definition.args else None
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            if first is not None:
                return multiplier * max(int(first), 0)
            return multiplier * LEAF_COST.get(key, LEAF_COST.get(name, 0))
        if isinstance(_unwrap(definition.type), GraphQLList):
            if first is not None:
                items = int(first)
            elif key in sized:
                items = sized[key]
            else:
                items = NOMINAL_LIST_SIZE.get(key, DEFAULT_LIST_SIZE)
        else:
            items = 1
        items = max(items, 0)
        inner = dict(sized)
        if named.name.endswith("Connection") and "first" in definition.args:
            inner[f"{named.name}.edges"] = first if first is not None else self.default_page_size
        if key in SIZED_BY_ANCESTOR:
            arg, target = SIZED_BY_ANCESTOR[key]
            if args.get(arg) is not None:
                inner[target] = max(int(args[arg]), 0)
        count = multiplier * items
        return count + self.selections(named, node.selection_set, count, inner, seen)


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    *,
    default_page_size: int,
) -> int | None:
    """The estimated cost of the operation, or None when it cannot run at all (no such
    operation, variables that do not coerce): execution then fails before any resolver.
    Raises ExpansionTooLarge for a document that expands beyond MAX_SELECTIONS."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    estimator = _Estimator(schema, fragments, coerced, default_page_size)
    return estimator.selections(root, operation.selection_set, 1, {}, frozenset())
