"""Content rules of the knowledge base (bot/knowledge/audit.py, `python -m bot.knowledge validate`).

The real base must pass them; each rule is also shown to fail on an entry that breaks it:
a placeholder date, a 《》 title that is the entry's own title, an entry without a source, an entry
without reviewed_on, an answer without a next step (and the other rules knowledge/README.md lists).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.knowledge import load_base
from bot.knowledge.__main__ import main as cli
from bot.knowledge.audit import audit, is_document_name, near_title
from bot.settings import PROJECT_ROOT

TODAY = date(2026, 12, 3)

GOOD = """\
id: demo
title: 专精特新“小巨人”企业
issuer: 工业和信息化部
doc_number: ""
level: 国家
categories: [need_qualification]
effective: null
expires: null
reviewed_on: 2026-12-01
source: 《优质中小企业梯度培育管理办法》（以工业和信息化部发布的原文为准）
faq:
  - id: demo-how
    question: 小巨人怎么申报？
    variants:
      - 小巨人申报流程
    answer: 由省级中小企业主管部门审核推荐，工信部组织评审。
    next_step: 按陕西省工信厅当年通知申报，也可以在这里登记需求。
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    (tmp_path / "entries").mkdir(exist_ok=True)
    (tmp_path / "entries" / f"{name}.yml").write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, text: str) -> list[str]:
    return audit(load_base(write(tmp_path, text)), TODAY).problems


# --------------------------------------------------------------------------- the real base


def test_the_real_base_passes_every_content_rule():
    result = audit(load_base(PROJECT_ROOT / "knowledge"), TODAY)
    assert result.problems == []


def test_the_real_base_has_no_placeholder_dates_or_title_citations():
    """The issue's examples: no entry is dated 1 January unless a source confirms it, none cites itself."""
    kb = load_base(PROJECT_ROOT / "knowledge")
    for entry in kb:
        assert entry.reviewed_on is not None, entry.id
        if entry.effective is not None and (entry.effective.month, entry.effective.day) == (1, 1):
            assert entry.verified("effective"), entry.id
        assert f"《{entry.title}》" not in entry.source or is_document_name(entry.title), entry.id
        if entry.level == "窗口":
            assert entry.effective is None, entry.id
    for name in (
        "little-giant",
        "srdi-sme",
        "star-market-listing",
        "construction-permit",
        "patent-fast-track",
        "software-copyright",
        "enterprise-tech-center",
        "new-rd-institution",
    ):
        entry = kb.entry(name)
        assert entry.effective is None or entry.verified("effective"), name


@pytest.mark.slow
def test_the_validate_command_passes_on_the_real_base(capsys):
    assert cli(["validate", str(PROJECT_ROOT / "knowledge")]) == 0
    assert "内容检查未通过" not in capsys.readouterr().out


# --------------------------------------------------------------------------- each rule


def test_a_good_entry_passes(tmp_path):
    assert problems(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    "old, new, field, words",
    [
        # a placeholder date: 1 January without a source confirming it
        ("effective: null", "effective: 2024-01-01", "effective", "占位日期"),
        # an end date nobody verified
        ("expires: null", "expires: 2027-12-31", "expires", "未核实"),
        # the entry's own title in 《》 as if it were a document
        (
            "source: 《优质中小企业梯度培育管理办法》（以工业和信息化部发布的原文为准）",
            "source: 工业和信息化部《专精特新“小巨人”企业》",
            "source",
            "条目自己的标题",
        ),
        # a 《》 that is no document name at all
        (
            "source: 《优质中小企业梯度培育管理办法》（以工业和信息化部发布的原文为准）",
            "source: 《小巨人申报工作》",
            "source",
            "不像文件名",
        ),
        # no source: neither a document nor where to check
        (
            "source: 《优质中小企业梯度培育管理办法》（以工业和信息化部发布的原文为准）",
            "source: 相关规定",
            "source",
            "没有写明依据",
        ),
        # no review date
        ("reviewed_on: 2026-12-01\n", "", "reviewed_on", "缺少复核日期"),
        # no next step
        (
            "    next_step: 按陕西省工信厅当年通知申报，也可以在这里登记需求。\n",
            "",
            "faq[0](demo-how).next_step",
            "缺少下一步",
        ),
        # a next step that does not say where
        (
            "    next_step: 按陕西省工信厅当年通知申报，也可以在这里登记需求。",
            "    next_step: 尽快准备。",
            "faq[0](demo-how).next_step",
            "没有说明去哪里办",
        ),
        # the answer repeats its next step at the end
        (
            "工信部组织评审。",
            "工信部组织评审。按陕西省工信厅当年通知申报，也可以在这里登记需求。",
            "faq[0](demo-how).answer",
            "重复",
        ),
        # an application month nobody verified
        (
            "expires: null\n",
            "expires: null\nwindow:\n  note: 陕西省工信厅当年通知\n  months: [5]\n",
            "window",
            "未核实",
        ),
        # too long for a chat bubble
        (
            "工信部组织评审。",
            "工信部组织评审。" + "评审看细分市场地位和创新能力。" * 20,
            "faq[0](demo-how).answer",
            "聊天气泡",
        ),
        # non-standard wording
        ("工信部组织评审。", "工信部当个工作日组织评审。", "faq[0](demo-how).answer", "当天（工作日）"),
        # an answer citing its own title as a document
        (
            "    answer: 由省级",
            "    answer: 按《专精特新小巨人企业》，由省级",
            "faq[0](demo-how).answer",
            "条目自己的标题",
        ),
    ],
)
def test_each_rule_names_the_file_and_the_field(tmp_path, old, new, field, words):
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new))
    assert any(p.startswith(f"entries/demo.yml: {field}: ") and words in p for p in found), found


def test_a_window_topic_has_no_effective_date(tmp_path):
    text = GOOD.replace("level: 国家", "level: 窗口").replace("effective: null", "effective: 2026-12-02")
    assert any(p.startswith("entries/demo.yml: effective: ") for p in problems(tmp_path, text))


def test_a_checked_source_makes_the_date_shown(tmp_path):
    text = GOOD.replace("effective: null", "effective: 2024-01-01").replace(
        "expires: null",
        "expires: 2027-12-31\nchecked:\n  - url: https://www.gov.cn/zhengce/x.htm\n"
        "    date: 2026-12-01\n    confirms: [effective, expires]",
    )
    assert problems(tmp_path, text) == []
    # confirming only one of the two is not enough for the other
    half = text.replace("confirms: [effective, expires]", "confirms: [effective]")
    assert [p.split(": ")[1] for p in problems(tmp_path, half)] == ["expires"]


def test_the_next_step_may_come_from_the_entry(tmp_path):
    text = GOOD.replace("    next_step: 按陕西省工信厅当年通知申报，也可以在这里登记需求。\n", "").replace(
        "faq:\n", "next_step: 按陕西省工信厅当年通知申报。\nfaq:\n"
    )
    assert problems(tmp_path, text) == []


def test_warnings_do_not_fail(tmp_path):
    text = GOOD.replace("reviewed_on: 2026-12-01", "reviewed_on: 2024-01-05").replace(
        "effective: null", "effective: 2020-03-15"
    )
    result = audit(load_base(write(tmp_path, text)), TODAY)
    assert result.problems == []
    assert any("reviewed_on" in w and "超过" in w for w in result.warnings)
    assert any("effective" in w and "未经" in w for w in result.warnings)


def test_validate_and_reload_refuse_a_base_breaking_a_content_rule(tmp_path, capsys):
    write(tmp_path, GOOD.replace("effective: null", "effective: 2024-01-01"))
    assert cli(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "内容检查未通过" in out and "entries/demo.yml: effective:" in out
    assert cli(["reload", str(tmp_path)]) == 1
    assert not (tmp_path / ".reload").exists()


@pytest.mark.parametrize(
    "name, title, document, near",
    [
        ("专精特新“小巨人”企业", "专精特新“小巨人”企业", False, True),
        ("专精特新小巨人企业", "专精特新“小巨人”企业", False, True),
        ("建筑工程施工许可管理办法", "建筑工程施工许可", True, True),
        ("中华人民共和国专利法（2020年修正）", "发明专利申请", True, False),
        ("外国人来华工作分类标准（试行）", "外国人来华工作许可", True, False),
        ("陕西日报", "省级孵化载体", True, False),
    ],
)
def test_document_names_and_titles(name, title, document, near):
    assert is_document_name(name) is document
    assert near_title(name, title) is near
