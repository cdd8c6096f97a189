"""信息展示: the window's public figures at /figures (HTML) and /api/figures (JSON), no sign-in.

Counts and money only (bot.reports.figures.public_figures): no names, mobiles, enterprise names or
ticket text. Computed from the database and cached per desk process for 60 s, so a busy page costs
one computation a minute.

Embedding: the page may be shown in an <iframe> by the sites in DESK_FRAME_ANCESTORS (the same
setting as the web chat; default 'self', then also X-Frame-Options: SAMEORIGIN). Its CSP is strict:
no scripts at all, styles only from /figures.css, charts are inline SVG (templates/figures.html and
figures_macros.html, shared with the console's 数据看板; no CDN, no chart library). /api/figures allows any origin to read it (CORS *): the figures are public.

    GET /figures?window=all|month|today    the charts show that window (default: all)
    GET /api/figures                       {"generated_at", "windows": {"today", "month", "all"}}
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Optional

from aiohttp import web

from bot.desk import pages
from bot.desk.chat import CHAT_KEY
from bot.desk.keys import SETTINGS_KEY
from bot.reports import render
from bot.reports.figures import CACHE_SECONDS, WINDOWS, PublicFigures

CSS_FILE = Path(__file__).resolve().parent / "static" / "figures.css"
CACHE_KEY = web.AppKey("public_figures", object)
CONTENT_COLOURS, DEFAULT_COLOUR = render.CONTENT_COLOURS, render.DEFAULT_COLOUR  # the report's colours


# ---- charts and numbers, shared with the console dashboard -----------------------------------------


def pct(rate: Optional[float]) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def hours(h: Optional[float]) -> str:
    return "—" if h is None else f"{h:.1f} 小时"


def yuan(amount: Any) -> str:
    """¥ with thousands separators; 万元 from 10 000 on."""
    value = Decimal(str(amount))
    if value >= 10000:
        return f"{value / 10000:,.2f} 万元"
    return f"{value:,.2f} 元"


def bar_chart(title: str, items: Iterable[tuple[str, int, str]], unit: str = "件") -> dict:
    """The report's bar-chart geometry (bot.reports.render.bar_chart) at the figures page's size: a viewBox
    480 wide, for the bar_chart macro of templates/figures_macros.html."""
    return render.bar_chart(title, items, unit, label_w=140, bar_w=282, value_w=58, row_h=28, pad=6, label_chars=8)


def category_chart(title: str, categories: Iterable[dict]) -> dict:
    return bar_chart(
        title, [(c["name"], c["accepted"], CONTENT_COLOURS.get(c["content"], DEFAULT_COLOUR)) for c in categories]
    )


def content_chart(title: str, contents: Iterable[dict]) -> dict:
    return bar_chart(
        title, [(c["name"], c["accepted"], CONTENT_COLOURS.get(c["name"], DEFAULT_COLOUR)) for c in contents]
    )


# ---- the public page ---------------------------------------------------------------------------------


def page_html(figures: dict, chosen: str) -> str:
    """The page (templates/figures.html) with the charts of the `chosen` window."""
    w = figures["windows"]
    rows = [
        ("服务总量（件次）", "services", str),
        ("服务企业（家）", "enterprises", str),
        ("受理诉求（件）", "accepted", str),
        ("办结（件）", "closed", str),
        ("办结率", "completion_rate", pct),
        ("入企服务（次）", "visits", str),
        ("兑现金额", "redeemed_amount", yuan),
    ]
    cards = [
        ("服务企业", f"{w['all']['enterprises']} 家", f"本月 {w['month']['enterprises']} 家"),
        ("受理诉求", f"{w['all']['accepted']} 件", f"今日 {w['today']['accepted']} 件"),
        ("入企服务", f"{w['all']['visits']} 次", f"本月 {w['month']['visits']} 次"),
        ("办结率", pct(w["all"]["completion_rate"]), f"本月 {pct(w['month']['completion_rate'])}"),
        ("兑现金额", yuan(w["all"]["redeemed_amount"]), f"本月 {yuan(w['month']['redeemed_amount'])}"),
    ]
    sel = w[chosen]
    return pages.render(
        "figures.html",
        w=w,
        rows=rows,
        cards=cards,
        chosen=chosen,
        windows=WINDOWS,
        colours=CONTENT_COLOURS,
        generated=figures["generated_at"].replace("T", " ")[:16],
        category_chart=category_chart("按需求分类受理诉求", sel["categories"]),
        content_chart=content_chart("按服务内容受理诉求", sel["contents"]),
    )


def _cache(request: web.Request) -> PublicFigures:
    cache = request.app.get(CACHE_KEY)
    if cache is None:
        cache = PublicFigures(request.app[SETTINGS_KEY].effective_database_url, CACHE_SECONDS)
        request.app[CACHE_KEY] = cache
    return cache


def _headers(request: web.Request, json_api: bool = False) -> dict[str, str]:
    h = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": f"public, max-age={int(CACHE_SECONDS)}",
    }
    if json_api:
        h["Access-Control-Allow-Origin"] = "*"
        h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return h
    ancestors = request.app[CHAT_KEY].frame_ancestors  # DESK_FRAME_ANCESTORS, as the web chat's
    h["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )
    if ancestors == "'self'":
        h["X-Frame-Options"] = "SAMEORIGIN"
    return h


async def figures_page(request: web.Request) -> web.Response:
    chosen = request.query.get("window", "all")
    if chosen not in WINDOWS:
        return web.Response(
            status=400,
            text=f"参数 window 无效：{chosen[:20]!r}，可选 all（累计）、month（本月）、today（今日）。",
            content_type="text/plain",
            charset="utf-8",
            headers=_headers(request),
        )
    data = await asyncio.to_thread(_cache(request).get)
    return web.Response(
        text=page_html(data, chosen), content_type="text/html", charset="utf-8", headers=_headers(request)
    )


async def figures_api(request: web.Request) -> web.Response:
    data = await asyncio.to_thread(_cache(request).get)
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
        headers=_headers(request, json_api=True),
    )


async def figures_css(request: web.Request) -> web.Response:
    return web.Response(
        body=CSS_FILE.read_bytes(),
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/figures", figures_page)
    app.router.add_get("/api/figures", figures_api)
    app.router.add_get("/figures.css", figures_css)


__all__ = ["setup", "bar_chart", "category_chart", "content_chart", "pct", "hours", "yuan", "page_html"]
