"""Every custom action the action server registers is in the domain, and has unit tests in this folder."""

import importlib
import inspect
import pkgutil
from pathlib import Path

from rasa_sdk import Action

HERE = Path(__file__).parent


def registered() -> dict[str, type]:
    """Action name → class, as the action server finds them: it imports every module of the actions package
    (rasa_sdk's ActionExecutor.register_package) and registers the concrete Action subclasses."""
    import actions

    for module in pkgutil.walk_packages(actions.__path__, "actions."):
        importlib.import_module(module.name)
    found, todo = {}, list(Action.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("actions.") and not inspect.isabstract(cls):
            found[cls().name()] = cls
    return found


def test_every_action_is_in_the_domain_and_every_domain_action_exists(domain):
    assert sorted(registered()) == sorted(domain["actions"])


def test_every_action_has_unit_tests_here():
    tests = "".join(
        p.read_text(encoding="utf-8") for p in HERE.glob("test_action_*.py") if p.name != Path(__file__).name
    )
    untested = sorted(name for name, cls in registered().items() if f"{cls.__name__}()" not in tests)
    assert untested == []
