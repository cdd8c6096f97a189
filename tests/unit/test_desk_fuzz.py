"""Property tests of the desk's public HTTP endpoints with arbitrary input (hypothesis).

A real desk app (real SQLite database, WeChat Official Account on in plain and safe mode)
serves on a free port in its own thread and event loop; the tests talk HTTP to it like
any client. Rasa is a closed port, so a chat message is stored and left pending (the
user is told a reply will follow) — that is the behaviour under test, not a shortcut.

Properties, for arbitrary JSON, bytes, text, query strings and forms on every public
endpoint: the desk never answers 5xx, always answers within the timeout, and its errors
are in Chinese; a message it accepts is stored and read back exactly as sent.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from bot.desk import gateway
from tests.unit.fuzz_helpers import FUZZ, MP_TOKEN, TIMEOUT, assert_sane, desk, json_values, qs, query_params, texts  # noqa: F401 - the fixture desk

pytestmark = [pytest.mark.desk, pytest.mark.slow]


@pytest.fixture(scope="module")
def conversation(desk):
    return desk.session()


# ---- web chat ----------------------------------------------------------------------------------


def acceptable(text) -> bool:
    if not isinstance(text, str) or not text.strip() or len(text) > gateway.MAX_TEXT or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@FUZZ
@given(text=texts, title=st.none() | texts)
def test_a_message_is_stored_exactly_or_refused_in_chinese(desk, conversation, text, title):
    cid, key = conversation
    body = json.dumps({"conversation_id": cid, "text": text, "title": title}, ensure_ascii=True)
    r = desk.request(
        "POST", "/api/chat/message", data=body.encode(), headers={"X-Chat-Key": key, "Content-Type": "application/json"}
    )
    assert_sane(r)
    text = json.loads(body)["text"]  # what the desk received ("\ud800\udc00" in JSON is one character)
    if not acceptable(text):
        assert r.status_code == 400
        return
    assert r.status_code == 200, r.text[:300]
    sent = r.json()["message"]
    assert sent["text"] == text and sent["direction"] == "in"
    history = desk.request(
        "GET",
        "/api/chat/history",
        params={"conversation_id": cid, "after": sent["id"] - 1},
        headers={"X-Chat-Key": key},
    )
    assert history.status_code == 200
    stored = history.json()["messages"][0]
    assert stored["id"] == sent["id"] and stored["text"] == text


@FUZZ
@given(body=json_values, with_key=st.booleans())
def test_arbitrary_json_to_the_message_endpoint(desk, conversation, body, with_key):
    cid, key = conversation
    if isinstance(body, dict) and with_key:
        body = {"conversation_id": cid, **body}
    try:
        data = json.dumps(body, ensure_ascii=True, allow_nan=True).encode()
    except (ValueError, TypeError):
        return
    r = desk.request("POST", "/api/chat/message", data=data, headers={"X-Chat-Key": key if with_key else "x"})
    assert_sane(r)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    path=st.sampled_from(["/api/chat/message", "/api/chat/session"]),
    ctype=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/octet-stream",
        ]
    ),
)
def test_arbitrary_bytes_to_the_chat_api(desk, conversation, body, path, ctype):
    r = desk.request("POST", path, data=body, headers={"X-Chat-Key": conversation[1], "Content-Type": ctype})
    assert_sane(r)


@FUZZ
@given(
    params=query_params,
    key=st.none()
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, blacklist_categories=["Cc", "Zs"]), max_size=80),
)
def test_history_with_arbitrary_query(desk, conversation, params, key):
    cid, real_key = conversation
    headers = {"X-Chat-Key": key.encode("latin-1").decode("latin-1")} if key is not None else {}
    r = desk.request("GET", "/api/chat/history" + qs(params), headers=headers)
    assert_sane(r)
    assert r.status_code in (400, 403)  # never someone's messages without the key
    r = desk.request(
        "GET", "/api/chat/history" + qs({**params, "conversation_id": cid}), headers={"X-Chat-Key": real_key}
    )
    assert_sane(r)


@FUZZ
@given(path=st.text(max_size=40), method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
def test_arbitrary_paths_and_methods(desk, path, method):
    r = desk.request(method, "/" + requests.utils.quote(path.encode("utf-8", "surrogatepass"), safe="/%?=&."))
    assert_sane(r)


# ---- WeChat ------------------------------------------------------------------------------------


def _sign(*parts: str) -> str:
    import hashlib

    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@FUZZ
@given(
    params=query_params,
    body=st.binary(max_size=3000) | texts.map(lambda t: t.encode("utf-8", "replace")),
    method=st.sampled_from(["GET", "POST"]),
)
def test_wechat_callback_with_arbitrary_query_and_body(desk, params, body, method):
    r = desk.request(method, "/wechat/mp" + qs(params), data=body)
    assert_sane(r)
    if method == "POST":
        assert r.status_code >= 400  # nothing unsigned is accepted


@FUZZ
@given(content=texts, user=st.text(max_size=70), kind=st.sampled_from(["text", "event", "image", "voice", ""]))
def test_signed_wechat_messages_with_arbitrary_content(desk, content, user, kind):
    """Correctly signed (plain mode) but arbitrary: answered 200 (a reply or "success") or a Chinese 4xx."""
    ts, nonce = str(int(time.time())), f"n{time.monotonic_ns()}"
    safe = content.encode("utf-8", "replace").decode("utf-8").replace("]]>", "")
    xml = (
        f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{user.replace(']]>', '')}]]>"
        f"</FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
        f"<Content><![CDATA[{safe}]]></Content><Event><![CDATA[{safe[:20]}]]></Event>"
        f"<MsgId>{time.monotonic_ns()}</MsgId></xml>"
    )
    params = {"signature": _sign(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    r = desk.request("POST", "/wechat/mp", params=params, data=xml.encode("utf-8", "replace"))
    assert_sane(r)
    assert r.status_code in (200, 400, 403, 413)


# ---- console -----------------------------------------------------------------------------------


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["username", "password", "csrf_token", "next"]) | st.text(max_size=8), texts, max_size=5
    ),
    multipart=st.booleans(),
)
@example(form={";": "你好"}, multipart=True)  # a part without a name: aiohttp asserts (was a 500)
@example(form={"password": "密" * 30000}, multipart=True)  # over 64 KB: a Chinese 413, not aiohttp's English one
def test_console_login_with_arbitrary_forms(desk, form, multipart):
    s = requests.Session()
    page = s.get(desk.url + "/console/login", timeout=TIMEOUT)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {
        k: v.encode("utf-8", "surrogatepass")
        for k, v in {"csrf_token": token, **form}.items()
        if k.encode("utf-8", "replace")
    }
    if multipart:
        r = s.post(
            desk.url + "/console/login",
            files={k: (None, v) for k, v in form.items()},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    else:
        r = s.post(desk.url + "/console/login", data=form, timeout=TIMEOUT, allow_redirects=False)
    assert_sane(r)
    assert r.status_code in (400, 401, 403, 413, 429)  # never signed in (413: form over 64 KB, 429: throttled)


@FUZZ
@given(path=st.text(max_size=30), params=query_params)
def test_console_without_a_session_never_shows_data(desk, path, params):
    r = desk.request(
        "GET", "/console/" + requests.utils.quote(path.encode("utf-8", "surrogatepass"), safe="/") + qs(params)
    )
    assert_sane(r)
    assert r.status_code in (302, 400, 401, 404)
    if r.status_code == 302:
        assert r.headers["Location"].startswith("/console/login")
