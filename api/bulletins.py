"""Bulletins as .xlsx downloads (GET /bulletins/…): what the offices circulate today.

- `/bulletins/weekly-dispatch.xlsx?asOf=&countyCode=` — 周调度清单: the 前期手续 items
  overdue or due this week (GraphQL `approvalTaskList(onlyUrgent: true)`) and the command
  office's agenda (`dispatchAgenda(level: COMMAND_OFFICE)`).
- `/bulletins/monthly.xlsx?asOf=` — 月度通报: per county progress, warning counts and
  overdue items (`monthlyBulletin`), plus the overdue approval items.
- `/bulletins/land-meeting.xlsx?year=&countyCode=` — 用地专题会清单 (`landTaskList`).

Each is built from the same geo/ query functions as the GraphQL answers (a test compares
the cells); Chinese headings with units, written by geo/reports/xlsx.py. The file name is
Chinese, sent as RFC 5987 `filename*` with an ASCII fallback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from geo import dispatch as D
from geo import task_lists as T
from geo.crs import M2_PER_MU
from geo.enums import ApprovalStatus, DispatchLevel, HandlingLevel
from geo.reports.xlsx import XLSX_MEDIA_TYPE, Column, Sheet, workbook

MONEY = "#,##0.00"
PCT = "0.0"
DATE = "yyyy-mm-dd"


class BulletinError(ValueError):
    pass


def _today(request: Request) -> dt.date:
    ref = request.app.state.settings.reference_date
    return ref or dt.date.today()


def _date(request: Request, name: str) -> dt.date:
    raw = request.query_params.get(name)
    today = _today(request)
    if raw is None:
        return today
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BulletinError(f"`{name}` must be a date YYYY-MM-DD") from None
    if day > today:
        raise BulletinError(f"`{name}` must not be after today ({today.isoformat()})")
    return day


def _county(request: Request) -> str | None:
    raw = request.query_params.get("countyCode")
    if raw is not None and not (raw.isdigit() and len(raw) == 6):
        raise BulletinError("`countyCode` must be a 6-digit GB/T 2260 code")
    return raw


def _file(content: bytes, name: str, ascii_name: str) -> Response:
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        content, media_type=XLSX_MEDIA_TYPE, headers={"content-disposition": disposition}
    )


def _bad(exc: BulletinError) -> Response:
    return JSONResponse({"code": "BAD_USER_INPUT", "message": str(exc)}, status_code=400)


def _zh_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


ITEM_COLUMNS = (
    Column("县（市、区）"),
    Column("项目编码"),
    Column("项目名称"),
    Column("事项编码"),
    Column("审批事项"),
    Column("办理层级"),
    Column("办理措施"),
    Column("办理时限", DATE),
    Column("责任领导"),
    Column("承办人"),
    Column("办理状态"),
    Column("逾期天数（天）"),
    Column("本周到期"),
)


def _item_row(r: Any) -> list[Any]:
    return [
        r.county_name,
        r.project_code,
        r.project_name,
        r.code,
        r.name,
        HandlingLevel(str(r.handling_level)).zh,
        r.measures,
        r.deadline,
        r.leader,
        r.handler,
        ApprovalStatus(str(r.status)).zh,
        int(r.days_overdue),
        "是" if r.due_this_week else "",
    ]


async def weekly_dispatch(request: Request) -> Response:
    try:
        day, county = _date(request, "asOf"), _county(request)
    except BulletinError as exc:
        return _bad(exc)
    async with request.app.state.sessions() as s:
        items, _ = await T.approval_list(
            s, as_of=day, county=county, only_open=True, only_urgent=True
        )
        agenda = await D.agenda_rows(s, level=DispatchLevel.COMMAND_OFFICE, on=day, county=county)
    monday, sunday = T.week_of(day)
    sheets = [
        Sheet(
            "前期手续",
            ITEM_COLUMNS,
            [_item_row(r) for r in items],
            caption=f"前期手续专班周调度清单（{_zh_date(monday)}—{_zh_date(sunday)}，逾期及本周到期）",
        ),
        Sheet(
            "问题台账",
            (
                Column("问题编码"),
                Column("项目编码"),
                Column("项目名称"),
                Column("问题"),
                Column("本层级办结时限", DATE),
                Column("是否逾期"),
                Column("逾期天数（天）"),
            ),
            [
                [
                    r.code,
                    r.project_code,
                    r.project_name,
                    r.title,
                    r.due_on,
                    "是" if r.due_on is not None and r.due_on < day else "",
                    max(0, (day - r.due_on).days) if r.due_on else 0,
                ]
                for r in agenda
            ],
            caption=f"指挥部办公室旬调度问题清单（截至{_zh_date(day)}）",
        ),
    ]
    return _file(
        workbook(sheets), f"周调度清单-{day.isoformat()}.xlsx", f"weekly-dispatch-{day}.xlsx"
    )


BULLETIN_COLUMNS = (
    Column("县（市、区）代码"),
    Column("县（市、区）"),
    Column("重点项目（个）"),
    Column("已开工（个）"),
    Column("年度计划投资（万元）", MONEY),
    Column("累计完成投资（万元）", MONEY),
    Column("投资完成率（%）", PCT),
    Column("时序进度（%）", PCT),
    Column("严重预警（条）"),
    Column("预警（条）"),
    Column("提示（条）"),
    Column("超期审批事项（项）"),
    Column("逾期问题（个）"),
)


async def monthly(request: Request) -> Response:
    try:
        day = _date(request, "asOf")
    except BulletinError as exc:
        return _bad(exc)
    async with request.app.state.sessions() as s:
        lines = await T.monthly_rows(s, as_of=day)
        items, _ = await T.approval_list(s, as_of=day, only_open=True, only_urgent=True)
    rows = [
        [
            r.county_code,
            r.county_name,
            r.key_projects,
            r.started,
            float(r.annual_target),
            float(r.ytd),
            T.pct(r.completion_pct),
            float(r.time_pct),
            r.severe,
            r.warning,
            r.info,
            r.overdue_items,
            r.overdue_issues,
        ]
        for r in lines
    ]
    sheets = [
        Sheet(
            "月度通报",
            BULLETIN_COLUMNS,
            rows,
            caption=f"晋城市重点项目推进情况通报（截至{_zh_date(day)}）",
        ),
        Sheet(
            "超期审批事项",
            ITEM_COLUMNS,
            [_item_row(r) for r in items if r.overdue],
            caption=f"超期审批事项清单（截至{_zh_date(day)}）",
        ),
    ]
    return _file(workbook(sheets), f"月度通报-{day.isoformat()}.xlsx", f"monthly-{day}.xlsx")


async def land_meeting(request: Request) -> Response:
    try:
        county = _county(request)
        raw = request.query_params.get("year")
        year = int(raw) if raw is not None else _today(request).year
        if not 2000 <= year <= 2100:
            raise BulletinError("`year` must be between 2000 and 2100")
    except ValueError as exc:
        return _bad(BulletinError(str(exc)))
    async with request.app.state.sessions() as s:
        groups = await T.land_list(s, year=year, county=county)
    rows = [
        [
            g.county_code,
            g.county_name,
            e.project_code,
            e.project_name,
            e.planned_start,
            round(e.demand_m2 / M2_PER_MU, 2),
            round(e.covered_m2 / M2_PER_MU, 2),
            round(e.unmet_m2 / M2_PER_MU, 2),
            "是" if e.conflict else "",
            e.outside_urban_parcels,
            e.open_land_issues,
            "、".join(e.problems),
        ]
        for g in groups
        for e in g.entries
    ]
    sheet = Sheet(
        "用地需求和问题清单",
        (
            Column("县（市、区）代码"),
            Column("县（市、区）"),
            Column("项目编码"),
            Column("项目名称"),
            Column("计划开工", DATE),
            Column("未批用地需求（亩）", MONEY),
            Column("指标可覆盖（亩）", MONEY),
            Column("指标缺口（亩）", MONEY),
            Column("三区三线冲突"),
            Column("城镇开发边界外地块（块）"),
            Column("未解决用地问题（个）"),
            Column("问题"),
        ),
        rows,
        caption=f"{year}年重点项目用地需求和问题清单（季度用地专题会）",
    )
    return _file(workbook([sheet]), f"用地专题会清单-{year}.xlsx", f"land-meeting-{year}.xlsx")


routes = [
    Route("/weekly-dispatch.xlsx", weekly_dispatch, methods=["GET"]),
    Route("/monthly.xlsx", monthly, methods=["GET"]),
    Route("/land-meeting.xlsx", land_meeting, methods=["GET"]),
]
