"""Reports: 月总结 (the monthly summary) as figures, text, HTML and Excel, and 日调度 lists (domain core).

May import: the shared kernel and bot.tickets. Never rasa / rasa_sdk, the desk, the Rasa extensions, the
scheduler (which imports this package), the runtime or tooling.

    from bot.reports import monthly_summary, to_html, to_xlsx
    s = monthly_summary(db_url, "2026-11")

Command line: ``python -m bot.reports monthly --month 2026-11 [--db URL] [--html F] [--xlsx F]``.
"""

from bot.reports.monthly import MonthlySummary, parse_month
from bot.reports.render import to_html, to_text, to_xlsx
from bot.reports.scorecard import monthly_summary  # the monthly summary with its 绩效评分

__all__ = ["MonthlySummary", "monthly_summary", "parse_month", "to_html", "to_text", "to_xlsx"]
