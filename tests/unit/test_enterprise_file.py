"""一企一档 on a desk in-process (both databases): the enterprise list, its xlsx export, the file page and
audited profile edits, each scoped to the staff member's nodes.

Three enterprises (tests/unit/enterprise_file_helpers.py): 甲 at 沣西's 信息 park (home node the xinxi
workstation) with a ticket at 沣东 after a transfer; 乙 of 沣东 with no ticket; 丙 with no place (the centre) and a
ticket at 沣西. Staff of xinxi see 甲 only; 沣东 staff see 甲 (its ticket is theirs) and 乙; 沣西's lead sees 甲 and
丙; the centre sees all.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from bot.db import engine_for, read_sessions
from bot.db.schema import ConsoleAudit, Contact, Enterprise
from bot.enterprises import membership
from bot.enterprises import profile as pf
from tests.unit.desk_helpers import desk_client, sign_in
from tests.unit.enterprise_file_helpers import BING, FORM, JIA, MOMENT, YI, populate

pytestmark = pytest.mark.desk


@pytest.fixture
async def desk(db_url, tmp_path):
    populate(db_url)
    async with desk_client(db_url, tmp_path, clock=lambda: MOMENT) as client:
        yield client


def listed(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-enterprise="(\d+)"', html)}


# ---- membership ------------------------------------------------------------------------------------


def test_home_node_is_the_park_else_the_new_city_else_the_centre():
    assert membership.home_node("沣西", "信息产业园") == "fengxi-ws-xinxi"
    assert membership.home_node("沣东", None) == "fengdong"
    assert membership.home_node(None, None) == "centre"
    assert membership.home_node("沣东新城", "不存在的园区") == "fengdong"


def test_enterprise_nodes_add_ticket_nodes(sqlite_url):
    populate(sqlite_url)
    with read_sessions(sqlite_url)() as s:
        nodes = membership.enterprise_nodes(s, [1, 2, 3])
    assert nodes == {1: {"fengxi-ws-xinxi", "fengdong"}, 2: {"fengdong"}, 3: {"centre", "fengxi"}}


# ---- the list ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user, expected",
    [("centre_lead", {1, 2, 3}), ("fengxi_lead", {1, 3}), ("xinxi_staff", {1}), ("fengdong_staff", {1, 2})],
)
async def test_list_shows_the_enterprises_of_the_scope(desk, user, expected):
    await sign_in(desk, user)
    r = await desk.get("/console/enterprises")
    assert r.status == 200
    assert listed(await r.text()) == expected


async def test_list_filters(desk):
    await sign_in(desk, "centre_lead")

    async def ids(query: str) -> set[int]:
        r = await desk.get("/console/enterprises?" + query)
        assert r.status == 200, await r.text()
        return listed(await r.text())

    assert await ids("cert=hightech") == {1}
    assert await ids("cert=tech_sme") == {2}
    assert await ids("open=1") == {1, 3}
    assert await ids("category=need_space") == {1}
    assert await ids("node=fengdong") == {1, 2}
    assert await ids("node=fengxi-ws-xinxi") == {1}
    assert await ids("q=" + "丙数据") == {3}
    r = await desk.get("/console/enterprises?cert=nope")
    assert r.status == 400 and "资质" in await r.text()


async def test_list_refuses_a_node_outside_the_scope(desk):
    await sign_in(desk, "xinxi_staff")
    r = await desk.get("/console/enterprises?node=fengdong")
    assert r.status == 400 and "不在您的服务范围内" in await r.text()


async def test_list_pages(desk):
    with engine_for(desk.db).begin() as conn:
        for i in range(10, 70):
            conn.execute(
                insert(Enterprise).values(id=i, name=f"分页测试{i:03d}有限公司", new_city="沣东", created_at=MOMENT)
            )
    await sign_in(desk, "fengdong_staff")
    first = await (await desk.get("/console/enterprises")).text()
    second = await (await desk.get("/console/enterprises?page=2")).text()
    assert len(listed(first)) == 50 and len(listed(second)) == 12
    assert not listed(first) & listed(second)
    assert "第 1 / 2 页" in first


# ---- the export --------------------------------------------------------------------------------------


async def _sheet(resp) -> list[tuple]:
    from openpyxl import load_workbook

    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(await resp.read()))
    return list(wb.active.iter_rows(values_only=True))


@pytest.mark.parametrize(
    "user, expected", [("centre_lead", {JIA, YI, BING}), ("xinxi_staff", {JIA}), ("fengdong_staff", {JIA, YI})]
)
async def test_export_is_scoped_and_audited(desk, user, expected):
    await sign_in(desk, user)
    rows = await _sheet(await desk.get("/console/enterprises/export.xlsx"))
    assert rows[1][0] == "企业名称"
    assert {r[0] for r in rows[2:]} == expected
    jia = next(r for r in rows[2:] if r[0] == JIA)
    assert jia[10] == "高新技术企业" and jia[12] == 2 and jia[13] == 1 and jia[16] == pytest.approx(120000.50)
    with read_sessions(desk.db)() as s:
        audit = s.scalars(select(ConsoleAudit).where(ConsoleAudit.action == "enterprise_export")).all()
    assert len(audit) == 1 and f"导出企业档案 {len(expected)} 家" in audit[0].detail


async def test_export_takes_the_filters(desk):
    await sign_in(desk, "centre_lead")
    rows = await _sheet(await desk.get("/console/enterprises/export.xlsx?cert=tech_sme"))
    assert [r[0] for r in rows[2:]] == [YI]


async def test_export_refuses_a_node_outside_the_scope(desk):
    await sign_in(desk, "xinxi_staff")
    r = await desk.get("/console/enterprises/export.xlsx?node=fengdong")
    assert r.status == 400 and "不在您的服务范围内" in await r.text()


# ---- the file page -----------------------------------------------------------------------------------


async def test_file_shows_profile_tickets_contacts_amount_and_ratings(desk):
    await sign_in(desk, "xinxi_staff")
    r = await desk.get("/console/enterprises/1")
    assert r.status == 200
    html = await r.text()
    assert JIA in html and "高新技术企业" in html and "李春梅" in html and "13811112222" in html
    assert 'data-number="QCY-20261122-0001"' in html and 'data-number="QCY-20261122-0002"' in html
    assert "¥120,000.50" in html and "5 分" in html
    assert "沣西新城信息产业园工作站" in html
    assert "政策推送" in html


@pytest.mark.parametrize(
    "user, eid", [("xinxi_staff", 2), ("xinxi_staff", 3), ("fengdong_staff", 3), ("fengxi_lead", 2)]
)
async def test_file_of_another_node_is_refused_and_audited(desk, user, eid):
    token = await sign_in(desk, user)
    r = await desk.get(f"/console/enterprises/{eid}")
    assert r.status == 403 and "无权访问" in await r.text()
    r = await desk.post(f"/console/enterprises/{eid}/profile", data={"csrf_token": token, "name": "改名有限公司"})
    assert r.status == 403
    r = await desk.get(f"/console/visits/new?enterprise={eid}")
    assert r.status == 403
    r = await desk.post(f"/console/enterprises/{eid}/contacts", data={"csrf_token": token, "contact_name": "冒名"})
    assert r.status == 403
    with read_sessions(desk.db)() as s:
        assert s.get(Enterprise, eid).name != "改名有限公司"
        assert s.scalars(select(Contact).where(Contact.name == "冒名")).all() == []
        denied = s.scalars(select(ConsoleAudit).where(ConsoleAudit.action == "denied")).all()
    assert len(denied) == 4


async def test_staff_add_a_contact_audited_with_the_mobile_masked(desk):
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/enterprises/1/contacts",
        data={"csrf_token": token, "contact_name": "王财务", "contact_mobile": "139 0000 1234"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"].endswith("?done=contact")
    page = await (await desk.get("/console/enterprises/1")).text()
    assert "王财务" in page and "13900001234" in page and "工作台录入" in page
    assert "添加联系人：王财务 139****1234" in page
    r = await desk.post(
        "/console/enterprises/1/contacts",
        data={"csrf_token": token, "contact_name": "王财务", "contact_mobile": "13900001234"},
    )
    assert r.status == 400 and "已在档案中" in await r.text()
    r = await desk.post(
        "/console/enterprises/1/contacts", data={"csrf_token": token, "contact_name": "赵", "contact_mobile": "12"}
    )
    html = await r.text()
    assert r.status == 400 and "联系人姓名应为 2–64 个字" in html and "手机号格式不正确" in html
    with read_sessions(desk.db)() as s:
        rows = s.scalars(select(Contact).where(Contact.enterprise_id == 1, Contact.name == "王财务")).all()
        audit = s.scalars(select(ConsoleAudit.detail).where(ConsoleAudit.action == "enterprise_contact")).all()
    assert len(rows) == 1 and rows[0].sender_id is None and rows[0].verified_at is None
    assert audit == ["[enterprise:1] 添加联系人：王财务 139****1234"]


async def test_unknown_enterprise_is_a_chinese_404(desk):
    await sign_in(desk, "centre_lead")
    r = await desk.get("/console/enterprises/999")
    assert r.status == 404 and "没有找到该企业档案" in await r.text()


async def test_profile_edit_is_saved_and_audited_and_shown(desk):
    token = await sign_in(desk, "xinxi_staff")
    form = {
        **FORM,
        "csrf_token": token,
        "industry": "光电子器件",
        "employees": "75",
        "tech_staff": "20",
        "revenue": "12,500,000",
        "registered_on": "2018-05-20",
        "certifications": ["hightech", "specialized"],
    }
    data = [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
    r = await desk.post("/console/enterprises/1/profile", data=data, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("?done=saved")
    with read_sessions(desk.db)() as s:
        ent = s.get(Enterprise, 1)
        audit = s.scalars(select(ConsoleAudit).where(ConsoleAudit.action == "enterprise_edit")).all()
    assert (ent.industry, ent.employees, ent.tech_staff, ent.revenue) == ("光电子器件", 75, 20, Decimal("12500000.00"))
    assert ent.certifications == ",hightech,specialized," and ent.registered_on.isoformat() == "2018-05-20"
    assert len(audit) == 1 and audit[0].actor == "staff:xinxi_staff"
    assert "所属行业：光电 → 光电子器件" in audit[0].detail and "职工人数：60 → 75" in audit[0].detail
    assert "资质认定：高新技术企业 → 高新技术企业、专精特新中小企业" in audit[0].detail
    page = await (await desk.get("/console/enterprises/1")).text()
    assert "档案修改记录" in page and "所属行业：光电 → 光电子器件" in page and "工作站专员" in page
    # saving the same again changes nothing and writes no audit line
    r = await desk.post("/console/enterprises/1/profile", data=data, allow_redirects=False)
    assert r.headers["Location"].endswith("?done=unchanged")
    with read_sessions(desk.db)() as s:
        assert len(s.scalars(select(ConsoleAudit).where(ConsoleAudit.action == "enterprise_edit")).all()) == 1


async def test_profile_edit_refuses_bad_values_naming_them(desk):
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/enterprises/1/profile",
        data={**FORM, "csrf_token": token, "credit_code": "91610000XXXXXXXXXX", "employees": "-3", "tech_staff": "10"},
    )
    html = await r.text()
    assert r.status == 400 and "档案未保存" in html and "职工人数应为不小于 0 的整数" in html
    with read_sessions(desk.db)() as s:
        assert s.get(Enterprise, 1).employees == 60


async def test_profile_edit_refuses_a_credit_code_of_another_enterprise(desk):
    from bot.tickets import credit_code as cc

    code = cc.generate()
    with engine_for(desk.db).begin() as conn:
        conn.execute(Enterprise.__table__.update().where(Enterprise.id == 2).values(credit_code=code))
    token = await sign_in(desk, "centre_lead")
    r = await desk.post("/console/enterprises/1/profile", data={**FORM, "csrf_token": token, "credit_code": code})
    assert r.status == 400 and f"已登记在“{YI}”名下" in await r.text()


async def test_profile_edit_needs_the_csrf_token(desk):
    await sign_in(desk, "xinxi_staff")
    r = await desk.post("/console/enterprises/1/profile", data={**FORM, "industry": "伪造"})
    assert r.status == 403
    with read_sessions(desk.db)() as s:
        assert s.get(Enterprise, 1).industry == "光电"


async def test_search_api_is_scoped(desk):
    await sign_in(desk, "xinxi_staff")
    r = await desk.get("/console/api/enterprises?q=有限公司")
    assert [i["id"] for i in (await r.json())["items"]] == [1]


# ---- profile parsing -----------------------------------------------------------------------------------


def test_parse_form_types_and_problems():
    from datetime import date

    values = pf.parse_form(
        {
            "name": "  甲公司  ",
            "employees": "1,200",
            "revenue": "3000000.456元",
            "new_city": "沣西新城",
            "registered_on": "2020-01-02",
        },
        ["tech_sme"],
        today=date(2026, 12, 3),
    )
    assert values["name"] == "甲公司" and values["employees"] == 1200 and values["revenue"] == Decimal("3000000.46")
    assert values["new_city"] == "沣西" and values["certifications"] == ",tech_sme,"
    with pytest.raises(pf.ProfileError) as err:
        pf.parse_form(
            {"name": "", "employees": "10", "tech_staff": "11", "registered_on": "2027-01-01", "new_city": "雁塔"},
            ["nope"],
            today=date(2026, 12, 3),
        )
    assert set(err.value.problems) == {"name", "tech_staff", "registered_on", "new_city", "certifications"}


async def test_file_lists_the_policy_pushes(desk):
    from bot.db.schema import PolicyPush
    from bot.enterprises.file import push_table

    assert push_table() is PolicyPush.__table__
    with engine_for(desk.db).begin() as conn:
        conn.execute(
            insert(PolicyPush).values(
                enterprise_id=1,
                policy_id="hnte",
                policy_name="高新技术企业认定",
                trigger_key="window:hnte:2027-05-01",
                trigger="window",
                reason="profile",
                conversation_id="web-abc",
                channel="web",
                node_id="fengxi-ws-xinxi",
                body="高企认定申报将于5月开始",
                sent_by="system",
                created_at=MOMENT,
            )
        )
    await sign_in(desk, "xinxi_staff")
    html = await (await desk.get("/console/enterprises/1")).text()
    assert "高新技术企业认定" in html and "推送时间" in html and "pushes-pending" not in html
    assert "申报窗口开启" in html and "企业数据符合条件" in html and "系统定时推送" in html


async def test_a_concurrent_profile_edit_is_detected_not_lost(desk):
    token = await sign_in(desk, "xinxi_staff")
    page = await (await desk.get("/console/enterprises/1")).text()
    seen = re.search(r'name="version" value="([^"]+)"', page).group(1)
    first = {**FORM, "csrf_token": token, "version": seen, "industry": "激光器件"}
    r = await desk.post("/console/enterprises/1/profile", data=first, allow_redirects=False)
    assert r.status == 303
    second = {**FORM, "csrf_token": token, "version": seen, "industry": "光学镜头"}  # opened before the first save
    r = await desk.post("/console/enterprises/1/profile", data=second)
    html = await r.text()
    assert r.status == 409 and "已被他人修改" in html and "激光器件" in html
    with read_sessions(desk.db)() as s:
        assert s.get(Enterprise, 1).industry == "激光器件"


async def test_a_new_file_is_created_in_the_scope_only(desk):
    token = await sign_in(desk, "xinxi_staff")
    page = await (await desk.get("/console/enterprises/new")).text()
    assert "新建企业档案" in page and 'value="沣西新城信息产业园"' in page  # placed at the staff member's park
    new = {
        **FORM,
        "csrf_token": token,
        "name": "沣西新建档案测试有限公司",
        "industry": "软件",
        "employees": "12",
        "certifications": "tech_sme",
    }
    r = await desk.post("/console/enterprises/new", data=new, allow_redirects=False)
    assert r.status == 303, await r.text()
    eid = int(re.search(r"/console/enterprises/(\d+)\?done=created", r.headers["Location"]).group(1))
    with read_sessions(desk.db)() as s:
        ent = s.get(Enterprise, eid)
        audit = s.scalars(select(ConsoleAudit.detail).where(ConsoleAudit.action == "enterprise_create")).all()
    assert (ent.park, ent.industry, ent.employees, ent.certifications) == ("信息产业园", "软件", 12, ",tech_sme,")
    assert audit == [f"[enterprise:{eid}] 新建企业档案：沣西新建档案测试有限公司（属地 沣西新城信息产业园工作站）"]
    assert eid in listed(await (await desk.get("/console/enterprises")).text())
    # another node's place: refused, nothing created; a name already on file: refused
    r = await desk.post(
        "/console/enterprises/new", data={**new, "name": "沣东别处有限公司", "new_city": "沣东", "park": ""}
    )
    assert r.status == 400 and "不在您的服务范围内" in await r.text()
    r = await desk.post("/console/enterprises/new", data={**new, "name": JIA})
    assert r.status == 400 and "已有名为" in await r.text()
    r = await desk.post("/console/enterprises/new", data={**new, "name": "无令牌有限公司", "csrf_token": "x"})
    assert r.status == 403
    with read_sessions(desk.db)() as s:
        assert s.scalar(select(func.count()).select_from(Enterprise)) == 4
