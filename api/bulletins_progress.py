"""Progress bulletins as .xlsx downloads (issue 6), built from the same geo/progress.py
queries as the GraphQL answers (`horseRace`, `statsInclusionList`):

- `GET /bulletins/horse-race.xlsx?kind=BIMONTH&year=2024&index=5` — 赛马比拼情况表
- `GET /bulletins/stats-inclusion.xlsx` — 入库纳统项目清单 (as of today)

Routes carry their full paths (not a Mount) so that other bulletin modules can sit beside
them under /bulletins/. Bad parameters are a 400 with a JSON body naming the code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from geo import horse_race_rules as R
from geo import progress as q
from geo.reports.xlsx import XLSX_MEDIA_TYPE, Column, Sheet, workbook

MONEY = "#,##0.00"
SCORE = "0.00"
RATE = "0.00%"


def _attachment(name: str) -> str:
    """RFC 6266 / RFC 5987: an ASCII fallback and the Chinese name as filename*."""
    return f"attachment; filename=\"bulletin.xlsx\"; filename*=UTF-8''{quote(name)}"


def _xlsx(data: bytes, name: str) -> Response:
    return Response(
        data, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": _attachment(name)}
    )


def _bad(message: str) -> Response:
    return JSONResponse({"code": "BAD_USER_INPUT", "message": message}, status_code=400)


def _today(request: Request) -> dt.date:
    return request.app.state.settings.reference_date or dt.date.today()


def _period(request: Request) -> R.Period | str:
    params = request.query_params
    try:
        kind = R.PeriodKind(params.get("kind", "").upper())
        year = int(params.get("year", ""))
        index = int(params.get("index", "1"))
    except ValueError:
        return "kind (MONTH|BIMONTH|YEAR), year and index are required: e.g. kind=BIMONTH&year=2024&index=5"
    reason = R.check_period(kind, year, index)
    return reason or R.Period(kind, year, index)


HORSE_RACE_COLUMNS = (
    Column("名次"),
    Column("县（市、区）/开发区"),
    Column("总分（分）", SCORE),
    *(Column(f"{d.zh}（{d.weight:g}分）", SCORE) for d in R.DIMENSIONS),
    Column("年度投资目标（万元）", MONEY),
    Column("累计完成投资（万元）", MONEY),
    Column("投资完成率", RATE),
    Column("时序进度", RATE),
    Column("产业投资（万元）", MONEY),
    Column("应开工项目（个）"),
    Column("已开工项目（个）"),
    Column("具备入库条件（个）"),
    Column("已入库（个）"),
    Column("谋划储备总投资（万元）", MONEY),
    Column("并列"),
)


def horse_race_rows(rows: Any, period: R.Period) -> list[list[Any]]:
    out = []
    for r in rows:
        target = float(r.annual_target)
        out.append(
            [
                int(r.rank),
                r.name,
                float(r.total),
                round(float(r.s_scale), 2),
                round(float(r.s_structure), 2),
                round(float(r.s_start), 2),
                round(float(r.s_pipeline), 2),
                round(target, 2),
                round(float(r.ytd), 2),
                round(float(r.ytd) / target, 6) if target else None,
                round(R.time_elapsed_rate(period.last_month), 6),
                round(float(r.industrial_ytd), 2),
                int(r.start_due),
                int(r.started),
                int(r.stats_base),
                int(r.included),
                round(float(r.pipeline), 2),
                "是" if r.tied else "",
            ]
        )
    return out


async def horse_race_xlsx(request: Request) -> Response:
    period = _period(request)
    if isinstance(period, str):
        return _bad(period)
    async with request.app.state.sessions() as conn:
        rows = await q.horse_race(conn, period)
    caption = f"晋城市抓项目促投资“赛马比拼”情况表（{period.label}）"
    rules = [[d.zh, d.weight, d.formula] for d in R.DIMENSIONS] + [
        ["计分与排名", None, R.SCORE_RULE]
    ]
    data = workbook(
        [
            Sheet("赛马比拼", HORSE_RACE_COLUMNS, horse_race_rows(rows, period), caption=caption),
            Sheet("评分规则", (Column("指标"), Column("权重（分）"), Column("计算方法")), rules),
        ]
    )
    return _xlsx(data, f"赛马比拼情况表-{period.label}.xlsx")


STATS_COLUMNS = (
    Column("序号"),
    Column("县（市、区）/开发区代码"),
    Column("项目代码"),
    Column("项目名称"),
    Column("计划总投资（万元）", MONEY),
    Column("实际开工日期", "yyyy-mm-dd"),
    Column("本年完成投资（万元）", MONEY),
    Column("入库状态"),
    *(Column(name) for _, name in R.SUPPORTING_MATERIALS),
    Column("佐证资料齐全"),
)
STATS_LABEL = {"NOT_ELIGIBLE": "未达入库条件", "ELIGIBLE": "具备入库条件", "INCLUDED": "已入库纳统"}
MATERIAL_COLUMN = {
    "PROJECT_FILING": "has_filing",
    "CONSTRUCTION_PERMIT": "has_construction_permit",
    "START_PROOF": "has_start_proof",
    "INVESTMENT_REPORT": "has_investment_report",
}


def stats_rows(rows: Any) -> list[list[Any]]:
    out = []
    for i, r in enumerate(rows, start=1):
        present = [bool(getattr(r, MATERIAL_COLUMN[code])) for code, _ in R.SUPPORTING_MATERIALS]
        out.append(
            [
                i,
                r.unit_code,
                r.code,
                r.name,
                round(float(r.total_investment), 2),
                r.actual_start,
                round(float(r.ytd), 2),
                STATS_LABEL.get(r.stats_status, r.stats_status),
                *("有" if p else "缺" for p in present),
                "是" if all(present) else "否",
            ]
        )
    return out


async def stats_inclusion_xlsx(request: Request) -> Response:
    today = _today(request)
    async with request.app.state.sessions() as conn:
        rows = await q.stats_inclusion(conn, today=today)
    caption = (
        f"晋城市入库纳统项目清单（截至{today.year}年{today.month}月{today.day}日；"
        f"计划总投资 ≥ {R.STATS_MIN_TOTAL_INVESTMENT} 万元且已开工、尚未入库）"
    )
    data = workbook([Sheet("入库纳统清单", STATS_COLUMNS, stats_rows(rows), caption=caption)])
    return _xlsx(data, f"入库纳统项目清单-{today.isoformat()}.xlsx")


routes: list[BaseRoute] = [
    Route("/bulletins/horse-race.xlsx", horse_race_xlsx, name="bulletin_horse_race"),
    Route("/bulletins/stats-inclusion.xlsx", stats_inclusion_xlsx, name="bulletin_stats"),
]
