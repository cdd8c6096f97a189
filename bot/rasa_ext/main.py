"""Start Rasa with the project's log masking: python -m bot.rasa_ext.main run … (same arguments as rasa).

Rasa logs user texts at debug level and in tracebacks; phone and ID numbers in them are
masked like every other process's logs (bot/logmask.py). The launcher starts Rasa this way.

It also compiles the action server's response schema once (see `compile_action_response_schema`).
"""

from __future__ import annotations

import sys
from functools import lru_cache

from bot import logmask


@lru_cache(maxsize=None)
def _response_validator():
    from jsonschema.validators import validator_for  # lazy: jsonschema is Rasa's; both are needed only when Rasa starts
    from rasa.core.actions.action import RemoteAction  # lazy: Rasa takes seconds to import

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def compile_action_response_schema() -> None:
    """Validate custom-action responses against a validator built once, not per call.

    Rasa 3.6 checks every action server response with `jsonschema.validate(result, schema)`,
    which first re-checks the (constant) schema against the JSON-Schema meta-schema: under
    load that was a third of the Rasa process's CPU (py-spy, bench/load.py, 2026-12-03). The
    response is still validated exactly as before, with Rasa's own error message.
    """
    from jsonschema.exceptions import best_match  # lazy: jsonschema, needed only when Rasa starts
    from rasa.core.actions.action import RemoteAction  # lazy: Rasa takes seconds to import
    from rasa.shared.constants import DOCS_BASE_URL  # lazy: Rasa takes seconds to import

    def _validate_action_result(self, result):
        error = best_match(_response_validator().iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def main() -> None:
    logmask.install()
    compile_action_response_schema()
    from rasa.__main__ import main as rasa_main  # lazy: Rasa takes seconds to import

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
