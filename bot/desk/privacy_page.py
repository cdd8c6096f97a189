"""GET /privacy: the privacy page (隐私说明) linked from the chat page and from the notice the chat shows
before it asks for personal details; GET /api/privacy/notice gives that notice as JSON. Text in bot.privacy.notice."""
from __future__ import annotations

import json
from html import escape

from aiohttp import web

from bot.desk.keys import SETTINGS_KEY
from bot.privacy import notice

HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                                      "form-action 'none'; frame-ancestors 'self'"}
STYLE = ("body{font:15px/1.7 -apple-system,'PingFang SC','Microsoft YaHei',sans-serif;max-width:720px;"
         "margin:0 auto;padding:16px;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:24px}"
         "li{margin:4px 0}a{color:#07a050}")


def render(settings) -> str:
    parts = [f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>隐私说明 · 原上管家</title>'
             f"<style>{STYLE}</style></head><body><h1>原上管家隐私说明</h1>"
             "<p>原上管家是秦创原总窗口的在线咨询和办事助手。本说明告诉您我们收集哪些个人信息、为什么收集、"
             "保存多久，以及您如何查阅、导出和删除。</p>"]
    for heading, paragraphs in notice.page_sections(settings):
        items = "".join(f"<li>{escape(p)}</li>" for p in paragraphs)
        parts.append(f"<h2>{escape(heading)}</h2><ul>{items}</ul>")
    parts.append('<p><a href="/">返回在线咨询</a></p></body></html>')
    return "".join(parts)


async def privacy_page(request: web.Request) -> web.Response:
    return web.Response(text=render(request.app.get(SETTINGS_KEY)), content_type="text/html", charset="utf-8",
                        headers=HEADERS)


async def privacy_notice(request: web.Request) -> web.Response:
    settings = request.app.get(SETTINGS_KEY)
    return web.json_response({"notice": notice.chat_notice(settings), "url": notice.PRIVACY_PATH},
                             headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
                             dumps=lambda d: json.dumps(d, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app.router.add_get(notice.PRIVACY_PATH, privacy_page)
    app.router.add_get("/api/privacy/notice", privacy_notice)
