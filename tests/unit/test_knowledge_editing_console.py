"""知识库 pages of the console on a real desk app and database (SQLite and PostgreSQL) with a temporary copy of
knowledge/: roles (plain staff drafts but cannot approve, nobody approves their own draft, a workstation lead
cannot publish for the whole network), CSRF on every POST, the conflict shown with both texts, the gaps page
for whole-network staff only, and the audit of each step."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from multidict import MultiDict

from bot.knowledge import drafts as dr
from bot.knowledge import editing as ed
from bot.knowledge.log import record_question
from tests.unit.desk_helpers import TestDesk, add_staff, audit

pytestmark = [pytest.mark.desk, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(ROOT / "knowledge", target, ignore=shutil.ignore_patterns(".reload"))
    return target


@pytest.fixture
async def desk(db_url, tmp_path, base_copy):
    kdir = tmp_path / "knowledge"
    shutil.copytree(base_copy, kdir)
    d = TestDesk(db_url, tmp_path, knowledge_dir=kdir)
    d.kdir = kdir
    add_staff(d.db, "li", "李明", "fengxi")  # a workstation's staff
    add_staff(d.db, "zhou", "周强", "centre")  # centre staff: whole network
    add_staff(d.db, "chen", "陈静", "fengxi", "lead")  # a node's lead
    add_staff(d.db, "wang", "王芳", "centre", "lead")  # the centre's lead
    yield d
    await d.close()


async def signed_in(desk, username):
    b = await desk.browser()
    assert (await b.login(username)).status == 302
    return b


async def post_form(b, path, pairs):
    token = await b.csrf()
    data = MultiDict([*pairs, ("csrf_token", token)])
    return await b.client.post(path, data=data, allow_redirects=False)


def editor_pairs(html: str) -> list[tuple[str, str]]:
    """The editor form's fields as the browser would post them."""
    form = html[html.index('id="kb-editor"') : html.index("</form>", html.index('id="kb-editor"'))]
    import html as h

    pairs = []
    for m in re.finditer(r'<input type="(text|hidden)" name="([^"]+)" value="([^"]*)"', form):
        pairs.append((m.group(2), h.unescape(m.group(3))))
    for m in re.finditer(r'<input name="([^"]+)" value="([^"]*)"', form):
        pairs.append((m.group(1), h.unescape(m.group(2))))
    for m in re.finditer(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        pairs.append((m.group(1), h.unescape(m.group(2))))
    for m in re.finditer(r'<select name="([^"]+)">.*?<option value="([^"]*)" selected', form, re.S):
        pairs.append((m.group(1), h.unescape(m.group(2))))
    for m in re.finditer(r'name="categories" value="([^"]+)" checked', form):
        pairs.append(("categories", m.group(1)))
    return [(k, v) for k, v in pairs if k != "csrf_token"]


def replace(pairs, name, value):
    return [(k, value if k == name else v) for k, v in pairs]


async def test_staff_draft_a_new_entry_and_the_centre_lead_publishes_it(desk):
    li, wang = await signed_in(desk, "li"), await signed_in(desk, "wang")
    index = await li.client.get("/console/knowledge")
    assert index.status == 200 and "知识库" in await index.text()
    assert (
        await li.post("/console/knowledge/drafts", {"entry_id": "talent-housing", "new": "1"}, token=False)
    ).status == 403
    r = await li.post("/console/knowledge/drafts", {"entry_id": "talent-housing", "new": "1"})
    assert r.status == 303
    url = r.headers["Location"]
    draft_id = int(url.rsplit("/", 1)[1])
    page = await (await li.client.get(url)).text()
    assert "校验未通过" in page and 'class="invalid"' in page  # a blank FAQ: fields named and marked
    pairs = editor_pairs(page)
    pairs = replace(pairs, "title", "人才住房补贴")
    pairs = replace(pairs, "issuer", "秦创原总窗口")
    pairs = replace(pairs, "source", "以西咸新区人才工作主管部门当年通知为准")
    pairs = replace(pairs, "faq-0-id", "talent-housing-how")
    pairs = replace(pairs, "faq-0-question", "人才住房补贴怎么申请？")
    pairs = replace(pairs, "faq-0-variants", "人才住房补贴去哪申请\n人才租房补贴在哪办")
    pairs = replace(
        pairs, "faq-0-answer", "人才住房补贴由西咸新区人才工作主管部门按当年通知受理，条件和标准以通知为准。"
    )
    pairs = replace(pairs, "faq-0-next_step", "可以在这里登记需求，由服务专员帮您核实当年的申请条件。")
    pairs.append(("categories", "need_talent_living"))
    saved = await post_form(li, f"/console/knowledge/drafts/{draft_id}/save", [*pairs, ("action", "submit")])
    assert saved.status == 303 and saved.headers["Location"].endswith("done=submitted")
    page = await (await li.client.get(saved.headers["Location"])).text()
    assert "待审核" in page and "只有综合服务中心的节点负责人或管理员" in page and 'id="kb-approve"' not in page
    assert "人才住房补贴由西咸新区" in page and "下一步：可以在这里登记需求" in page  # the chat preview
    assert "仅综合服务中心和管理员可见" in page  # questions: not for a workstation

    # the author cannot approve (refused before anything is written), nor can a plain member of staff
    revision = dr.get_draft(desk.db, draft_id).revision
    refused = await li.post(f"/console/knowledge/drafts/{draft_id}/approve", {"revision": str(revision)})
    assert refused.status == 403 and not (desk.kdir / "entries" / "talent-housing.yml").exists()
    chen = await signed_in(desk, "chen")
    refused = await chen.post(f"/console/knowledge/drafts/{draft_id}/approve", {"revision": str(revision)})
    assert refused.status == 403 and "仅限综合服务中心" in await refused.text()
    assert (
        await wang.post(f"/console/knowledge/drafts/{draft_id}/approve", {"revision": str(revision)}, token=False)
    ).status == 403  # CSRF
    assert not (desk.kdir / "entries" / "talent-housing.yml").exists()

    review = await (await wang.client.get(f"/console/knowledge/drafts/{draft_id}")).text()
    assert 'id="kb-approve"' in review
    done = await wang.post(
        f"/console/knowledge/drafts/{draft_id}/approve", {"revision": str(revision), "comment": "可以"}
    )
    assert done.status == 303 and done.headers["Location"].endswith("done=published")
    text = (desk.kdir / "entries" / "talent-housing.yml").read_text(encoding="utf-8")
    assert "talent-housing-how" in text and (desk.kdir / ".reload").exists()
    page = await (await wang.client.get(done.headers["Location"])).text()
    assert "已审核通过并发布为第 1 版" in page
    entry = await (await wang.client.get("/console/knowledge/entries/talent-housing")).text()
    assert "人才住房补贴" in entry and "第 1 版" in entry and "李明" in entry and "王芳" in entry
    vid = re.search(r'href="/console/knowledge/versions/(\d+)"', entry).group(1)
    version = await (await li.client.get(f"/console/knowledge/versions/{vid}")).text()
    assert "talent-housing 第 1 版" in version and '<span class="add">+id: talent-housing</span>' in version
    actions = [(a.actor, a.action) for a in audit(desk.db) if a.action.startswith("kb_") or a.action == "denied"]
    assert ("staff:li", "kb_draft_create") in actions and ("staff:li", "kb_draft_submit") in actions
    assert ("staff:wang", "kb_publish") in actions
    assert ("staff:li", "denied") in actions and ("staff:chen", "denied") in actions


async def test_a_second_save_on_a_stale_revision_shows_both_texts(desk):
    li, zhou = await signed_in(desk, "li"), await signed_in(desk, "zhou")
    r = await li.post("/console/knowledge/drafts", {"entry_id": "hnte-recognition"})
    url = r.headers["Location"]
    draft_id = int(url.rsplit("/", 1)[1])
    first = editor_pairs(await (await li.client.get(url)).text())
    second = editor_pairs(await (await zhou.client.get(url)).text())
    ok = await post_form(
        li,
        f"/console/knowledge/drafts/{draft_id}/save",
        [*replace(first, "title", "高新技术企业认定条件（李明改）"), ("action", "save")],
    )
    assert ok.status == 303
    clash = await post_form(
        zhou,
        f"/console/knowledge/drafts/{draft_id}/save",
        [*replace(second, "title", "高新技术企业认定条件（周强改）"), ("action", "save")],
    )
    body = await clash.text()
    assert clash.status == 409 and "内容冲突" in body and "李明" not in body.split("内容冲突")[0][-50:]
    assert "在您编辑期间" in body and "li 已于" in body
    assert "（李明改）" in body and "（周强改）" in body  # both texts shown
    assert "（李明改）" in dr.get_draft(desk.db, draft_id).content  # nothing lost
    # the form now carries the newest revision: saving again (after merging) goes through
    again = await post_form(
        zhou,
        f"/console/knowledge/drafts/{draft_id}/save",
        [*replace(editor_pairs(body), "title", "高新技术企业认定条件（合并）"), ("action", "save")],
    )
    assert again.status == 303
    assert "（合并）" in dr.get_draft(desk.db, draft_id).content


async def test_gaps_are_for_whole_network_staff_and_start_a_draft(desk):
    for text in ("人才公寓怎么申请", "人才公寓如何申请", "怎么申请人才公寓"):
        record_question(desk.db, conversation_id="c1", text=text, decision="unknown")
    li, zhou = await signed_in(desk, "li"), await signed_in(desk, "zhou")
    assert (await li.client.get("/console/knowledge/gaps")).status == 403
    page = await zhou.client.get("/console/knowledge/gaps")
    text = await page.text()
    assert page.status == 200 and "人才公寓怎么申请" in text and "<b>3</b> 次" in text
    refused = await li.post(
        "/console/knowledge/drafts", {"entry_id": "talent-flat", "new": "1", "question": "人才公寓怎么申请"}
    )
    assert refused.status == 403
    r = await zhou.post(
        "/console/knowledge/drafts",
        {
            "entry_id": "talent-flat",
            "new": "1",
            "question": "人才公寓怎么申请",
            "variants": "人才公寓如何申请\n怎么申请人才公寓",
        },
    )
    assert r.status == 303
    draft = dr.get_draft(desk.db, int(r.headers["Location"].rsplit("/", 1)[1]))
    form = ed.form_from_text(draft.content)
    assert form.faqs[0]["question"] == "人才公寓怎么申请" and "怎么申请人才公寓" in form.faqs[0]["variants"]
    assert draft.origin.startswith("据未解答的问题起草")
    # or as a new FAQ of an existing entry: the entry's FAQs stay, the group's questions are added
    r = await zhou.post(
        "/console/knowledge/drafts",
        {"entry_id": "talent-apartment", "new": "0", "question": "人才公寓怎么申请", "variants": "怎么申请人才公寓"},
    )
    assert r.status == 303
    draft = dr.get_draft(desk.db, int(r.headers["Location"].rsplit("/", 1)[1]))
    before = ed.form_from_text((desk.kdir / "entries" / "talent-apartment.yml").read_text(encoding="utf-8"))
    form = ed.form_from_text(draft.content)
    assert form.faqs[:-1] == before.faqs and form.faqs[-1]["question"] == "人才公寓怎么申请"
    assert form.faqs[-1]["variants"] == "怎么申请人才公寓" and not draft.is_new


async def test_review_list_and_unknown_ids(desk):
    li = await signed_in(desk, "li")
    path = desk.kdir / "entries" / "hnte-recognition.yml"
    path.write_text(
        re.sub(r"(?m)^reviewed_on: .*$", "reviewed_on: 2024-01-02", path.read_text(encoding="utf-8")), encoding="utf-8"
    )
    page = await (await li.client.get("/console/knowledge/review")).text()
    assert 'data-entry="hnte-recognition"' in page and "复核已超过 365 天" in page
    assert (await li.client.get("/console/knowledge/entries/no-such-entry")).status == 404
    assert (await li.client.get("/console/knowledge/drafts/99999")).status == 404
    assert (await li.client.get("/console/knowledge/drafts/abc")).status == 404
    assert (await li.client.get("/console/knowledge/versions/99999999999")).status == 404
    bad = await li.post("/console/knowledge/drafts", {"entry_id": "Bad Id!", "new": "1"})
    assert bad.status == 400 and "小写字母" in await bad.text()


async def test_reject_and_withdraw_are_refused_to_those_who_may_not(desk):
    li, zhou, chen, wang = [await signed_in(desk, u) for u in ("li", "zhou", "chen", "wang")]
    r = await li.post("/console/knowledge/drafts", {"entry_id": "hnte-recognition"})
    draft_id = int(r.headers["Location"].rsplit("/", 1)[1])
    other = await zhou.post("/console/knowledge/drafts", {"entry_id": "hnte-recognition"})
    page = await (await zhou.client.get(other.headers["Location"])).text()
    assert 'id="kb-other-drafts"' in page and f"草稿 {draft_id}" in page  # told of the other open draft
    d = dr.get_draft(desk.db, draft_id)
    d = dr.submit(desk.db, desk.kdir, dr.Actor("li", "staff", False), d.id, d.revision)
    for b in (li, chen):  # plain staff, a workstation's lead
        refused = await b.post(
            f"/console/knowledge/drafts/{draft_id}/reject", {"revision": str(d.revision), "comment": "不行"}
        )
        assert refused.status == 403
    assert (await zhou.post(f"/console/knowledge/drafts/{draft_id}/withdraw")).status == 403  # not the author
    assert dr.get_draft(desk.db, draft_id).status == dr.PENDING
    empty = await wang.post(
        f"/console/knowledge/drafts/{draft_id}/reject", {"revision": str(d.revision), "comment": ""}
    )
    assert empty.status == 400 and "写明原因" in await empty.text()
    sent_back = await wang.post(
        f"/console/knowledge/drafts/{draft_id}/reject", {"revision": str(d.revision), "comment": "请补充核实来源"}
    )
    assert sent_back.status == 303 and dr.get_draft(desk.db, draft_id).status == dr.DRAFT
    page = await (await li.client.get(f"/console/knowledge/drafts/{draft_id}")).text()
    assert "退回修改——请补充核实来源" in page
    assert (await li.post(f"/console/knowledge/drafts/{draft_id}/withdraw")).status == 303  # the author may
    assert dr.get_draft(desk.db, draft_id).status == dr.WITHDRAWN
    assert [a.actor for a in audit(desk.db, "kb_draft_reject")] == ["staff:wang"]
