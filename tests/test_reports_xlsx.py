"""The shared .xlsx writer keeps headings, numbers as numbers and dates as dates."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from geo.reports.xlsx import Column, Sheet, workbook


def test_workbook_round_trips_chinese_headings_numbers_and_dates() -> None:
    data = workbook(
        [
            Sheet(
                "周调度",
                [
                    Column("项目名称"),
                    Column("年度计划投资（万元）", "#,##0.00"),
                    Column("计划开工", "yyyy-mm-dd"),
                ],
                [["晋城项目", 1234.5, dt.date(2024, 3, 1)], ["沁水项目", None, None]],
                caption="晋城市重点项目周调度清单",
            )
        ]
    )
    ws = load_workbook(io.BytesIO(data))["周调度"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == "晋城市重点项目周调度清单"
    assert rows[1] == ["项目名称", "年度计划投资（万元）", "计划开工"]
    assert rows[2] == ["晋城项目", 1234.5, dt.datetime(2024, 3, 1)]
    assert rows[3] == ["沁水项目", None, None]
    assert ws.freeze_panes == "A3"
