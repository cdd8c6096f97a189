"""The monthly summary as text (CLI), a printable HTML page and an Excel workbook.

The HTML page is a Jinja2 template (templates/monthly.html, autoescaped: every piece of text that comes
from the database is escaped). It is self-contained: the stylesheet (templates/monthly.css) inlined and
inline SVG charts, no scripts, no fonts or images to fetch, so it can be mailed, archived and printed as is.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, BinaryIO, Iterable

from bot.reports.monthly import HANDOVER_REASONS, NODE_KINDS, SATISFACTION_LEVELS, MonthlySummary
from bot.templating import environment

CONTENT_COLOURS = {
    "政策兑现": "#c0392b",
    "人才服务": "#2471a3",
    "科技金融": "#b9770e",
    "科技政务": "#148f77",
    "协同赋能": "#7d3c98",
}
DEFAULT_COLOUR = "#566573"
NODE_COLOUR = "#1f4e79"


# ---- number formatting -----------------------------------------------------------------------------


def fmt_int(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def fmt_pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def fmt_hours(hours: float | None) -> str:
    return "—" if hours is None else f"{hours:.1f} 小时"


def fmt_score(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f} 分"


def fmt_yuan(amount: Decimal | None) -> str:
    return "—" if amount is None else f"¥{amount:,.2f}"


def fmt_wan(amount: Decimal) -> str:
    """Large sums the way the window reports them: 万元 / 亿元."""
    if amount >= Decimal(100_000_000):
        return f"{amount / Decimal(100_000_000):,.2f} 亿元"
    if amount >= Decimal(10_000):
        return f"{amount / Decimal(10_000):,.2f} 万元"
    return f"{amount:,.2f} 元"


def _period_text(s: MonthlySummary) -> str:
    end = s.period_end.date() - timedelta(days=1)
    return (
        f"{s.period_start.year}年{s.period_start.month}月{s.period_start.day}日至{end.month}月{end.day}日（北京时间）"
    )


# ---- plain text (CLI) ------------------------------------------------------------------------------


def to_text(s: MonthlySummary) -> str:
    sat, kb = s.satisfaction, s.knowledge
    lines = [
        f"秦创原总窗口 {s.label} 月总结",
        f"统计期间：{_period_text(s)}",
        "",
        f"受理需求 {fmt_int(s.accepted)} 件，办结 {fmt_int(s.closed)} 件，办结率 {fmt_pct(s.completion_rate)}；"
        f"无法办理 {fmt_int(s.cannot_handle)} 件，仍在办理 {fmt_int(s.open)} 件。",
        f"本月办结 {fmt_int(s.resolved)} 件（含往月受理），按时办结 {fmt_int(s.on_time)} 件，"
        f"按时办结率 {fmt_pct(s.on_time_rate)}；{s.overdue_label} {fmt_int(s.overdue_open)} 件。",
        f"平均首次响应 {fmt_hours(s.avg_first_response_hours)}（工作时间），"
        f"平均办结用时 {fmt_hours(s.avg_resolution_hours)}（工作时间）。",
        f"满意度：评价 {fmt_int(sat.count)} 条（其中人工服务评价 {fmt_int(sat.service_count)} 条），"
        f"平均 {fmt_score(sat.average)}，满意率 {fmt_pct(sat.satisfied_share)}；"
        f"需回访 {fmt_int(sat.followups)} 件。",
        f"入企服务 {fmt_int(s.visits)} 次，入企发现需求 {fmt_int(s.visit_tickets)} 件；"
        f"兑现金额 {fmt_yuan(s.redeemed_amount)}。",
        f"转人工 {fmt_int(s.handovers.total)} 次；知识库提问 {fmt_int(kb.questions)} 个，"
        f"解答 {fmt_int(kb.answered)} 个，解答率 {fmt_pct(kb.answer_rate)}，"
        f"有用反馈占比 {fmt_pct(kb.helpful_share)}（{fmt_int(kb.helpful)}/{fmt_int(kb.feedback)}）。",
        f"年度累计：服务 {fmt_int(s.ytd_accepted)} 件，入企服务 {fmt_int(s.ytd_visits)} 次。",
        "",
        "按服务内容：" + "，".join(f"{c.content} {c.accepted}" for c in s.contents),
        "按需求分类（受理件数）：",
    ]
    lines += [f"  {c.content}·{c.name}：{c.accepted}" for c in s.categories]
    if s.uncategorised:
        lines.append(f"  未归入 19 类：{s.uncategorised}")
    lines.append("服务节点绩效：")
    if not s.performance:
        lines.append("  本月无节点数据")
    for p in s.performance:
        lines.append(
            f"  {p.name}：受理 {p.accepted}，办结 {p.closed}，办结率 {fmt_pct(p.completion_rate)}，"
            f"按时办结率 {fmt_pct(p.on_time_rate)}，首次响应 {fmt_hours(p.avg_first_response_hours)}，"
            f"办结用时 {fmt_hours(p.avg_resolution_hours)}，满意度 {fmt_score(p.satisfaction)}，"
            f"超期在办 {p.overdue_open}"
        )
    return "\n".join(lines)


# ---- HTML ------------------------------------------------------------------------------------------

ENV = environment("bot.reports")  # bot/reports/templates/: monthly.html (+ monthly.css, inlined)
ENV.globals.update(fmt_int=fmt_int, fmt_pct=fmt_pct, fmt_hours=fmt_hours, fmt_score=fmt_score)


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    title: str,
    items: Iterable[tuple[str, int, str]],
    unit: str = "件",
    *,
    label_w: int = 170,
    bar_w: int = 430,
    value_w: int = 70,
    row_h: int = 24,
    pad: int = 8,
    label_chars: int = 12,
) -> dict:
    """The geometry of a horizontal bar chart (inline SVG, drawn by a template's bar_chart macro):
    (label, value, colour) per bar. The report's sizes by default; the desk's figures pass their own."""
    items = list(items)
    top = max((v for _, v, _ in items), default=0) or 1
    bars = [
        {
            "label": label,
            "short": _short(label, label_chars),
            "value": value,
            "colour": colour,
            "y": pad + i * row_h,
            "w": round(bar_w * value / top, 1),
        }
        for i, (label, value, colour) in enumerate(items)
    ]
    return {
        "title": title,
        "unit": unit,
        "bars": bars,
        "label_w": label_w,
        "row_h": row_h,
        "pad": pad,
        "width": label_w + bar_w + value_w,
        "height": pad * 2 + row_h * len(items),
    }


def _kind(kind: str) -> str:
    return NODE_KINDS.get(kind, kind)


def to_html(s: MonthlySummary) -> str:
    """The printable page (bot/reports/templates/monthly.html), autoescaped: names from the database are text."""
    sat, kb = s.satisfaction, s.knowledge
    cards = [
        ("受理", f"{fmt_int(s.accepted)} 件", f"年度累计服务 {fmt_int(s.ytd_accepted)} 件"),
        ("办结", f"{fmt_int(s.closed)} 件", f"无法办理 {fmt_int(s.cannot_handle)} · 在办 {fmt_int(s.open)}"),
        ("办结率", fmt_pct(s.completion_rate), "办结 ÷ 受理（本月受理）"),
        ("按时办结率", fmt_pct(s.on_time_rate), f"本月办结 {fmt_int(s.resolved)} 件，按时 {fmt_int(s.on_time)} 件"),
        (
            "满意度",
            fmt_pct(sat.satisfied_share),
            f"平均 {fmt_score(sat.average)} · 评价 {fmt_int(sat.count)} 条（人工服务 {fmt_int(sat.service_count)}）",
        ),
        (
            "入企服务",
            f"{fmt_int(s.visits)} 次",
            f"发现需求 {fmt_int(s.visit_tickets)} 件 · 年度累计 {fmt_int(s.ytd_visits)} 次",
        ),
        ("兑现金额", fmt_yuan(s.redeemed_amount), f"本月办结工单兑现，约 {fmt_wan(s.redeemed_amount)}"),
        (s.overdue_label, f"{fmt_int(s.overdue_open)} 件", "仍在办理、未暂停计时且已过办结时限"),
    ]
    stats = [
        ("平均首次响应（工作时间）", fmt_hours(s.avg_first_response_hours)),
        ("平均办结用时（工作时间）", fmt_hours(s.avg_resolution_hours)),
        ("转人工", f"{fmt_int(s.handovers.total)} 次"),
        ("知识库解答率", fmt_pct(kb.answer_rate)),
        ("需回访", f"{fmt_int(sat.followups)} 件"),
    ]
    cat_chart = bar_chart(
        "按需求分类的受理件数（19 类）",
        [(c.name, c.accepted, CONTENT_COLOURS.get(c.content, DEFAULT_COLOUR)) for c in s.categories],
    )
    content_chart = bar_chart(
        "按服务内容的受理件数",
        [(c.content, c.accepted, CONTENT_COLOURS.get(c.content, DEFAULT_COLOUR)) for c in s.contents],
    )
    node_chart = bar_chart("按服务节点的受理件数", [(n.name, n.accepted, NODE_COLOUR) for n in s.nodes])

    cat_rows = [
        (c.content, c.name, c.accepted, c.closed, fmt_pct(c.completion_rate), c.cannot_handle, c.open)
        for c in s.categories
    ]
    cat_foot = ("合计", "", s.accepted, s.closed, fmt_pct(s.completion_rate), s.cannot_handle, s.open)
    content_rows = [
        (c.content, c.accepted, c.closed, fmt_pct(c.completion_rate), c.cannot_handle, c.open) for c in s.contents
    ]
    node_rows = [
        (
            n.name + ("" if n.active else "（已停用）"),
            _kind(n.kind),
            n.accepted,
            n.closed,
            fmt_pct(n.completion_rate),
            n.cannot_handle,
            n.open,
        )
        for n in s.nodes
    ]
    perf_rows = [
        (
            p.name,
            _kind(p.kind),
            p.accepted,
            p.closed,
            fmt_pct(p.completion_rate),
            p.resolved,
            fmt_pct(p.on_time_rate),
            fmt_hours(p.avg_first_response_hours),
            fmt_hours(p.avg_resolution_hours),
            p.ratings,
            fmt_score(p.satisfaction),
            p.overdue_open,
            p.visits,
        )
        for p in s.performance
    ]
    sat_rows = [
        (
            label,
            score,
            sat.levels.get(label, 0),
            fmt_pct(None if not sat.count else sat.levels.get(label, 0) / sat.count),
        )
        for score, label in SATISFACTION_LEVELS
    ]
    handover_rows = [(HANDOVER_REASONS.get(reason, reason), n) for reason, n in s.handovers.by_reason.items()]
    kb_rows = [
        ("提问", fmt_int(kb.questions)),
        ("直接解答", fmt_int(kb.answered)),
        ("解答率", fmt_pct(kb.answer_rate)),
        ("收到反馈", fmt_int(kb.feedback)),
        ("认为有用", fmt_int(kb.helpful)),
        ("有用占比", fmt_pct(kb.helpful_share)),
    ]
    return ENV.get_template("monthly.html").render(
        s=s,
        sat=sat,
        title=f"秦创原总窗口 {s.label} 月总结",
        period=_period_text(s),
        cards=cards,
        stats=stats,
        legend=list(CONTENT_COLOURS.items()),
        cat_chart=cat_chart,
        content_chart=content_chart,
        node_chart=node_chart,
        cat_rows=cat_rows,
        cat_foot=cat_foot,
        content_rows=content_rows,
        node_rows=node_rows,
        perf_rows=perf_rows,
        sat_rows=sat_rows,
        handover_rows=handover_rows,
        kb_rows=kb_rows,
    )


# ---- Excel -----------------------------------------------------------------------------------------

PCT = "0.0%"
YUAN = '"¥"#,##0.00'
INT = "#,##0"
HOURS = "0.0"
SCORE = "0.00"


def _sheet(
    ws: Any,
    headers: list[str],
    rows: list[list[Any]],
    formats: dict[int, str] | None = None,
    widths: list[int] | None = None,
) -> None:
    """Fill a worksheet: a styled header row, the rows with their number formats, column widths, header frozen."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # lazy: openpyxl adds 0.2 s; xlsx only
    from openpyxl.utils import get_column_letter  # lazy: openpyxl, as above

    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E79")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    for r in rows:
        ws.append(list(r))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.border = border
            fmt = (formats or {}).get(cell.column)
            if fmt and isinstance(cell.value, (int, float, Decimal)):
                cell.number_format = fmt
    for i, w in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"


def to_xlsx(s: MonthlySummary, path_or_buffer: str | BinaryIO | Any) -> None:
    """Write the summary as a workbook: 概览, 需求分类, 服务内容, 服务节点, 绩效, 满意度."""
    from openpyxl import Workbook  # lazy: openpyxl, as above
    from openpyxl.chart import BarChart, Reference  # lazy: openpyxl, as above
    from openpyxl.styles import Font  # lazy: openpyxl, as above

    sheet = _sheet
    wb = Workbook()

    # 概览: one figure per row, each with its own number format
    ws = wb.active
    ws.title = "概览"
    sat, kb = s.satisfaction, s.knowledge
    overview: list[tuple[str, Any, str | None]] = [
        ("统计月份", s.month, None),
        ("受理（件）", s.accepted, INT),
        ("办结（件）", s.closed, INT),
        ("办结率", s.completion_rate, PCT),
        ("无法办理（件）", s.cannot_handle, INT),
        ("在办（件）", s.open, INT),
        ("本月办结（件，含往月受理）", s.resolved, INT),
        ("按时办结（件）", s.on_time, INT),
        ("按时办结率", s.on_time_rate, PCT),
        ("平均首次响应（工作小时）", s.avg_first_response_hours, HOURS),
        ("平均办结用时（工作小时）", s.avg_resolution_hours, HOURS),
        (f"{s.overdue_label}（件）", s.overdue_open, INT),
        ("评价（条）", sat.count, INT),
        ("其中人工服务评价（条）", sat.service_count, INT),
        ("平均评分", sat.average, SCORE),
        ("满意率", sat.satisfied_share, PCT),
        ("需回访（件）", sat.followups, INT),
        ("入企服务（次）", s.visits, INT),
        ("入企发现需求（件）", s.visit_tickets, INT),
        ("兑现金额（元）", s.redeemed_amount, YUAN),
        ("转人工（次）", s.handovers.total, INT),
        *[(f"转人工·{HANDOVER_REASONS.get(k, k)}（次）", v, INT) for k, v in s.handovers.by_reason.items()],
        ("知识库提问（个）", kb.questions, INT),
        ("知识库解答（个）", kb.answered, INT),
        ("知识库解答率", kb.answer_rate, PCT),
        ("知识库反馈（条）", kb.feedback, INT),
        ("知识库有用占比", kb.helpful_share, PCT),
        ("年度累计服务（件）", s.ytd_accepted, INT),
        ("年度累计入企服务（次）", s.ytd_visits, INT),
    ]
    sheet(ws, ["指标", "数值"], [[k, v] for k, v, _ in overview], widths=[30, 18])
    for i, (_, _, fmt) in enumerate(overview, start=2):
        if fmt:
            ws.cell(row=i, column=2).number_format = fmt

    ws = wb.create_sheet("需求分类")
    sheet(
        ws,
        ["服务内容", "需求分类", "意图", "受理", "办结", "办结率", "无法办理", "在办"],
        [
            [c.content, c.name, c.intent, c.accepted, c.closed, c.completion_rate, c.cannot_handle, c.open]
            for c in s.categories
        ],
        {4: INT, 5: INT, 6: PCT, 7: INT, 8: INT},
        [12, 16, 28, 8, 8, 9, 9, 8],
    )
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = f"{s.label} 各需求分类受理件数"
    chart.y_axis.title = "件"
    chart.legend = None
    n = len(s.categories)
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=n + 1))
    chart.x_axis.scaling.orientation = "maxMin"  # taxonomy order top to bottom
    chart.height, chart.width = 12, 18
    ws.add_chart(chart, "J2")

    ws = wb.create_sheet("服务内容")
    sheet(
        ws,
        ["服务内容", "受理", "办结", "办结率", "无法办理", "在办"],
        [[c.content, c.accepted, c.closed, c.completion_rate, c.cannot_handle, c.open] for c in s.contents],
        {2: INT, 3: INT, 4: PCT, 5: INT, 6: INT},
        [12, 8, 8, 9, 9, 8],
    )

    node_sheets(wb, s)

    ws = wb.create_sheet("满意度")
    sheet(
        ws,
        ["评价等级", "分值", "数量", "占比"],
        [
            [label, score, sat.levels.get(label, 0), None if not sat.count else sat.levels.get(label, 0) / sat.count]
            for score, label in SATISFACTION_LEVELS
        ],
        {2: INT, 3: INT, 4: PCT},
        [14, 8, 8, 9],
    )
    base = ws.max_row + 2
    for i, (k, v, fmt) in enumerate(
        [
            ("评价合计", sat.count, INT),
            ("平均评分", sat.average, SCORE),
            ("满意率（4 分及以上）", sat.satisfied_share, PCT),
            ("需回访（件）", sat.followups, INT),
        ]
    ):
        ws.cell(row=base + i, column=1, value=k).font = Font(bold=True)
        cell = ws.cell(row=base + i, column=3, value=v)
        cell.number_format = fmt

    if s.scorecard is not None:
        scorecard_sheet(wb, s.scorecard)
    wb.save(path_or_buffer)


SCORECARD_HEADERS = [
    "服务节点",
    "受理",
    "即日办响应率",
    "按时办结率",
    "周推进覆盖率",
    "满意度（平均分）",
    "评价数",
    "其中人工服务评价",
    "入企服务",
    "未响应诉求",
    "超期在办",
    "上月受理",
    "上月即日办响应率",
    "上月按时办结率",
    "上月周推进覆盖率",
    "上月满意度",
    "上月入企服务",
    "上月未响应诉求",
]


def node_sheets(wb: Any, s: MonthlySummary, scope: set | None = None) -> None:
    """Add the sheets 服务节点 and 绩效: one row per node, only the nodes of `scope` when given (the console's
    export for a node's lead)."""
    sheet = _sheet
    ws = wb.create_sheet("服务节点")
    sheet(
        ws,
        ["服务节点", "节点编码", "类型", "在用", "受理", "办结", "办结率", "无法办理", "在办"],
        [
            [
                n.name,
                n.node_id,
                _kind(n.kind),
                "是" if n.active else "否",
                n.accepted,
                n.closed,
                n.completion_rate,
                n.cannot_handle,
                n.open,
            ]
            for n in s.nodes
            if scope is None or n.node_id in scope
        ],
        {5: INT, 6: INT, 7: PCT, 8: INT, 9: INT},
        [28, 20, 14, 6, 8, 8, 9, 9, 8],
    )

    ws = wb.create_sheet("绩效")
    sheet(
        ws,
        [
            "服务节点",
            "节点编码",
            "类型",
            "受理",
            "办结",
            "办结率",
            "当月办结",
            "按时办结率",
            "平均首次响应（工作小时）",
            "平均办结用时（工作小时）",
            "评价数",
            "满意度（平均分）",
            s.overdue_label,
            "入企服务",
        ],
        [
            [
                p.name,
                p.node_id,
                _kind(p.kind),
                p.accepted,
                p.closed,
                p.completion_rate,
                p.resolved,
                p.on_time_rate,
                p.avg_first_response_hours,
                p.avg_resolution_hours,
                p.ratings,
                p.satisfaction,
                p.overdue_open,
                p.visits,
            ]
            for p in s.performance
            if scope is None or p.node_id in scope
        ],
        {4: INT, 5: INT, 6: PCT, 7: INT, 8: PCT, 9: HOURS, 10: HOURS, 11: INT, 12: SCORE, 13: INT, 14: INT},
        [28, 20, 14, 8, 8, 9, 9, 11, 14, 14, 8, 12, 12, 9],
    )


def scorecard_sheet(wb: Any, sc: Any, scope: set | None = None) -> None:
    """Add the sheet 绩效评分 (bot.reports.scorecard): this month and the month before, per node, with a total."""
    from openpyxl.styles import Font  # lazy: openpyxl, as above

    ws = wb.create_sheet("绩效评分")
    ws.append(SCORECARD_HEADERS)

    def now_cells(x) -> list[Any]:
        return [
            x.accepted,
            x.response_rate,
            x.on_time_rate,
            x.push_coverage,
            x.satisfaction,
            x.ratings,
            x.service_ratings,
            x.visits,
            x.unanswered,
            x.overdue_open,
        ]

    def before_cells(x) -> list[Any]:
        return [x.accepted, x.response_rate, x.on_time_rate, x.push_coverage, x.satisfaction, x.visits, x.unanswered]

    for r in sc.scoped(scope):
        ws.append([r.name, *now_cells(r.current), *before_cells(r.previous)])
    ws.append(["合计", *now_cells(sc.total("current", scope)), *before_cells(sc.total("previous", scope))])
    formats = {3: PCT, 4: PCT, 5: PCT, 6: SCORE, 13: PCT, 14: PCT, 15: PCT, 16: SCORE}
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.column in formats and isinstance(cell.value, (int, float)):
                cell.number_format = formats[cell.column]
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 28
    ws.freeze_panes = "B2"
    note = ws.max_row + 2
    ws.cell(
        row=note,
        column=1,
        value=f"{sc.label}，对照上月（{sc.previous_label}）。口径见 bot/reports/scorecard.py："
        "即日办响应率 = 按即日办时限首次响应的件数 ÷ 当月首次响应件数；周推进覆盖率 = 截止时应周推进且近 8 天已推进的件数 ÷ 应推进件数。",
    )
