"""Columns and values as the bureau's files spell them: Chinese or English headings,
Chinese or English enum labels, dates and money the way people type them into Excel.

A `FieldError` carries the code and reason for one cell; the pipeline adds the location.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from geo import enums as E


class FieldError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalise_heading(text: str) -> str:
    """Lower-case, NFKC (full-width → half-width), no spaces, no '*' marks, no unit in
    brackets: '总投资（万元）' → '总投资', ' Land_Class ' → 'land_class'."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = re.sub(r"[\s*＊]", "", s)
    s = re.sub(r"\((万元|亿元|元|万|亿|m2|㎡|平方米|亩|公顷|ha)\)$", "", s)
    return s


def heading_unit(text: str) -> str | None:
    """The money unit a heading names, e.g. '总投资（亿元）' → '亿元'."""
    s = unicodedata.normalize("NFKC", str(text))
    m = re.search(r"\((万元|亿元|元)\)", s)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Field:
    """A target field and the headings that mean it (already normalised)."""

    name: str
    aliases: tuple[str, ...]
    required: bool = False
    pattern: str | None = None
    """A regex for headings that vary (e.g. '2024年计划投资')."""

    def matches(self, heading: str) -> bool:
        h = normalise_heading(heading)
        if h == self.name or h in self.aliases:
            return True
        return bool(self.pattern and re.fullmatch(self.pattern, h))


def f(name: str, *aliases: str, required: bool = False, pattern: str | None = None) -> Field:
    return Field(name, tuple(normalise_heading(a) for a in aliases), required, pattern)


PARCEL_FIELDS = (
    f("code", "地块编号", "地块代码", "宗地编号", "编号", "parcel_code", "dkbh", required=True),
    f("name", "地块名称", "名称", "宗地名称", "dkmc"),
    f(
        "county_code",
        "行政区代码",
        "行政区划代码",
        "县区代码",
        "县（市、区）",
        "所属县区",
        "县区",
        "行政区",
        "county",
        "xzqdm",
        required=True,
    ),
    f("land_class", "地类", "现状地类", "土地类型", "land_use", "dlmc", required=True),
    f("procedure_status", "用地状态", "手续状态", "状态", "status"),
    f("status_date", "状态日期", "日期", "status_on"),
    f("supply_method", "供地方式", "supply"),
    f("agreed_start_date", "约定开工时间", "约定开工日期", "agreed_start"),
    f("approval_doc", "批准文号", "批文", "approval"),
    f("project_code", "项目代码", "项目编号", "项目编码", "project"),
)
ZONE_FIELDS = (
    f("code", "编号", "代码", "图斑编号", "zone_code", required=True),
    f("kind", "类型", "类别", "控制线类型", "zone_kind", "type", required=True),
    f("name", "名称", "zone_name", required=True),
    f("county_code", "行政区代码", "行政区划代码", "县区代码", "县区", "所属县区", "county"),
    f("source", "来源", "数据来源"),
)
ADMIN_FIELDS = (
    f("code", "行政区代码", "行政区划代码", "代码", "xzqdm", "adcode", required=True),
    f("name", "名称", "行政区名称", "xzqmc", required=True),
    f("name_en", "英文名", "english_name"),
    f("kind", "类型", "级别", "admin_kind", "type", required=True),
    f("parent_code", "上级代码", "上级行政区代码", "parent", "parent_adcode"),
    f("source", "来源", "数据来源"),
)
PROJECT_FIELDS = (
    f("seq_no", "序号", "no"),
    f("code", "项目代码", "项目编号", "项目编码", "代码", "project_code", required=True),
    f("name", "项目名称", "名称", "project_name", required=True),
    f(
        "county_code",
        "县（市、区）",
        "县(市、区)",
        "县市区",
        "所属县区",
        "所属县（市、区）",
        "县区",
        "所在县区",
        "行政区",
        "county",
        required=True,
    ),
    f("content", "建设内容", "建设规模及内容", "主要建设内容", "建设内容及规模"),
    f(
        "total_investment",
        "总投资",
        "计划总投资",
        "项目总投资",
        "total",
        required=True,
    ),
    f(
        "annual_target",
        "年度计划投资",
        "年度投资计划",
        "本年计划投资",
        "annual_investment",
        pattern=r"(\d{4}年)?(年度)?计划(完成)?投资|(\d{4}年)?年度投资(计划|目标)?",
    ),
    f("planned_start", "计划开工时间", "开工时间", "计划开工日期", "计划开工"),
    f("planned_finish", "计划竣工时间", "竣工时间", "计划竣工日期", "计划竣工", "计划完工时间"),
    f("actual_start", "实际开工时间", "开工日期"),
    f("responsible_entity", "责任单位", "牵头单位", "建设单位", "项目单位"),
    f("lead_official", "包联领导", "分管领导", "市级包联领导", "包联市领导", "lead"),
    f("categories", "项目类别", "类别", "重点类别", "category"),
    f("is_key", "是否重点", "是否重点项目", "重点项目", "key"),
    f("key_list_year", "年度", "入库年度", "重点年度", "year"),
    f("stage", "阶段", "项目阶段", "推进阶段", "所处阶段"),
    f("signing_status", "签约状态", "签约情况", "signing"),
    f("plan_type", "项目类型", "计划类型", "建设性质", "项目性质", "类型"),
    f("industry", "所属行业", "行业", "产业类别", "行业类别"),
    f("progress_target", "年度建设目标", "年度目标", "形象进度", "进度目标", "年度形象进度"),
    f("stats_status", "入库状态", "纳统情况", "入库纳统"),
)
IGNORED = frozenset({"seq_no", "content"})
"""Recognised so they are not reported as unknown, but not stored (no column for them)."""


def map_columns(
    headings: Sequence[str], fields: Sequence[Field]
) -> tuple[dict[str, int], list[str]]:
    """field name → column index, plus the headings nothing matched. First match wins."""
    found: dict[str, int] = {}
    unknown: list[str] = []
    for i, heading in enumerate(headings):
        if heading is None or not str(heading).strip():
            continue
        for fld in fields:
            if fld.name not in found and fld.matches(str(heading)):
                found[fld.name] = i
                break
        else:
            unknown.append(str(heading))
    return found, unknown


def missing_required(found: Mapping[str, int], fields: Sequence[Field]) -> list[Field]:
    return [fld for fld in fields if fld.required and fld.name not in found]


# --------------------------------------------------------------------------- labels

_EXTRA_LABELS: dict[type[E.DomainEnum], dict[str, str]] = {
    E.LandClass: {"建设": "CONSTRUCTION", "建设用地": "CONSTRUCTION", "农用地": "FARMLAND"},
    E.ZoneKind: {
        "基本农田": "BASIC_FARMLAND",
        "永农": "BASIC_FARMLAND",
        "生态红线": "ECOLOGICAL_REDLINE",
        "红线": "ECOLOGICAL_REDLINE",
        "城镇开发边界线": "URBAN_BOUNDARY",
        "开发边界": "URBAN_BOUNDARY",
    },
    E.AdminKind: {"地级市": "CITY", "市辖区": "DISTRICT", "经开区": "DEV_ZONE"},
    E.SupplyMethod: {
        "招标": "TENDER",
        "拍卖": "AUCTION",
        "挂牌": "LISTING",
        "协议": "AGREEMENT",
    },
    E.PlanType: {
        "新开工": "PLANNED_START",
        "新建": "PLANNED_START",
        "计划新开工": "PLANNED_START",
        "前期项目": "PRE_STAGE",
        "预备": "PRE_STAGE",
        "续建项目": "CONTINUING",
    },
    E.ProjectStage: {
        "备案": "FILING",
        "审批": "FILING",
        "前期": "PROCEDURES",
        "手续": "PROCEDURES",
        "要素": "FACTORS",
        "开工": "CONSTRUCTION_START",
        "新开工": "CONSTRUCTION_START",
        "在建": "IN_PROGRESS",
        "实施": "IN_PROGRESS",
        "竣工": "COMPLETED",
        "投产": "COMPLETED",
    },
    E.KeyCategory: {
        "亿元以上": "ANNUAL_PLAN_BILLION",
        "年度投资亿元以上": "ANNUAL_PLAN_BILLION",
        "省重点": "PROVINCIAL_KEY",
        "省级重点": "PROVINCIAL_KEY",
        "省级重点项目": "PROVINCIAL_KEY",
        "市本级": "MUNICIPAL_GOV_INVESTED",
        "政府投资": "MUNICIPAL_GOV_INVESTED",
        "市本级政府投资项目": "MUNICIPAL_GOV_INVESTED",
        "市县重点": "CITY_COUNTY_KEY",
        "市重点": "CITY_COUNTY_KEY",
        "市县两级重点": "CITY_COUNTY_KEY",
    },
    E.SigningStatus: {"已签约": "SIGNED", "签约": "SIGNED", "落地": "LANDED"},
    E.StatsStatus: {"已入库": "INCLUDED", "入库": "INCLUDED", "未入库": "NOT_ELIGIBLE"},
}


def _label_key(text: str) -> str:
    return re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", text)).lower()


def enum_value(enum: type[E.DomainEnum], value: Any) -> str:
    """The enum value for a Chinese name, an English value/label or a known short form."""
    text = str(value).strip()
    key = _label_key(text)
    for m in enum:
        if key in (_label_key(m.value), _label_key(m.zh), _label_key(m.en)):
            return m.value
    extra = {_label_key(k): v for k, v in _EXTRA_LABELS.get(enum, {}).items()}
    if key in extra:
        return extra[key]
    choices = "、".join(f"{m.zh}/{m.value}" for m in enum)
    raise FieldError("BAD_VALUE", f"{text!r} is not one of {choices}")


def enum_values(enum: type[E.DomainEnum], value: Any) -> list[str]:
    """Several labels in one cell, separated by commas, 顿号, semicolons or slashes."""
    parts = [p for p in re.split(r"[,，、;；/|\n]+", str(value)) if p.strip()]
    out: list[str] = []
    for p in parts:
        v = enum_value(enum, p)
        if v not in out:
            out.append(v)
    return out


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # codes typed as numbers: 140525.0 → '140525'
    return str(value).strip()


_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "重点", "t"}
_FALSE = {"否", "n", "no", "false", "0", "×", "x", "非重点", "f", "-"}


def bool_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    key = _label_key(text_value(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise FieldError("BAD_VALUE", f"{value!r} is not yes/no (是/否)")


# --------------------------------------------------------------------------- numbers, dates

_UNIT_FACTOR = {
    "万元": Decimal(1),
    "亿元": Decimal(10000),
    "元": Decimal("0.0001"),
    None: Decimal(1),
}


def money_value(value: Any, unit: str | None) -> Decimal:
    """An amount in 万元 (the unit of the store), from a number in the heading's unit or a
    text with its own unit ('1.2亿元', '3,500万元')."""
    if isinstance(value, bool):
        raise FieldError("BAD_VALUE", f"{value!r} is not an amount")
    if isinstance(value, int | float | Decimal):
        amount = Decimal(str(value)) * _UNIT_FACTOR[unit]
    else:
        s = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(万元|亿元|元|万|亿)?", s)
        if not m:
            raise FieldError("BAD_VALUE", f"{value!r} is not an amount in 万元")
        own = {"万": "万元", "亿": "亿元"}.get(m.group(2) or "", m.group(2))
        try:
            amount = Decimal(m.group(1)) * _UNIT_FACTOR[own or unit]
        except InvalidOperation:
            raise FieldError("BAD_VALUE", f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise FieldError("BAD_VALUE", f"{value!r}: an amount must be a number ≥ 0")
    if amount >= Decimal("1e12"):
        raise FieldError("BAD_VALUE", f"{value!r}: more than 10^12 万元 is surely a unit mistake")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


_DATE = re.compile(
    r"(\d{4})\s*(?:[-./年]\s*(\d{1,2})\s*(?:[-./月]\s*(\d{1,2})\s*日?|月(?:份|底|末|初)?)?)?\s*(?:年)?"
)


def date_value(value: Any, *, end: bool = False, number_format: str | None = None) -> dt.date:
    """A date from an Excel date, or text such as 2024-03-01, 2024/3/1, 2024年3月1日,
    2024年3月, 2024.3, 2024年. A month or year without a day means its first day, or its
    last day when `end` (a planned finish of '2025年12月' is 2025-12-31).

    A number cell 2024.10 is stored by Excel as 2024.1: with a two-decimal number format it
    is read as October, otherwise as January — type dates as dates or text to be sure."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise FieldError("BAD_VALUE", f"{value!r} is not a date")
    if isinstance(value, float):
        text = f"{value:.2f}" if number_format and "0.00" in number_format else repr(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _DATE.fullmatch(text)
    if not m:
        raise FieldError(
            "BAD_VALUE", f"{value!r} is not a date (e.g. 2024-03-01, 2024年3月, 2024.3)"
        )
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (12 if end else 1)
    if m.group(3):
        day = int(m.group(3))
    else:
        day = calendar.monthrange(year, month)[1] if end and 1 <= month <= 12 else 1
    if not 2000 <= year <= 2100:
        raise FieldError("BAD_VALUE", f"{value!r}: year {year} is outside 2000–2100")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise FieldError("BAD_VALUE", f"{value!r} is not a real date") from None


def year_value(value: Any) -> int:
    try:
        year = int(float(text_value(value).rstrip("年")))
    except ValueError:
        raise FieldError("BAD_VALUE", f"{value!r} is not a year") from None
    if not 2000 <= year <= 2100:
        raise FieldError("BAD_VALUE", f"{value!r}: a year between 2000 and 2100")
    return year


def split_leader(value: str) -> tuple[str, str | None]:
    """'张三（副市长）' → ('张三', '副市长'); '张三 副市长' → ('张三', '副市长')."""
    s = unicodedata.normalize("NFKC", value).strip()
    m = re.fullmatch(r"(.+?)\s*\((.+)\)", s)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    parts = s.split()
    if len(parts) == 2:
        return parts[0], parts[1]
    return s, None


# --------------------------------------------------------------------------- counties


class Counties:
    """County-level units of the store, found by code, name, short name or English name."""

    def __init__(self, rows: Iterable[tuple[str, str, str | None, str]]) -> None:
        self.codes: set[str] = set()
        self.all_codes: set[str] = set()
        self.by_name: dict[str, str] = {}
        for code, name, name_en, kind in rows:
            self.all_codes.add(code)
            if kind not in ("DISTRICT", "COUNTY", "COUNTY_CITY"):
                continue
            self.codes.add(code)
            for key in (name, re.sub(r"(县|市|区)$", "", name), name_en or ""):
                if key:
                    self.by_name.setdefault(_label_key(key), code)

    def code(self, value: Any) -> str:
        text = text_value(value)
        if text in self.codes:
            return text
        code = self.by_name.get(_label_key(text))
        if code:
            return code
        hint = ""
        if text in self.all_codes or "开发区" in text or "经开区" in text:
            hint = " (not a county-level unit: give the county, e.g. 城区 or 泽州县)"
        raise FieldError("UNKNOWN_COUNTY", f"{text!r} is not a county of Jincheng{hint}")
