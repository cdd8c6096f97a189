"""/figures and /api/figures on a real desk: `python -m bot.desk` in its own process on a database with four
tickets made five hours ago at four nodes (tests/unit/figures_helpers.py), on SQLite and PostgreSQL.
The public output holds the counts and no name, mobile, enterprise name or ticket text.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from policy_check_api import desk_process  # noqa: E402 - bench/ is not a package

from tests.unit.figures_helpers import SECRETS, populate  # noqa: E402

pytestmark = pytest.mark.e2e


def test_the_desk_serves_the_public_figures(db_url, tmp_path):
    populate(db_url, datetime.now(timezone.utc))
    with desk_process(tmp_path, db_url) as base:
        r = requests.get(base + "/api/figures", timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        data = r.json()
        total = data["windows"]["all"]
        assert (total["accepted"], total["closed"], total["enterprises"], total["visits"]) == (4, 0, 1, 0)
        assert sum(c["accepted"] for c in total["categories"]) == 4 and len(total["categories"]) == 19
        page = requests.get(base + "/figures", timeout=30)
        assert page.status_code == 200 and "秦创原总窗口 · 服务数据" in page.text
        assert '<td data-window="all" data-key="accepted">4</td>' in page.text
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp and "script-src" not in csp
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
        for secret in SECRETS:
            assert secret not in page.text and secret not in r.text
        assert requests.get(base + "/figures?window=x", timeout=30).status_code == 400
        css = requests.get(base + "/figures.css", timeout=30)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
