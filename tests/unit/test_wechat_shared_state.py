"""Two desk instances behind one WeChat account share what a callback leaves behind (REDIS_URL):
the numbered options a user answers with "2", and the nonces that catch a replayed callback."""

from __future__ import annotations

import dataclasses

import pytest
from wechatpy import parse_message

from bot.desk import wechat
from tests.unit.wechat_helpers import Mp, config_of, start_desk, text_xml

pytestmark = pytest.mark.desk

BUTTONS = [
    {
        "text": "您想了解哪一项？",
        "buttons": [
            {"title": "高企认定条件", "payload": '/ask_policy{"topic":"hnte"}'},
            {"title": "研发费用加计扣除", "payload": '/ask_policy{"topic":"rd"}'},
        ],
    }
]


@pytest.fixture
async def two_desks(monkeypatch, tmp_path, sqlite_url, redis_url):
    desks, closers = [], []
    for i in range(2):
        d, c = await start_desk(
            monkeypatch, tmp_path / f"d{i}", sqlite_url, redis_url=redis_url.url, redis_prefix=redis_url.prefix
        )
        desks.append(d)
        closers += c
    yield desks
    for c in closers:
        await c.close()


async def test_a_number_answers_the_options_shown_by_the_other_desk(two_desks):
    a, b = two_desks
    a.inbound.replies = BUTTONS
    r = await a.post_mp(*Mp().plain(text_xml("想了解政策")))
    assert "1. 高企认定条件" in parse_message(await r.text()).content
    b.inbound.replies = [{"text": "好的"}]
    r = await b.post_mp(*Mp().plain(text_xml("２"), nonce="n2"))  # full-width, on the other desk
    assert r.status == 200
    assert b.inbound.calls[-1][1] == '/ask_policy{"topic":"rd"}' and b.inbound.titles[-1] == "研发费用加计扣除"
    # Used once: a second "2" is just text again.
    await a.post_mp(*Mp().plain(text_xml("2"), nonce="n3"))
    assert a.inbound.calls[-1][1] == "2"


async def test_a_replay_with_another_body_is_refused_on_the_other_desk(two_desks):
    a, b = two_desks
    params, body = Mp().plain(text_xml("第一条"), nonce="same-nonce")
    assert (await a.post_mp(params, body)).status == 200
    assert (await b.post_mp(params, body)).status == 200  # WeChat's own retry
    forged = text_xml("伪造的内容")
    assert (await b.post_mp(params, forged)).status == 403


async def test_redis_down_degrades_instead_of_failing(monkeypatch, tmp_path, sqlite_url):
    from bot.runtime.supervisor import free_port

    d, closers = await start_desk(
        monkeypatch, tmp_path, sqlite_url, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_prefix="ysdown"
    )
    try:
        d.inbound.replies = BUTTONS
        r = await d.post_mp(*Mp().plain(text_xml("想了解政策")))
        assert r.status == 200 and "高企认定条件" in parse_message(await r.text()).content
        r = await d.post_mp(*Mp().plain(text_xml("2"), nonce="n9"))
        assert r.status == 200 and d.inbound.calls[-1][1] == "2"  # passed on as typed: the bot asks again
        assert isinstance(d.channel("wechat_mp").state, wechat.state.RedisState)
    finally:
        for c in closers:
            await c.close()


def test_the_state_is_in_process_without_redis(tmp_path):
    from bot.desk.app import create_app
    from bot.desk.wechat.state import InProcessState
    from bot.settings import Settings

    cfg = config_of({"WECHAT_MP_TOKEN": "t", "WECHAT_MP_APPID": "wx1"})
    app = create_app(dataclasses.replace(Settings(), var_dir=tmp_path))
    ch = wechat.mp.OfficialAccount(app, cfg.mp, cfg)
    assert isinstance(ch.state, InProcessState)
