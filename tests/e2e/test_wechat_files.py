"""Images and files from WeChat (Official Account) and WeCom, fetched through the media API of a local stand-in
for WeChat's server, stored as files of the conversation (never sent to Rasa); an unreachable media API, a
token error, an oversized or disguised file are each answered to the user; staff files go back out through
media upload + send. wechatpy encrypts what the desk receives and decrypts what it answers."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from wechatpy import parse_message
from wechatpy.enterprise import parse_message as parse_work_message

from bot import handover as ho
from bot.db import read_sessions
from bot.db.schema import Attachment, Message
from bot.desk import wechat
from bot.desk.app import create_app
from bot.desk.files import push_file
from bot.settings import Settings
from bot.staff import accounts as cli
from tests.settings_env import with_env
from tests.unit.desk_helpers import PASSWORD, Browser
from tests.unit.files_helpers import PDF, png
from tests.unit.wechat_helpers import (
    MP_APPID,
    MP_GH,
    OPENID,
    WC_AGENT,
    WC_CORP,
    Desk,
    FakeInbound,
    Mp,
    StandInApi,
    Work,
    msg_ids,
)

JPEG_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x11" * 300 + b"\xff\xd9"


class MediaApi(StandInApi):
    """The stand-in plus /cgi-bin/media/get and /cgi-bin/media/upload."""

    def __init__(self) -> None:
        super().__init__()
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_gets: list[str] = []
        self.media_errors: list = []  # errcodes (JSON answers) or "down" (HTTP 502)
        self.uploads: list[tuple[str, str, bytes]] = []
        self.app.router.add_get("/cgi-bin/media/get", self.get_media)
        self.app.router.add_post("/cgi-bin/media/upload", self.upload)

    async def get_media(self, request: web.Request) -> web.StreamResponse:
        self.media_gets.append(request.query.get("media_id", ""))
        if self.media_errors:
            err = self.media_errors.pop(0)
            if err == "down":
                return web.Response(status=502, text="bad gateway")
            if err == 40001:
                self.tokens = set()
            return web.json_response({"errcode": err, "errmsg": f"error {err}"})
        if request.query.get("access_token") not in self.tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        item = self.media.get(request.query.get("media_id", ""))
        if item is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        data, name = item
        return web.Response(
            body=data,
            content_type="image/jpeg" if name.endswith(".jpg") else "application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def upload(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self.tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        form = await request.post()
        f = form["media"]
        self.uploads.append((request.query["type"], f.filename, f.file.read()))
        return web.json_response(
            {"type": request.query["type"], "media_id": f"MEDIA-{len(self.uploads)}", "created_at": 1}
        )


@pytest.fixture
async def desk(monkeypatch, tmp_path, sqlite_url):
    api = MediaApi()
    api_server = TestServer(api.app)
    await api_server.start_server()
    base = str(api_server.make_url("")).rstrip("/")
    from tests.unit.wechat_helpers import MP_KEY, MP_TOKEN, WC_KEY, WC_TOKEN

    settings = Settings(
        var_dir=tmp_path,
        database_url=sqlite_url,
        rasa_port=9,
        actions_port=9,
        file_max_image_bytes=100_000,
        file_max_document_bytes=200_000,
    )
    app = create_app(
        with_env(
            settings,
            WECHAT_MP_TOKEN=MP_TOKEN,
            WECHAT_MP_AES_KEY=MP_KEY,
            WECHAT_MP_APPID=MP_APPID,
            WECHAT_MP_SECRET="mpsecret",
            WECHAT_API_BASE=base,
            WECOM_TOKEN=WC_TOKEN,
            WECOM_AES_KEY=WC_KEY,
            WECOM_CORPID=WC_CORP,
            WECOM_SECRET="wcsecret",
            WECOM_AGENT_ID=WC_AGENT,
            WECOM_API_BASE=base,
            WECHAT_REPLY_BUDGET="4.0",
            DESK_SCHEDULER="0",
        )
    )
    inbound = FakeInbound()
    app[wechat.INBOUND_KEY] = inbound
    client = TestClient(TestServer(app))
    await client.start_server()
    yield Desk(client, app, inbound, api, Mp(), Work())
    await client.close()
    await api_server.close()


def media_xml(
    kind: str,
    media_id: str,
    user: str = OPENID,
    to: str = MP_GH,
    agent: str | None = None,
    msg_id: int | None = None,
    file_name: str = "",
) -> str:
    extra = "<PicUrl><![CDATA[http://mmbiz.example/x]]></PicUrl>" if kind == "image" else ""
    if file_name:
        extra += f"<FileName><![CDATA[{file_name}]]></FileName>"
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>1764720000</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{extra}"
        f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id or next(msg_ids)}</MsgId>"
        + (f"<AgentID>{agent}</AgentID>" if agent else "")
        + "</xml>"
    )


async def mp_send(desk, inner: str) -> str:
    r = await desk.post_mp(*desk.mp.safe(inner))
    assert r.status == 200
    return parse_message(desk.mp.open_reply(await r.text())).content


def files_of(db: str, conv: str) -> list[Attachment]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(Attachment).where(Attachment.conversation_id == conv).order_by(Attachment.id)))


def db_of(desk) -> str:
    return desk.app[wechat.channel.SETTINGS_KEY].effective_database_url


async def test_an_official_account_photo_is_fetched_stored_and_never_reaches_rasa(desk):
    desk.api.media["PHOTO-1"] = (JPEG_PHOTO, "8c3f1a.jpg")
    answer = await mp_send(desk, media_xml("image", "PHOTO-1"))
    assert "已收到您发送的图片" in answer and "1. 转人工" in answer  # the button as a numbered option
    assert desk.inbound.calls == []  # not through Rasa's gateway
    [a] = files_of(db_of(desk), f"wxmp:{OPENID}")
    assert (a.kind, a.mime, a.size, a.channel, a.name) == (
        "image",
        "image/jpeg",
        len(JPEG_PHOTO),
        "wechat_mp",
        "8c3f1a.jpg",
    )
    with read_sessions(db_of(desk))() as s:
        m = s.get(Message, a.message_id)
        assert m.text == "[图片] 8c3f1a.jpg" and m.direction == "in" and m.state == "answered"
    assert desk.api.media_gets == ["PHOTO-1"]


async def test_retries_of_one_message_fetch_the_media_once(desk):
    desk.api.media["PHOTO-2"] = (JPEG_PHOTO, "a.jpg")
    inner = media_xml("image", "PHOTO-2", msg_id=424242)
    first = await mp_send(desk, inner)
    again = await mp_send(desk, inner)  # WeChat's retry, same MsgId
    assert first == again and desk.api.media_gets == ["PHOTO-2"]
    assert len(files_of(db_of(desk), f"wxmp:{OPENID}")) == 1


async def test_a_wecom_file_keeps_its_name_and_is_checked_by_content(desk):
    desk.api.media["FILE-1"] = (PDF, "营业执照.pdf")
    params, body = desk.work.message(media_xml("file", "FILE-1", user="zhang.san", to=WC_CORP, agent=WC_AGENT))
    r = await desk.post_work(params, body)
    reply = parse_work_message(desk.work.open_reply(await r.text()))
    assert "已收到您发送的文件「营业执照.pdf」" in reply.content
    [a] = files_of(db_of(desk), "wecom:zhang.san")
    assert (a.name, a.mime, a.channel) == ("营业执照.pdf", "application/pdf", "wecom")

    desk.api.media["FILE-2"] = (b"MZ\x90\x00" + b"\x00" * 300, "发票.pdf")  # a program calling itself a PDF
    params, body = desk.work.message(media_xml("file", "FILE-2", user="zhang.san", to=WC_CORP, agent=WC_AGENT))
    reply = parse_work_message(desk.work.open_reply(await (await desk.post_work(params, body)).text()))
    assert "可执行程序" in reply.content
    assert len(files_of(db_of(desk), "wecom:zhang.san")) == 1


async def test_an_unreachable_media_api_asks_the_user_to_resend_and_tells_staff(desk):
    desk.api.media["PHOTO-3"] = (JPEG_PHOTO, "a.jpg")
    await mp_send(desk, media_xml("image", "PHOTO-3"))  # the conversation exists now
    desk.api.media["PHOTO-4"] = (JPEG_PHOTO, "b.jpg")
    desk.api.media_errors = ["down"]
    answer = await mp_send(desk, media_xml("image", "PHOTO-4"))
    assert "没能接收" in answer and "重新发送" in answer
    assert len(files_of(db_of(desk), f"wxmp:{OPENID}")) == 1
    with read_sessions(db_of(desk))() as s:
        notes = [
            m.text
            for m in s.scalars(
                select(Message).where(Message.conversation_id == f"wxmp:{OPENID}", Message.internal.is_(True))
            )
        ]
    assert any("未能接收" in n and "已请用户重新发送" in n for n in notes)
    assert desk.channel("wechat_mp").stats["media_failed"] == 1

    desk.api.media_errors = [40001]  # a revoked token: fetched again, then it works
    answer = await mp_send(desk, media_xml("image", "PHOTO-4"))
    assert "已收到您发送的图片" in answer and len(files_of(db_of(desk), f"wxmp:{OPENID}")) == 2


async def test_oversized_media_is_refused_while_reading(desk):
    desk.api.media["BIG"] = (PDF + b"%" * 300_000, "大.pdf")
    params, body = desk.work.message(media_xml("file", "BIG", user="li.si", to=WC_CORP, agent=WC_AGENT))
    reply = parse_work_message(desk.work.open_reply(await (await desk.post_work(params, body)).text()))
    assert "过大" in reply.content and files_of(db_of(desk), "wecom:li.si") == []


async def test_a_new_user_whose_first_photo_fails_is_told_and_nothing_half_stored(desk):
    desk.api.media_errors = [40007]
    answer = await mp_send(desk, media_xml("image", "GONE", user="oNewUser0000000000000000000"))
    assert "重新发送" in answer
    with read_sessions(db_of(desk))() as s:
        assert (
            s.scalars(select(Message).where(Message.conversation_id == "wxmp:oNewUser0000000000000000000")).first()
            is None
        )


async def test_staff_files_go_out_through_media_upload(desk):
    desk.api.media["FILE-9"] = (PDF, "申请表.pdf")
    params, body = desk.work.message(media_xml("file", "FILE-9", user="wang.wu", to=WC_CORP, agent=WC_AGENT))
    await desk.post_work(params, body)
    assert await push_file(desk.app, "wecom", "wecom:wang.wu", PDF, "回执.pdf", "document")
    assert await push_file(desk.app, "wecom", "wecom:wang.wu", png(), "照片.png", "image")
    assert [(t, n) for t, n, _ in desk.api.uploads] == [("file", "回执.pdf"), ("image", "照片.png")]
    sent = [body for path, body in desk.api.sends if path == "/cgi-bin/message/send"]
    assert [(b["msgtype"], b[b["msgtype"]]["media_id"], b["touser"]) for b in sent] == [
        ("file", "MEDIA-1", "wang.wu"),
        ("image", "MEDIA-2", "wang.wu"),
    ]

    assert await push_file(desk.app, "wechat_mp", f"wxmp:{OPENID}", png(), "照片.png", "image")
    assert desk.api.sends[-1][1]["msgtype"] == "image"
    desk.api.media["PHOTO-6"] = (JPEG_PHOTO, "c.jpg")
    await mp_send(desk, media_xml("image", "PHOTO-6"))  # the conversation exists
    assert not await push_file(desk.app, "wechat_mp", f"wxmp:{OPENID}", PDF, "回执.pdf", "document")
    with read_sessions(db_of(desk))() as s:
        notes = [
            m.text
            for m in s.scalars(
                select(Message).where(Message.conversation_id == f"wxmp:{OPENID}", Message.internal.is_(True))
            )
        ]
    assert any("只能发送图片" in n for n in notes)  # staff are told why


async def test_staff_are_told_when_a_document_cannot_reach_an_official_account_user(desk):
    desk.api.media["PHOTO-7"] = (JPEG_PHOTO, "d.jpg")
    await mp_send(desk, media_xml("image", "PHOTO-7"))
    conv, db = f"wxmp:{OPENID}", db_of(desk)
    info = ho.start_handover(db, conv, "request_human", channel="wechat_mp", node_id="fengxi")
    li = cli.create_staff(db, "li", "李明", "fengxi", "staff", PASSWORD)
    ho.claim(db, info.id, li)
    b = Browser(desk.client)
    assert (await b.login("li")).status == 302

    async def send(data, name):
        page = await (await desk.client.get(f"/console/conversations/{conv}")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = aiohttp.FormData()
        form.add_field("csrf_token", token)
        form.add_field("handover_id", str(info.id))
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        return await desk.client.post(f"/console/conversations/{conv}/files", data=form, allow_redirects=False)

    r = await send(png(), "照片.png")
    assert r.status == 303 and desk.api.sends[-1][1]["msgtype"] == "image"  # an image goes out
    r = await send(PDF, "回执.pdf")
    assert r.status == 502 and "未能送达企业" in await r.text()  # a document cannot
    with read_sessions(db)() as s:
        notes = [
            m.text
            for m in s.scalars(select(Message).where(Message.conversation_id == conv, Message.internal.is_(True)))
        ]
    assert any("只能发送图片" in n for n in notes)
