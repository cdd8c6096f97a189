"""The desk's static files (aiohttp's static routes for /chat/ and /console/static/, embed.js a file): the same
URLs, content types and headers as the hand-written handlers they replace, and nothing outside their folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.desk_helpers import desk_client

pytestmark = pytest.mark.desk

DESK = Path(__file__).resolve().parents[2] / "bot" / "desk"


@pytest.fixture
async def client(db_url, tmp_path):
    async with desk_client(db_url, tmp_path) as c:
        yield c


@pytest.mark.parametrize(
    "path,ctype,file",
    [
        ("/chat/chat.js", "application/javascript; charset=utf-8", "static/chat/chat.js"),
        ("/chat/chat.css", "text/css; charset=utf-8", "static/chat/chat.css"),
        ("/chat/privacy.css", "text/css; charset=utf-8", "static/chat/privacy.css"),
        ("/console/static/console.css", "text/css; charset=utf-8", "console/static/console.css"),
    ],
)
async def test_static_files_keep_their_urls_types_and_headers(client, path, ctype, file):
    r = await client.get(path)
    assert r.status == 200, path
    assert r.headers["Content-Type"] == ctype
    assert r.headers["Cache-Control"] == "no-cache" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert await r.read() == (DESK / file).read_bytes()
    again = await client.get(path, headers={"If-Modified-Since": r.headers["Last-Modified"]})
    assert again.status == 304  # revalidated, not downloaded again


async def test_console_static_files_carry_the_console_policy(client):
    r = await client.get("/console/static/console.css")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
    r = await client.get("/console/static/console.js", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/console/login")  # the script: signed in only


async def test_embed_js_is_the_file_served_cross_origin(client):
    r = await client.get("/embed.js")
    assert r.status == 200 and r.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert r.headers["Cache-Control"] == "max-age=300"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"
    body = await r.read()
    assert body == (DESK / "static" / "embed.js").read_bytes() and b"/?embed=1" in body


async def test_the_public_pages_load_their_styles_from_files(client):
    for path, css in (("/privacy", "/chat/privacy.css"), ("/figures", "/figures.css")):
        r = await client.get(path)
        page, csp = await r.text(), r.headers["Content-Security-Policy"]
        assert r.status == 200 and f'<link rel="stylesheet" href="{css}">' in page, path
        assert "<style" not in page and " style=" not in page and "<script" not in page, path
        assert "style-src 'self'" in csp and "unsafe-inline" not in csp and "script-src" not in csp, path
        assert (await client.get(css)).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/chat/chat.html",
        "/chat/",
        "/chat/../static/chat.html",
        "/chat/embed.js",
        "/chat/%2e%2e/app.py",
        "/console/static/",
    ],
)
async def test_only_the_files_of_the_folder_are_served(client, path):
    r = await client.get(path, allow_redirects=False)
    assert r.status in (302, 403, 404), (path, r.status)
    assert "import " not in await r.text()
