"""python -m bot.staff create/passwd/list/unlock/disable/enable — see bot/staff/accounts.py."""

import sys

from bot.staff.accounts import main

if __name__ == "__main__":
    sys.exit(main())
