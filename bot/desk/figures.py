"""信息展示: the window's public figures at /figures (HTML) and /api/figures (JSON), no sign-in.

Counts and money only (bot.reports.figures.public_figures): no names, mobiles, enterprise names or
ticket text. Computed from the database and cached per desk process for 60 s, so a busy page costs
one computation a minute.

Embedding: the page may be shown in an <iframe> by the sites in DESK_FRAME_ANCESTORS (the same
setting as the web chat; default 'self', then also X-Frame-Options: SAMEORIGIN). Its CSP is strict:
no scripts at all, styles only from /figures.css, charts are inline SVG drawn here (no CDN, no
chart library). /api/figures allows any origin to read it (CORS *): the figures are public.

    GET /figures?window=all|month|today    the charts show that window (default: all)
    GET /api/figures                       {"generated_at", "windows": {"today", "month", "all"}}
"""
from __future__ import annotations

import asyncio
import json
from html import escape
from pathlib import Path
from typing import Any, Iterable, Optional

from aiohttp import web

from bot.desk.chat import CHAT_KEY
from bot.desk.keys import SETTINGS_KEY
from bot.reports.figures import CACHE_SECONDS, WINDOWS, PublicFigures

CSS_FILE = Path(__file__).resolve().parent / "static" / "figures.css"
CACHE_KEY = web.AppKey("public_figures", object)
CONTENT_COLOURS = {"政策兑现": "#c0392b", "人才服务": "#2471a3", "科技金融": "#b9770e", "科技政务": "#148f77",
                   "协同赋能": "#7d3c98"}
DEFAULT_COLOUR = "#566573"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


# ---- charts and numbers, shared with the console dashboard -----------------------------------------

def pct(rate: Optional[float]) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def hours(h: Optional[float]) -> str:
    return "—" if h is None else f"{h:.1f} 小时"


def yuan(amount: Any) -> str:
    """¥ with thousands separators; 万元 from 10 000 on."""
    from decimal import Decimal

    value = Decimal(str(amount))
    if value >= 10000:
        return f"{value / 10000:,.2f} 万元"
    return f"{value:,.2f} 元"


def bar_chart(title: str, items: Iterable[tuple[str, int, str]], unit: str = "件") -> str:
    """Horizontal bars as inline SVG (label, value, colour per bar). The viewBox is 480 wide and the SVG
    scales to its box (figures.css), so it reads on a 390 px phone and on a wide screen alike."""
    items = list(items)
    if not items:
        return f'<p class="empty">{_e(title)}：暂无数据</p>'
    label_w, bar_w, value_w, row_h, pad = 140, 282, 58, 28, 6
    width, height = label_w + bar_w + value_w, pad * 2 + row_h * len(items)
    top = max(v for _, v, _ in items) or 1
    out = [f'<svg class="bars" role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet"><title>{_e(title)}</title>',
           f'<line x1="{label_w}" y1="{pad - 2}" x2="{label_w}" y2="{height - pad + 2}" stroke="#9aa5b1"/>']
    for i, (label, value, colour) in enumerate(items):
        y = pad + i * row_h
        w = round(bar_w * value / top, 1)
        short = label if len(label) <= 8 else label[:7] + "…"
        out.append(f'<g><title>{_e(label)}：{value} {_e(unit)}</title>'
                   f'<text x="{label_w - 6}" y="{y + 20}" text-anchor="end" font-size="16" fill="#1f2933">{_e(short)}</text>'
                   f'<rect x="{label_w}" y="{y + 6}" width="{w}" height="{row_h - 12}" rx="2" fill="{_e(colour)}"/>'
                   f'<text x="{label_w + w + 5}" y="{y + 20}" font-size="16" fill="#1f2933">{value}</text></g>')
    out.append("</svg>")
    return "".join(out)


def category_chart(title: str, categories: Iterable[dict]) -> str:
    return bar_chart(title, [(c["name"], c["accepted"], CONTENT_COLOURS.get(c["content"], DEFAULT_COLOUR))
                             for c in categories])


def content_chart(title: str, contents: Iterable[dict]) -> str:
    return bar_chart(title, [(c["name"], c["accepted"], CONTENT_COLOURS.get(c["name"], DEFAULT_COLOUR))
                             for c in contents])


def legend() -> str:
    return ('<p class="legend">' + "".join(
        f'<span><svg viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
        f'fill="{c}"/></svg>{_e(name)}</span>' for name, c in CONTENT_COLOURS.items()) + "</p>")


def card(key: str, value: str, sub: str = "") -> str:
    return (f'<div class="fig"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>'
            f'<div class="s">{_e(sub)}</div></div>')


# ---- the public page ---------------------------------------------------------------------------------

def page_html(figures: dict, chosen: str) -> str:
    w = figures["windows"]
    rows = [("服务总量（件次）", "services", str), ("服务企业（家）", "enterprises", str), ("受理诉求（件）", "accepted", str),
            ("办结（件）", "closed", str), ("办结率", "completion_rate", pct), ("入企服务（次）", "visits", str),
            ("兑现金额", "redeemed_amount", yuan)]
    head = "".join(f"<th>{_e(WINDOWS[k])}</th>" for k in WINDOWS)
    body = "".join(f'<tr><th scope="row">{_e(label)}</th>'
                   + "".join(f'<td data-window="{k}" data-key="{key}">{_e(fmt(w[k][key]))}</td>' for k in WINDOWS)
                   + "</tr>" for label, key, fmt in rows)
    sel = w[chosen]
    cards = "".join([card("服务企业", f'{w["all"]["enterprises"]} 家', f'本月 {w["month"]["enterprises"]} 家'),
                     card("受理诉求", f'{w["all"]["accepted"]} 件', f'今日 {w["today"]["accepted"]} 件'),
                     card("入企服务", f'{w["all"]["visits"]} 次', f'本月 {w["month"]["visits"]} 次'),
                     card("办结率", pct(w["all"]["completion_rate"]), f'本月 {pct(w["month"]["completion_rate"])}'),
                     card("兑现金额", yuan(w["all"]["redeemed_amount"]), f'本月 {yuan(w["month"]["redeemed_amount"])}')])
    on = ' class="on" aria-current="page"'
    tabs = "".join(f'<a href="/figures?window={k}"{on if k == chosen else ""}>{_e(WINDOWS[k])}</a>'
                   for k in ("all", "month", "today"))
    generated = figures["generated_at"].replace("T", " ")[:16]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>秦创原总窗口 · 服务数据</title>
<link rel="stylesheet" href="/figures.css">
</head><body class="public">
<header><h1>秦创原总窗口 · 服务数据</h1><p class="meta">数据更新于 {_e(generated)}（北京时间，每分钟更新）</p></header>
<section class="figs">{cards}</section>
<section><h2>服务概况</h2><div class="scroll"><table class="grid"><thead><tr><th>指标</th>{head}</tr></thead>
<tbody>{body}</tbody></table></div></section>
<section><h2>企业诉求分布</h2><nav class="tabs" aria-label="统计区间">{tabs}</nav>
{legend()}
<div class="two"><div><h3>按 19 类需求（{_e(WINDOWS[chosen])}）</h3>{category_chart("按需求分类受理诉求", sel["categories"])}</div>
<div><h3>按五项服务内容（{_e(WINDOWS[chosen])}）</h3>{content_chart("按服务内容受理诉求", sel["contents"])}</div></div>
</section>
<footer><p>口径：受理诉求为统计区间内登记的企业诉求工单；办结率 = 其中已办结件数 ÷ 受理件数；服务总量 = 受理诉求 + 入企服务；
服务企业为区间内有诉求或入企服务的企业数；兑现金额为区间内办结工单登记的政策兑现金额。不含任何企业或个人信息。
数据接口：<a href="/api/figures">/api/figures</a>（JSON）。</p></footer>
</body></html>"""


def _cache(request: web.Request) -> PublicFigures:
    cache = request.app.get(CACHE_KEY)
    if cache is None:
        cache = PublicFigures(request.app[SETTINGS_KEY].effective_database_url, CACHE_SECONDS)
        request.app[CACHE_KEY] = cache
    return cache


def _headers(request: web.Request, json_api: bool = False) -> dict[str, str]:
    h = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
         "Cache-Control": f"public, max-age={int(CACHE_SECONDS)}"}
    if json_api:
        h["Access-Control-Allow-Origin"] = "*"
        h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return h
    ancestors = request.app[CHAT_KEY].frame_ancestors      # DESK_FRAME_ANCESTORS, as the web chat's
    h["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                    f"form-action 'none'; frame-ancestors {ancestors}")
    if ancestors == "'self'":
        h["X-Frame-Options"] = "SAMEORIGIN"
    return h


async def figures_page(request: web.Request) -> web.Response:
    chosen = request.query.get("window", "all")
    if chosen not in WINDOWS:
        return web.Response(status=400, text=f"参数 window 无效：{chosen[:20]!r}，可选 all（累计）、month（本月）、today（今日）。",
                            content_type="text/plain", charset="utf-8", headers=_headers(request))
    data = await asyncio.to_thread(_cache(request).get)
    return web.Response(text=page_html(data, chosen), content_type="text/html", charset="utf-8",
                        headers=_headers(request))


async def figures_api(request: web.Request) -> web.Response:
    data = await asyncio.to_thread(_cache(request).get)
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json",
                        charset="utf-8", headers=_headers(request, json_api=True))


async def figures_css(request: web.Request) -> web.Response:
    return web.Response(body=CSS_FILE.read_bytes(), content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app.router.add_get("/figures", figures_page)
    app.router.add_get("/api/figures", figures_api)
    app.router.add_get("/figures.css", figures_css)


__all__ = ["setup", "bar_chart", "category_chart", "content_chart", "legend", "card", "pct", "hours", "yuan",
           "page_html"]
