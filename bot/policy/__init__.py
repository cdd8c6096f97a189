"""政策体检: which policies an enterprise qualifies for, from its own figures, and why.

Rules are data (knowledge/policies/<id>.yml, one file per policy: issuing documents, 文号,
dates, each criterion with its Chinese wording as a declarative test on a named figure);
this package loads and validates them, validates an enterprise's figures, and checks one
against the other. Nothing here is ever `eval`ed: a criterion names a metric from
bot.policy.metrics, an operator and a threshold.

The package imports neither Rasa nor the desk, so the HTTP API (bot/desk/policy_check.py),
the chat's actions and the proactive matching job share one implementation and the rules
can be tested without starting a server.

    rules = load_rules(Path("knowledge"))
    profile = parse_profile({"employees": 50, "tech_staff": 9, "revenue": [2e7]}, today)
    report = check(rules, profile, today)      # .results: one PolicyResult per policy
"""

from .evaluate import CheckResult, NotApplied, PolicyResult, Report, check, evaluate_rule
from .loader import load_rules
from .model import PolicyError, Rule, RuleSet
from .profile import IpCounts, Profile, ProfileError, parse_profile

__all__ = [
    "CheckResult",
    "IpCounts",
    "NotApplied",
    "PolicyError",
    "PolicyResult",
    "Profile",
    "ProfileError",
    "Report",
    "Rule",
    "RuleSet",
    "check",
    "evaluate_rule",
    "load_rules",
    "parse_profile",
]
