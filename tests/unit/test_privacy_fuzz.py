"""Fuzz of the new endpoints: POST /api/chat/end, GET /privacy and /api/privacy/notice, the console's
/console/admin/privacy forms — never a 5xx, every refusal in Chinese, a live key never ended by junk."""

from __future__ import annotations

import json
import re

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from bot.staff import accounts
from tests.unit.fuzz_helpers import FUZZ, assert_sane, desk, json_values, qs, query_params, short_texts, texts  # noqa: F401 - the fixture desk

pytestmark = [pytest.mark.desk, pytest.mark.slow]

PASSWORD = "Qcy-privacy-fuzz-2026"


def alive(desk, cid: str, key: str) -> bool:
    r = desk.request("GET", f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})
    return r.status_code == 200


@FUZZ
@given(body=json_values, key=st.none() | short_texts | st.just("KEY"), cid=st.none() | short_texts | st.just("CID"))
def test_arbitrary_requests_to_end_session(desk, body, key, cid):
    mine, my_key = desk.session()
    if isinstance(body, dict) and cid is not None:
        body = {**body, "conversation_id": mine if cid == "CID" else cid}
    headers = {"Content-Type": "application/json"}
    if key is not None:
        value = my_key if key == "KEY" else key
        if value.isascii() and value.isprintable() and value.strip() == value:  # what an HTTP client can send
            headers["X-Chat-Key"] = value
    r = desk.request("POST", "/api/chat/end", data=json.dumps(body).encode(), headers=headers)
    assert_sane(r)
    ended = r.status_code == 200
    assert ended == (
        headers.get("X-Chat-Key") == my_key and isinstance(body, dict) and body.get("conversation_id") == mine
    )
    assert alive(desk, mine, my_key) == (not ended)


@FUZZ
@given(body=st.binary(max_size=500))
def test_arbitrary_bytes_to_end_session(desk, body):
    cid, key = desk.session()
    r = desk.request(
        "POST", "/api/chat/end", data=body, headers={"X-Chat-Key": key, "Content-Type": "application/json"}
    )
    assert_sane(r)
    if r.status_code != 200:
        assert alive(desk, cid, key)


@FUZZ
@given(params=query_params, path=st.sampled_from(["/privacy", "/api/privacy/notice"]))
def test_the_privacy_pages_take_any_query(desk, params, path):
    r = desk.request("GET", path + qs(params))
    assert_sane(r)
    assert r.status_code in (200, 400)  # 400: a NUL or undecodable query (the desk's own rule)
    if r.status_code == 200:
        assert "隐私" in r.text or "notice" in r.text


@FUZZ
@given(
    mobile=st.none() | texts,
    conversation=st.none() | texts,
    confirm=st.none() | short_texts,
    action=st.sampled_from(["export", "erase"]),
)
def test_the_admin_privacy_forms_take_any_input(desk, mobile, conversation, confirm, action):
    from bot.desk.keys import SETTINGS_KEY

    db = desk.app[SETTINGS_KEY].effective_database_url
    if not any(s.username == "fuzzadmin" for s in accounts.list_staff(db)):
        accounts.create_staff(db, "fuzzadmin", "管理员", "centre", "admin", PASSWORD)
    b = requests.Session()
    page = b.get(desk.url + "/console/login", timeout=15).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    b.post(
        desk.url + "/console/login",
        data={"username": "fuzzadmin", "password": PASSWORD, "csrf_token": token, "next": "/console/"},
        timeout=15,
        allow_redirects=False,
    )
    page = b.get(desk.url + "/console/admin/privacy", timeout=15).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    form = {"csrf_token": token}
    for name, value in (("mobile", mobile), ("conversation", conversation), ("confirm", confirm)):
        if value is not None:
            form[name] = value.encode("utf-8", "surrogatepass")
    r = b.post(f"{desk.url}/console/admin/privacy/{action}", data=form, timeout=15, allow_redirects=False)
    assert_sane(r)
    assert r.status_code in (200, 303, 400), r.status_code
