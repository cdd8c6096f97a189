"""Knowledge editing in a real browser, with the real action server: a question the assistant cannot answer
shows up among the unanswered questions; a member of staff (on a 390 px phone) starts a draft from it, fills
in the entry, sees the check pass, the reply as the chat will show it and the logged question it would now
answer, and submits it; the centre's lead approves it in a second browser; the file is written to the
temporary knowledge directory and the running action server answers the question from it — no restart.

The action server runs as its own process (bot.tooling.stack, KNOWLEDGE_DIR = a copy of knowledge/); the desk
runs in this process on the same database and knowledge directory (its health check would wait for Rasa,
which this test does not need). Nothing is written to the repository's knowledge/.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from bot.staff.accounts import create_staff

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Knowledge-e2e-2026"
QUESTION = "企业食堂卫生许可证怎么办"
ANSWER = "单位食堂对内供餐，需按规定取得食品经营许可，办理条件和所需材料以西咸新区市场监督管理部门的现行规定为准。"


def ask(settings, text: str) -> str:
    """One question through the action server, as Rasa would call it after a fallback."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}]
    payload = {
        "next_action": "action_nlu_fallback",
        "sender_id": f"kb-e2e-{uuid.uuid4().hex[:8]}",
        "tracker": {
            "sender_id": "x",
            "slots": {},
            "events": [
                {"event": "user", "text": text, "parse_data": {"intent": ranking[0], "intent_ranking": ranking}}
            ],
            "latest_message": {"text": text, "intent": ranking[0], "intent_ranking": ranking},
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
    }
    r = requests.post(
        f"{settings.actions_url}/webhook", params={"token": settings.actions_token}, json=payload, timeout=120
    )
    r.raise_for_status()
    return "\n".join(m.get("text") or "" for m in r.json()["responses"])


class DeskThread:
    """The desk app served from a thread of this process on a free port."""

    def __init__(self, settings):
        from bot.desk.app import create_app

        self.app = create_app(settings)
        self.port = settings.desk_port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(60)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    from bot.tooling.stack import local_settings, start_instance

    kdir = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(ROOT / "knowledge", kdir, ignore=shutil.ignore_patterns(".reload"))
    settings = local_settings(tmp_path_factory.mktemp("var"), token="kb-e2e", knowledge_dir=kdir)
    try:
        inst = start_instance(settings, None, roles=("actions",))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield settings, kdir
    finally:
        inst.stop()


def login(page, desk, username):
    page.goto(f"{desk}/console/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/console/$"))


def test_a_draft_from_an_unanswered_question_is_approved_and_the_action_server_answers_it(system, browser, monkeypatch):
    settings, kdir = system
    db = settings.effective_database_url
    assert ANSWER not in ask(settings, QUESTION)  # logged as unanswered by the action server
    create_staff(db, "kbli", "李明", "centre", "staff", PASSWORD)
    create_staff(db, "kbwang", "王芳", "centre", "lead", PASSWORD)

    with DeskThread(dataclasses.replace(settings, desk_scheduler=False)) as desk:
        phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        wide = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
        try:
            for ctx in (phone, wide):
                ctx.set_default_timeout(90_000)  # a draft's preview fits a retriever: seconds on a busy machine
            page = phone.new_page()
            login(page, desk, "kbli")
            page.click('header nav a[href="/console/knowledge"]')
            expect(page.locator("h1").first).to_contain_text("知识库")
            page.goto(f"{desk}/console/knowledge/gaps")
            group = page.locator(".kb-gap").filter(has_text=QUESTION).first
            expect(group).to_contain_text("未解答 1")
            group.locator('input[name="entry_id"]').fill("canteen-food-license")
            group.locator('button:has-text("据此起草")').click()
            expect(page).to_have_url(re.compile(r"/console/knowledge/drafts/\d+$"))
            expect(page.locator('textarea[name="faq-0-variants"]')).to_have_value("")
            expect(page.locator('input[name="faq-0-question"]')).to_have_value(QUESTION)
            expect(page.locator(".kb-check")).to_contain_text("校验未通过")  # the blank fields are named

            page.fill('input[name="title"]', "单位食堂食品经营许可")
            page.fill('input[name="issuer"]', "秦创原总窗口")
            page.fill('textarea[name="source"]', "以西咸新区市场监督管理部门的现行规定为准")
            page.check('input[name="categories"][value="need_permits"]')
            page.fill('input[name="faq-0-id"]', "canteen-food-license-apply")
            page.fill('textarea[name="faq-0-variants"]', "食堂食品经营许可证怎么申请\n单位食堂要办什么许可证")
            page.fill('textarea[name="faq-0-answer"]', ANSWER)
            page.fill('input[name="faq-0-next_step"]', "可以在这里登记需求，由服务专员帮您对接市场监管部门。")
            page.click("#kb-save")
            expect(page.locator(".flash.ok").first).to_contain_text("草稿已保存")
            expect(page.locator(".kb-check")).to_contain_text("校验通过")
            bubble = page.locator(".kb-preview .msg.bot .text").first
            expect(bubble).to_contain_text(ANSWER)  # as the chat will show it
            expect(bubble).to_contain_text("下一步：可以在这里登记需求")
            expect(page.locator(".kb-matches")).to_contain_text(QUESTION)  # the logged question it answers
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390 + 2, width  # no sideways page at 390 px
            page.click("#kb-submit")
            expect(page.locator(".flash.ok").first).to_contain_text("已提交审核")
            expect(page.locator("#kb-no-approve")).to_be_visible()  # plain staff: no approve button
            draft_url = page.url.split("?")[0]

            review = wide.new_page()
            login(review, desk, "kbwang")
            review.goto(f"{desk}/console/knowledge")
            review.locator("section", has_text="待审核").locator(f'a[href="{draft_url.removeprefix(desk)}"]').click()
            expect(review.locator(".kb-preview .msg.bot .text").first).to_contain_text(ANSWER)
            review.fill('#kb-approve-form input[name="comment"]', "核对无误")
            review.click("#kb-approve")
            expect(review.locator(".flash.ok").first).to_contain_text("已审核通过并发布为第 1 版")
            published = kdir / "entries" / "canteen-food-license.yml"
            assert published.exists() and "canteen-food-license-apply" in published.read_text(encoding="utf-8")
            assert not (ROOT / "knowledge" / "entries" / "canteen-food-license.yml").exists()

            review.goto(f"{desk}/console/knowledge/entries/canteen-food-license")
            expect(review.locator(".kb-versions")).to_contain_text("第 1 版")
            expect(review.locator(".kb-versions")).to_contain_text("李明")
            expect(review.locator(".kb-versions")).to_contain_text("王芳")
        finally:
            phone.close()
            wide.close()

    # the running action server reloads (in the background, at its next questions) and answers from the file
    deadline = time.monotonic() + 120
    reply = ""
    while time.monotonic() < deadline:
        reply = ask(settings, QUESTION)
        if ANSWER in reply:
            break
        time.sleep(2)
    assert ANSWER in reply, reply
