"""The conversation-level evaluation's quick subset in the normal test run.

The scenarios tagged `fast` in tests/eval/dialogue_scenarios.yml (held out: written independently of the
training data and the knowledge base) are played through the desk's web chat API of the session's
running system by the same code as `make eval-dialogue` (bench/eval_dialogue.py), and every expectation
must hold: the user gets the fact, the ticket or the person they came for. A failure prints the scenario's
transcript and what did not hold.

The scenario file's own shape is checked too (without the stack): the coverage the evaluation promises —
all 19 need categories, all five new cities, park workstations, about a dozen fast scenarios — and node ids
that exist in the service network.
"""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import eval_dialogue  # noqa: E402

from bot.taxonomy import BY_INTENT  # noqa: E402

FAST = eval_dialogue.load_scenarios(tag="fast")


def test_scenario_file_covers_what_the_evaluation_promises():
    scenarios = eval_dialogue.load_scenarios()
    assert len(scenarios) >= 90
    assert 10 <= len(FAST) <= 15
    tickets = [s.expect["ticket"] for s in scenarios if "ticket" in s.expect]
    assert {t["category"] for t in tickets} == set(BY_INTENT), "every need category has a ticket scenario"
    network = yaml.safe_load((ROOT / "bot/service_data/network.yml").read_text(encoding="utf-8"))
    nodes = {n["id"]: n for n in network["nodes"]}
    wanted = [t["node"] for t in tickets if t.get("node")]
    assert set(wanted) <= set(nodes), f"unknown node ids: {set(wanted) - set(nodes)}"
    assert {"沣东", "沣西", "秦汉", "空港", "泾河"} <= {nodes[n].get("new_city") for n in wanted}
    assert sum(nodes[n]["kind"] == "workstation" for n in set(wanted)) >= 10
    companies = [t["company"] for t in tickets if t.get("company")]
    assert len(companies) == len(set(companies)), "one enterprise per scenario (no merging across scenarios)"
    for s in scenarios:
        assert s.user_turns <= 8, s.id


def test_the_checker_notices_what_it_is_there_for():
    """A fabricated outcome: each expectation that does not hold is reported, the ones that do are not."""
    s = eval_dialogue.Scenario(
        "x",
        "",
        [],
        ["问题", "确认"],
        {
            "facts": [["15%"], ["三年", "3年"]],
            "not_contains": ["没太理解"],
            "handover": False,
            "ticket": {
                "category": "need_listing",
                "node": "fengxi",
                "mobile": "13900002222",
                "company": "西安甲乙科技有限公司",
                "description_contains": "股改",
            },
            "max_turns_to_ticket": 1,
            "rating": 5,
        },
    )
    r = eval_dialogue.Result(
        s,
        lines=[
            eval_dialogue.Line(0, "user", "问题"),
            eval_dialogue.Line(0, "bot", "税率为１５％，抱歉没太理解", ["转人工"]),
            eval_dialogue.Line(1, "user", "确认"),
        ],
    )
    r.tickets = [
        {
            "number": "QCY-1",
            "category": "need_listing",
            "node": "fengdong",
            "company": "西安甲乙科技有限公司 ",
            "mobile": "+86 139 0000 2222",
            "description": "想做股改",
            "linked": False,
            "ratings": [4],
        }
    ]
    r.handovers, r.ticket_turn = [{"id": 1, "reason": "fallback", "ended": False}], 2
    failures = "\n".join(eval_dialogue.check(s, r))
    for expected in (
        "三年",
        "没太理解",
        "no reply to user turn '确认'",
        "ticket.node",
        "max_turns_to_ticket",
        "handover",
        "rating",
    ):
        assert expected in failures
    for holds in ("['15%']", "ticket.mobile", "ticket.company", "ticket.category", "description"):
        assert holds not in failures
    assert "no_ticket" not in failures


@pytest.fixture(scope="module")
def console(stack):
    return eval_dialogue.StaffConsole(stack.settings.desk_url, stack.settings.effective_database_url)


@pytest.mark.e2e
@pytest.mark.parametrize("scenario", FAST, ids=[s.id for s in FAST])
def test_fast_scenario(stack, console, scenario):
    result = eval_dialogue.play(stack.settings.desk_url, stack.settings.effective_database_url, scenario, console)
    if not result.passed:  # the transcript and what did not hold, without the Result's repr
        pytest.fail("\n" + eval_dialogue.format_failure(result), pytrace=False)
