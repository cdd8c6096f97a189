"""The monthly summary as text (CLI), a printable HTML page and an Excel workbook.

The HTML page is self-contained: inline CSS and inline SVG charts, no scripts,
no fonts or images to fetch, so it can be mailed, archived and printed as is.
Every piece of text that comes from the database is escaped.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import Any, BinaryIO, Iterable

from bot.reports.monthly import HANDOVER_REASONS, NODE_KINDS, SATISFACTION_LEVELS, MonthlySummary

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
    return f"{s.period_start.year}年{s.period_start.month}月{s.period_start.day}日至{end.month}月{end.day}日（北京时间）"


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
            f"超期在办 {p.overdue_open}")
    return "\n".join(lines)


# ---- HTML ------------------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(title: str, items: list[tuple[str, int, str]], unit: str = "件") -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour) per bar."""
    if not items:
        return f'<p class="empty">{_e(title)}：本月无数据</p>'
    label_w, bar_w, value_w, row_h, pad = 170, 430, 70, 24, 8
    width = label_w + bar_w + value_w
    height = pad * 2 + row_h * len(items)
    top = max((v for _, v, _ in items), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{_e(title)}</title>",
        f'<line x1="{label_w}" y1="{pad - 2}" x2="{label_w}" y2="{height - pad + 2}" stroke="#999" stroke-width="1"/>',
    ]
    for i, (label, value, colour) in enumerate(items):
        y = pad + i * row_h
        w = round(bar_w * value / top, 1)
        parts.append(
            f'<g><title>{_e(label)}：{value} {unit}</title>'
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="13" fill="#222">{_e(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row_h - 8}" rx="2" fill="{_e(colour)}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="12" fill="#333">{value}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
* { box-sizing: border-box; }
body { font-family: "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
       "WenQuanYi Micro Hei", sans-serif; color: #1c2833; margin: 0 auto; max-width: 1000px; padding: 24px;
       line-height: 1.5; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
header { border-bottom: 3px solid #1f4e79; margin-bottom: 16px; }
h1 { font-size: 24px; margin: 0 0 4px; color: #1f4e79; }
h2 { font-size: 18px; margin: 24px 0 8px; padding-left: 8px; border-left: 4px solid #1f4e79; }
.meta { color: #566573; font-size: 13px; margin: 0 0 10px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
.card { border: 1px solid #d5d8dc; border-radius: 6px; padding: 10px 12px; background: #f8f9f9; }
.card .k { font-size: 13px; color: #566573; }
.card .v { font-size: 24px; font-weight: 700; color: #1f4e79; }
.card .s { font-size: 12px; color: #707b7c; }
.stats { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin-top: 10px; font-size: 13px; }
.stats div { border-top: 2px solid #aeb6bf; padding-top: 4px; }
.stats b { display: block; font-size: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #d5d8dc; padding: 4px 6px; text-align: right; }
th { background: #1f4e79; color: #fff; font-weight: 600; text-align: center; }
td.l { text-align: left; }
tr:nth-child(even) td { background: #f4f6f7; }
tfoot td { font-weight: 700; background: #eaecee; }
.legend { font-size: 12px; color: #444; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 4px 0; font-family: inherit; }
.empty { color: #707b7c; font-size: 13px; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
footer { margin-top: 24px; font-size: 12px; color: #707b7c; border-top: 1px solid #d5d8dc; padding-top: 8px; }
@media print {
  body { padding: 0; max-width: none; }
  section { break-inside: avoid; }
  h2 { break-after: avoid; }
  @page { size: A4; margin: 14mm; }
}
"""


def _card(key: str, value: str, sub: str) -> str:
    return f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div><div class="s">{_e(sub)}</div></div>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], left: int = 1, foot: Iterable[Any] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)

    def row(cells: Iterable[Any], tag: str = "td") -> str:
        return "<tr>" + "".join(
            f'<{tag} class="l">{_e(c)}</{tag}>' if i < left else f"<{tag}>{_e(c)}</{tag}>"
            for i, c in enumerate(cells)) + "</tr>"

    body = "".join(row(r) for r in rows)
    tfoot = f"<tfoot>{row(foot)}</tfoot>" if foot is not None else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tfoot}</table>"


def _kind(kind: str) -> str:
    return NODE_KINDS.get(kind, kind)


def to_html(s: MonthlySummary) -> str:
    sat, kb = s.satisfaction, s.knowledge
    cards = "".join([
        _card("受理", f"{fmt_int(s.accepted)} 件", f"年度累计服务 {fmt_int(s.ytd_accepted)} 件"),
        _card("办结", f"{fmt_int(s.closed)} 件", f"无法办理 {fmt_int(s.cannot_handle)} · 在办 {fmt_int(s.open)}"),
        _card("办结率", fmt_pct(s.completion_rate), "办结 ÷ 受理（本月受理）"),
        _card("按时办结率", fmt_pct(s.on_time_rate), f"本月办结 {fmt_int(s.resolved)} 件，按时 {fmt_int(s.on_time)} 件"),
        _card("满意度", fmt_pct(sat.satisfied_share),
              f"平均 {fmt_score(sat.average)} · 评价 {fmt_int(sat.count)} 条（人工服务 {fmt_int(sat.service_count)}）"),
        _card("入企服务", f"{fmt_int(s.visits)} 次", f"发现需求 {fmt_int(s.visit_tickets)} 件 · 年度累计 {fmt_int(s.ytd_visits)} 次"),
        _card("兑现金额", fmt_yuan(s.redeemed_amount), f"本月办结工单兑现，约 {fmt_wan(s.redeemed_amount)}"),
        _card(s.overdue_label, f"{fmt_int(s.overdue_open)} 件", "仍在办理、未暂停计时且已过办结时限"),
    ])
    stats = "".join(f"<div>{_e(k)}<b>{_e(v)}</b></div>" for k, v in [
        ("平均首次响应（工作时间）", fmt_hours(s.avg_first_response_hours)),
        ("平均办结用时（工作时间）", fmt_hours(s.avg_resolution_hours)),
        ("转人工", f"{fmt_int(s.handovers.total)} 次"),
        ("知识库解答率", fmt_pct(kb.answer_rate)),
        ("需回访", f"{fmt_int(sat.followups)} 件"),
    ])

    legend = '<div class="legend">' + "".join(
        f'<span><i style="background:{colour}"></i>{_e(name)}</span>' for name, colour in CONTENT_COLOURS.items()) + "</div>"
    cat_chart = bar_chart("按需求分类的受理件数（19 类）",
                          [(c.name, c.accepted, CONTENT_COLOURS.get(c.content, DEFAULT_COLOUR)) for c in s.categories])
    content_chart = bar_chart("按服务内容的受理件数",
                              [(c.content, c.accepted, CONTENT_COLOURS.get(c.content, DEFAULT_COLOUR)) for c in s.contents])
    node_chart = bar_chart("按服务节点的受理件数", [(n.name, n.accepted, NODE_COLOUR) for n in s.nodes])

    cat_rows = [(c.content, c.name, c.accepted, c.closed, fmt_pct(c.completion_rate), c.cannot_handle, c.open)
                for c in s.categories]
    cat_foot = ("合计", "", s.accepted, s.closed, fmt_pct(s.completion_rate), s.cannot_handle, s.open)
    uncategorised = (f'<p class="empty">另有 {s.uncategorised} 件工单的分类不在 19 类之中，已计入合计。</p>'
                     if s.uncategorised else "")
    content_rows = [(c.content, c.accepted, c.closed, fmt_pct(c.completion_rate), c.cannot_handle, c.open)
                    for c in s.contents]
    node_rows = [(n.name + ("" if n.active else "（已停用）"), _kind(n.kind), n.accepted, n.closed,
                  fmt_pct(n.completion_rate), n.cannot_handle, n.open) for n in s.nodes]
    perf_rows = [(p.name, _kind(p.kind), p.accepted, p.closed, fmt_pct(p.completion_rate), p.resolved,
                  fmt_pct(p.on_time_rate), fmt_hours(p.avg_first_response_hours), fmt_hours(p.avg_resolution_hours),
                  p.ratings, fmt_score(p.satisfaction), p.overdue_open, p.visits) for p in s.performance]
    perf_table = (_table(["服务节点", "类型", "受理", "办结", "办结率", "当月办结", "按时办结率", "平均首次响应",
                          "平均办结用时", "评价数", "满意度", s.overdue_label, "入企服务"], perf_rows)
                  if perf_rows else '<p class="empty">本月没有节点发生服务活动。</p>')
    sat_rows = [(label, score, sat.levels.get(label, 0),
                 fmt_pct(None if not sat.count else sat.levels.get(label, 0) / sat.count))
                for score, label in SATISFACTION_LEVELS]
    handover_rows = [(HANDOVER_REASONS.get(reason, reason), n) for reason, n in s.handovers.by_reason.items()]
    kb_rows = [("提问", fmt_int(kb.questions)), ("直接解答", fmt_int(kb.answered)), ("解答率", fmt_pct(kb.answer_rate)),
               ("收到反馈", fmt_int(kb.feedback)), ("认为有用", fmt_int(kb.helpful)),
               ("有用占比", fmt_pct(kb.helpful_share))]

    title = f"秦创原总窗口 {s.label} 月总结"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p class="meta">统计期间：{_e(_period_text(s))} · 生成时间：{_e(s.generated_at.strftime("%Y-%m-%d %H:%M"))} · 原上管家</p>
</header>
<section>
<h2>本月概览</h2>
<div class="cards">{cards}</div>
<div class="stats">{stats}</div>
</section>
<section>
<h2>需求分类（19 类）</h2>
{legend}
{cat_chart}
{_table(["服务内容", "需求分类", "受理", "办结", "办结率", "无法办理", "在办"], cat_rows, left=2, foot=cat_foot)}
{uncategorised}
</section>
<section>
<h2>服务内容</h2>
{content_chart}
{_table(["服务内容", "受理", "办结", "办结率", "无法办理", "在办"], content_rows)}
</section>
<section>
<h2>服务节点</h2>
{node_chart}
{_table(["服务节点", "类型", "受理", "办结", "办结率", "无法办理", "在办"], node_rows, left=2)}
</section>
<section>
<h2>绩效评估</h2>
{perf_table}
</section>
<section class="two">
<div>
<h2>满意度</h2>
{_table(["评价等级", "分值", "数量", "占比"], sat_rows)}
<p class="meta">评价 {fmt_int(sat.count)} 条（其中对人工服务的评价 {fmt_int(sat.service_count)} 条），平均 {_e(fmt_score(sat.average))}，满意（4 分及以上）{fmt_int(sat.satisfied)} 条，满意率 {_e(fmt_pct(sat.satisfied_share))}；需回访 {fmt_int(sat.followups)} 件。</p>
</div>
<div>
<h2>转人工</h2>
{_table(["原因", "次数"], handover_rows, foot=("合计", s.handovers.total))}
<h2>知识库</h2>
{_table(["指标", "数值"], kb_rows)}
</div>
</section>
<section>
<h2>年度累计</h2>
{_table(["指标", "数值"], [("服务企业需求（件）", fmt_int(s.ytd_accepted)), ("入企服务（次）", fmt_int(s.ytd_visits))])}
</section>
<footer>
口径说明：受理＝本月新建工单；办结＝其中状态为已办结或已评价的工单（按报表生成时的状态）；办结率＝办结 ÷ 受理；
按时办结率＝本月办结的工单中在办结时限内办结的比例；响应与办结用时按工作时间计算（不含待补充期间）；
满意度＝本月收到的评价，4 分及以上为满意；兑现金额＝本月办结工单的兑现金额合计；月末超期在办＝月末仍在办理、未暂停计时（待补充除外）且已过办结时限的工单，
当月未结束时按生成时刻计（期限未到的不算超期）。
</footer>
</body>
</html>
"""


# ---- Excel -----------------------------------------------------------------------------------------

PCT = "0.0%"
YUAN = '"¥"#,##0.00'
INT = "#,##0"
HOURS = "0.0"
SCORE = "0.00"


def to_xlsx(s: MonthlySummary, path_or_buffer: str | BinaryIO | Any) -> None:
    """Write the summary as a workbook: 概览, 需求分类, 服务内容, 服务节点, 绩效, 满意度."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)

    def sheet(ws, headers: list[str], rows: list[list[Any]], formats: dict[int, str] | None = None,
              widths: list[int] | None = None) -> None:
        ws.append(headers)
        for cell in ws[1]:
            cell.font, cell.fill, cell.alignment, cell.border = header_font, header_fill, centre, border
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
    sheet(ws, ["服务内容", "需求分类", "意图", "受理", "办结", "办结率", "无法办理", "在办"],
          [[c.content, c.name, c.intent, c.accepted, c.closed, c.completion_rate, c.cannot_handle, c.open]
           for c in s.categories],
          {4: INT, 5: INT, 6: PCT, 7: INT, 8: INT}, [12, 16, 28, 8, 8, 9, 9, 8])
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = f"{s.label} 各需求分类受理件数"
    chart.y_axis.title = "件"
    chart.legend = None
    n = len(s.categories)
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=n + 1))
    chart.x_axis.scaling.orientation = "maxMin"       # taxonomy order top to bottom
    chart.height, chart.width = 12, 18
    ws.add_chart(chart, "J2")

    ws = wb.create_sheet("服务内容")
    sheet(ws, ["服务内容", "受理", "办结", "办结率", "无法办理", "在办"],
          [[c.content, c.accepted, c.closed, c.completion_rate, c.cannot_handle, c.open] for c in s.contents],
          {2: INT, 3: INT, 4: PCT, 5: INT, 6: INT}, [12, 8, 8, 9, 9, 8])

    ws = wb.create_sheet("服务节点")
    sheet(ws, ["服务节点", "节点编码", "类型", "在用", "受理", "办结", "办结率", "无法办理", "在办"],
          [[n.name, n.node_id, _kind(n.kind), "是" if n.active else "否", n.accepted, n.closed,
            n.completion_rate, n.cannot_handle, n.open] for n in s.nodes],
          {5: INT, 6: INT, 7: PCT, 8: INT, 9: INT}, [28, 20, 14, 6, 8, 8, 9, 9, 8])

    ws = wb.create_sheet("绩效")
    sheet(ws, ["服务节点", "节点编码", "类型", "受理", "办结", "办结率", "当月办结", "按时办结率",
               "平均首次响应（工作小时）", "平均办结用时（工作小时）", "评价数", "满意度（平均分）", s.overdue_label, "入企服务"],
          [[p.name, p.node_id, _kind(p.kind), p.accepted, p.closed, p.completion_rate, p.resolved, p.on_time_rate,
            p.avg_first_response_hours, p.avg_resolution_hours, p.ratings, p.satisfaction, p.overdue_open, p.visits]
           for p in s.performance],
          {4: INT, 5: INT, 6: PCT, 7: INT, 8: PCT, 9: HOURS, 10: HOURS, 11: INT, 12: SCORE, 13: INT, 14: INT},
          [28, 20, 14, 8, 8, 9, 9, 11, 14, 14, 8, 12, 12, 9])

    ws = wb.create_sheet("满意度")
    sheet(ws, ["评价等级", "分值", "数量", "占比"],
          [[label, score, sat.levels.get(label, 0),
            None if not sat.count else sat.levels.get(label, 0) / sat.count] for score, label in SATISFACTION_LEVELS],
          {2: INT, 3: INT, 4: PCT}, [14, 8, 8, 9])
    base = ws.max_row + 2
    for i, (k, v, fmt) in enumerate([("评价合计", sat.count, INT), ("平均评分", sat.average, SCORE),
                                      ("满意率（4 分及以上）", sat.satisfied_share, PCT),
                                      ("需回访（件）", sat.followups, INT)]):
        ws.cell(row=base + i, column=1, value=k).font = Font(bold=True)
        cell = ws.cell(row=base + i, column=3, value=v)
        cell.number_format = fmt

    if s.scorecard is not None:
        scorecard_sheet(wb, s.scorecard)
    wb.save(path_or_buffer)


SCORECARD_HEADERS = ["服务节点", "受理", "即日办响应率", "按时办结率", "周推进覆盖率", "满意度（平均分）", "评价数",
                     "其中人工服务评价", "入企服务", "未响应诉求", "超期在办",
                     "上月受理", "上月即日办响应率", "上月按时办结率", "上月周推进覆盖率", "上月满意度", "上月入企服务",
                     "上月未响应诉求"]


def scorecard_sheet(wb: Any, sc: Any, scope: set | None = None) -> None:
    """Add the sheet 绩效评分 (bot.reports.scorecard): this month and the month before, per node, with a total."""
    from openpyxl.styles import Font

    ws = wb.create_sheet("绩效评分")
    ws.append(SCORECARD_HEADERS)

    def now_cells(x) -> list[Any]:
        return [x.accepted, x.response_rate, x.on_time_rate, x.push_coverage, x.satisfaction, x.ratings,
                x.service_ratings, x.visits, x.unanswered, x.overdue_open]

    def before_cells(x) -> list[Any]:
        return [x.accepted, x.response_rate, x.on_time_rate, x.push_coverage, x.satisfaction, x.visits,
                x.unanswered]

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
    ws.cell(row=note, column=1, value=f"{sc.label}，对照上月（{sc.previous_label}）。口径见 bot/reports/scorecard.py："
            "即日办响应率 = 按即日办时限首次响应的件数 ÷ 当月首次响应件数；周推进覆盖率 = 截止时应周推进且近 8 天已推进的件数 ÷ 应推进件数。")
