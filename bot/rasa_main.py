"""Start Rasa with the project's log masking: python -m bot.rasa_main run … (same arguments as rasa).

Rasa logs user texts at debug level and in tracebacks; phone and ID numbers in them are
masked like every other process's logs (bot/logmask.py). The launcher starts Rasa this way.
"""
from __future__ import annotations

import sys


def main() -> None:
    from bot import logmask

    logmask.install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
