"""Command line: validate the rule files, or check a profile given as JSON.

python -m bot.policy validate [dir]
python -m bot.policy check '{"employees": 60, "tech_staff": 9, "revenue": [15000000]}' [--today 2026-12-03]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from bot import clock
from bot.settings import Settings

from . import PolicyError, ProfileError, check, load_rules, parse_profile


def default_directory() -> Path:
    """KNOWLEDGE_DIR, else the repository's knowledge/ (Settings)."""
    return Settings.from_env().knowledge_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.policy", description="政策体检规则")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="校验 knowledge/policies/ 下的规则文件")
    v.add_argument("dir", nargs="?", type=Path, default=None)
    c = sub.add_parser("check", help="用一组企业数据（JSON）做一次政策体检")
    c.add_argument("profile")
    c.add_argument("--today", type=date.fromisoformat, default=None)
    c.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.dir or default_directory())
    except PolicyError as exc:
        print(exc)
        return 1
    if args.command == "validate":
        print(f"OK：{len(rules)} 条政策规则（{'、'.join(r.name for r in rules)}）")
        return 0
    today = args.today or clock.today()
    try:
        profile = parse_profile(json.loads(args.profile), today)
    except (ProfileError, ValueError) as exc:
        print(f"输入有误：{exc}")
        return 2
    print(json.dumps(check(rules, profile, today).to_json(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
