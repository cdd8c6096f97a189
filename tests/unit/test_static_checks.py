"""Static checks that run with the unit tests (so in `make test-fast`, `make test` and CI); `make lint` runs the same.

- `lint-imports` (contracts in pyproject.toml [tool.importlinter]): the layers of docs/architecture.md hold.
  Function-level imports count like module-level ones; a new import that breaks a layer (the domain core
  importing rasa or the desk, the desk importing the runtime, …) or closes an import cycle fails here, with
  the chain that breaks it.
- `ruff check` (rules in pyproject.toml [tool.ruff.lint]): no syntax errors or undefined names anywhere.
- Only bot/settings.py reads the environment; what the actions say is in actions/wording.py (no Chinese
  sentences of their own in the other action modules).
- Imports at module level: an import inside a function in bot/ or actions/ says why on its line (`# lazy: <why>`:
  Rasa or openpyxl costs real time at import, or the import would close a cycle).
- The window's calendar is Beijing time: no `date.today()`, zone-less `datetime.now()` or `.astimezone()` outside
  bot/clock.py (a machine in UTC is a day behind Beijing from 16:00 to 24:00 UTC).
- Test modules don't import each other (`from tests.unit.test_x import …`, or `from test_x import …` after a sys.path
  insert): what several share lives in a helper module (tests/unit/desk_helpers.py, …) or a folder's conftest.py.
- `mypy` (pyproject.toml [tool.mypy]): no type errors in the domain core and the shared kernel (no module has its
  errors ignored). Incremental: the cache is .mypy_cache/.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_tool(name: str, *args: str) -> tuple[int, str]:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert exe, f"{name} is missing: pip install -c constraints.txt -e .[dev]"
    proc = subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_import_contracts_are_kept():
    code, out = run_tool("lint-imports", "--no-cache")
    assert code == 0, out
    assert "0 broken" in out and "KEPT" in out, out


def test_ruff_finds_nothing():
    code, out = run_tool("ruff", "check", "--no-cache", ".")
    assert code == 0, out


def test_the_code_is_formatted():
    """`ruff format` is the one layout (make format); a file written by hand in another layout fails here."""
    code, out = run_tool("ruff", "format", "--check", "--no-cache", ".")
    assert code == 0, out + "\nrun: make format"


# ---- one settings object (issue 15) --------------------------------------------------------------

# The modules that may read the process environment, and why. Everything else receives bot.settings.Settings
# (the desk holds it under SETTINGS_KEY; the action server, the scheduler and the command lines call
# Settings.from_env()). Launch code that hands an environment to child processes belongs here too.
ENV_READERS = {
    "bot/settings.py": "Settings.from_env reads every variable once; child_env passes them to child processes",
}
ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(source: str) -> list[int]:
    """Line numbers where `source` reads the environment through the os module (os.environ, os.getenv,
    an alias of os, or those names imported from os)."""
    import ast

    tree = ast.parse(source)
    os_names = {"os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for a in node.names if a.name in ENV_NAMES]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_environment_check_finds_the_ways_of_reading_it():
    assert environment_reads("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n") == [2, 3]
    assert environment_reads("import os as o\nx = o.environ['A']\n") == [2]
    assert environment_reads("from os import environ, path\n") == [1]
    assert environment_reads("import os\nos.umask(0o077)\nsettings.environ\n") == []


def test_only_the_settings_module_reads_the_environment():
    readers = {}
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        lines = environment_reads(path.read_text(encoding="utf-8"))
        if lines and rel not in ENV_READERS:
            readers[rel] = lines
    assert not readers, (
        f"these modules read os.environ / os.getenv: {readers}. Add the variable to bot.settings.Settings "
        '(from_env, child_env, README "Configuration") and pass the Settings object or the value instead'
    )
    for rel in ENV_READERS:
        assert environment_reads((ROOT / rel).read_text(encoding="utf-8")), f"{rel} no longer reads the environment"


# ---- the actions' wording in one module (issue 15) -----------------------------------------------

# What the actions say lives in actions/wording.py (the fixed utter_* responses in domain.yml). Outside it, an action
# module's Chinese string literals may only be docstrings, regular-expression patterns (reading what users type)
# and these tokens, which are data, not wording:
ACTION_DATA_TOKENS = {
    "无": "the ticket_location slot value for 'not in a park' (what users type; bot.tickets.chat.NONE_PHRASES)",
    "新城": "suffix that makes a new city's name (沣西 → 沣西新城) for the ticket_location slot",
    "验证码": "looked for in the user's message (a code typed as '验证码是123456')",
}
WORDING_MODULE = "actions/wording.py"
CJK = "\u3400-\u9fff\uf900-\ufaff"
REGEX_FUNCTIONS = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}


def chinese_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of the string literals in `source` (f-string parts included) with a Chinese character, except
    docstrings, the pattern of a re.* call and ACTION_DATA_TOKENS."""
    import ast
    import re

    tree = ast.parse(source)
    allowed: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            allowed.add(id(body[0].value))  # a docstring
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in REGEX_FUNCTIONS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
        ):
            allowed |= {id(n) for n in ast.walk(node.args[0])}  # a pattern
    cjk = re.compile(f"[{CJK}]")
    return sorted(
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and cjk.search(n.value)
        and id(n) not in allowed
        and n.value not in ACTION_DATA_TOKENS
    )


def test_the_wording_check_finds_chinese_literals():
    source = '''"""模块说明。"""
import re
PATTERN = re.compile(r"转人工|真人")
TITLE = "登记需求"
def run(d, n):
    """说明。"""
    d.utter_message(text="好的。", buttons=[{"title": f"评价 {n}", "payload": "/rate"}])
    lead = f"{n}类事项由服务专员直接为您办理。"
    return "无" if re.search("验证码", n) else lead
'''
    assert chinese_literals(source) == [
        (4, "登记需求"),
        (7, "好的。"),
        (7, "评价 "),
        (8, "类事项由服务专员直接为您办理。"),
    ]


def test_action_modules_say_nothing_outside_the_wording_module():
    found = {}
    for path in sorted(ROOT.glob("actions/**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel != WORDING_MODULE:
            literals = chinese_literals(path.read_text(encoding="utf-8"))
            if literals:
                found[rel] = literals
    assert not found, (
        f"Chinese text in action modules: {found}. Put what the bot says in {WORDING_MODULE} (a constant, or a "
        "template with str.format placeholders) and refer to it as wording.NAME; data tokens go in ACTION_DATA_TOKENS"
    )
    assert chinese_literals((ROOT / WORDING_MODULE).read_text(encoding="utf-8")), "the wording module holds no text"


# ---- imports at module level ---------------------------------------------------------------------

# An import belongs at the top of its module. One inside a function only where it breaks a real cost at import time
# (Rasa, rasa_sdk, openpyxl: measure with `python -X importtime -c "import X"`) or an import cycle, with the reason
# on its line: `import rasa  # lazy: Rasa takes seconds to import`, `# lazy: cycle bot.x -> bot.y`.
LAZY_MARK = "# lazy:"
SKIPPED_DIRS = ("bot/db/migrations/",)  # Alembic's env.py and revisions: run by Alembic, not imported


def unexplained_function_imports(source: str) -> list[tuple[int, str]]:
    """(line, statement) of each import inside a function (nested at any depth, also in methods and in
    classes defined in a function) whose lines carry no `# lazy:` comment."""
    lines = source.splitlines()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                statement = lines[child.lineno - 1 : child.end_lineno]
                if not any(LAZY_MARK in line for line in statement):
                    found.append((child.lineno, " ".join(line.strip() for line in statement)))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def test_the_lazy_import_check_finds_imports_inside_functions():
    source = """import os
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from bot.settings import Settings
def f():
    import json
    from bot import text  # some other comment
    import rasa  # lazy: Rasa takes seconds to import
    from openpyxl.styles import (  # lazy: openpyxl, only the export
        Font,
    )
    class C:
        def m(self):
            from bot.db import sessions
    return json
class D:
    import re
    async def g(self):
        from bot import (
            logmask,
        )
"""
    assert unexplained_function_imports(source) == [
        (6, "import json"),
        (7, "from bot import text  # some other comment"),
        (14, "from bot.db import sessions"),
        (19, "from bot import ( logmask, )"),
    ]


def test_imports_inside_functions_say_why():
    found = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SKIPPED_DIRS):
            continue
        found += [
            f"{rel}:{line} {text}" for line, text in unexplained_function_imports(path.read_text(encoding="utf-8"))
        ]
    assert not found, (
        "imports inside functions without a reason:\n  " + "\n  ".join(found) + "\nMove each to the top of its module; "
        "keep it in the function only for a real import-time cost (Rasa, openpyxl, …) or an import cycle, with "
        "`# lazy: <why>` on its line (CONTRIBUTING.md, Conventions)"
    )


def test_mypy_finds_no_type_errors():
    code, out = run_tool("mypy")
    assert code == 0, out
    assert "Success: no issues found" in out, out


# ---- the window's calendar (bot/clock.py) ---------------------------------------------------------

# The machine may run in UTC while the window works in Beijing time: between 16:00 and 24:00 UTC the machine's
# date is the window's yesterday. A knowledge entry reviewed "today" was refused as reviewed in the future on
# such an evening (CI caught it). Every "what day/time is it here" goes through bot.clock; these calls read the
# machine's own zone instead.
MACHINE_ZONE_CALLS = {
    ("date", "today"): "date.today()",
    ("datetime", "today"): "datetime.today()",
    ("datetime", "now"): "datetime.now() without a zone",
    ("datetime", "fromtimestamp"): "datetime.fromtimestamp() without a zone",
    ("time", "localtime"): "time.localtime()",
    ("time", "strftime"): "time.strftime()",
}
ZONE_ARGUMENT = {"now": 1, "fromtimestamp": 2, "strftime": 2}  # today() and localtime() never take one
CLOCK_MODULE = "bot/clock.py"


def machine_zone_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) where `source` asks the machine's own time zone for the date or time: the calls above, and
    `.astimezone()` without a zone (naive instants from the database are UTC, not the machine's zone)."""
    found = []
    tree = ast.parse(source)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in called:  # handed on as a callable: date.today
            owner = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", None)
            if (owner, node.attr) in MACHINE_ZONE_CALLS:
                found.append((node.lineno, MACHINE_ZONE_CALLS[(owner, node.attr)].replace("()", "") + " as a callable"))
            continue
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        needed = ZONE_ARGUMENT.get(func.attr)  # positional arguments that include a zone (or a struct_time)
        zone_given = needed is not None and (bool(node.keywords) or len(node.args) >= needed)
        if func.attr == "astimezone" and not node.args and not node.keywords:
            found.append((node.lineno, ".astimezone() without a zone"))
            continue
        owner = func.value.id if isinstance(func.value, ast.Name) else getattr(func.value, "attr", None)
        if (owner, func.attr) in MACHINE_ZONE_CALLS and not zone_given:  # date.today() or datetime.date.today()
            found.append((node.lineno, MACHINE_ZONE_CALLS[(owner, func.attr)]))
    return sorted(found)


def test_the_calendar_check_finds_reads_of_the_machines_zone():
    source = (
        "from datetime import date, datetime, timezone\nimport time\n"
        "a = date.today()\nb = datetime.now()\nc = datetime.now(timezone.utc)\nd = x.astimezone()\n"
        "e = x.astimezone(BEIJING)\nf = datetime.fromtimestamp(1)\ng = datetime.fromtimestamp(1, tz=timezone.utc)\n"
        "h = time.localtime()\ni = time.time()\nj = datetime.today()\nk = time.strftime('%Y', t)\nm = time.strftime('%Y')\nn = datetime.datetime.now()\no = f(today=date.today)\n"
    )
    assert [line for line, _ in machine_zone_reads(source)] == [3, 4, 6, 8, 10, 12, 14, 15, 16]


def test_the_window_calendar_is_beijing_time_everywhere():
    readers = {}
    for path in sorted(
        p for top in ("bot", "actions", "bench", "tests", "scripts") for p in ROOT.glob(f"{top}/**/*.py")
    ):
        rel = path.relative_to(ROOT).as_posix()
        if rel != CLOCK_MODULE and (found := machine_zone_reads(path.read_text(encoding="utf-8"))):
            readers[rel] = found
    assert not readers, (
        f"these read the machine's time zone: {readers}. The window's day and wall clock are Beijing time: use "
        "bot.clock.today() / now() / local(dt), or pass timezone.utc for an instant"
    )


# ---- test modules don't import each other -------------------------------------------------------------

# A test module that imports from another (`from tests.unit.test_files import PDF`, or `from test_files import PDF`
# after putting tests/unit on sys.path) ties the two files together: moving, renaming or splitting one breaks the
# other, and importing a test module runs its module-level set-up a second time under another name. What several
# test modules share lives in a helper module (tests/unit/desk_helpers.py, tests/unit/wechat_helpers.py,
# tests/browser/helpers.py, tests/race.py …) or, for fixtures of one folder, in its conftest.py. Test modules are the
# files pytest collects: test_*.py and *_test.py (pytest's default python_files).
TEST_MODULE_PATTERNS = ("test_*", "*_test")


def imported_test_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of a test module in `source`: `import test_x`, `import tests.unit.test_x`,
    `from test_x import …`, `from tests.unit.test_x import …`, `from tests.unit import test_x`, the relative
    `from .test_x import …` and `from . import test_x`, at any depth, and `importlib.import_module("…")` of such a
    name. A test module is one of this project's: a top-level name (on sys.path) or one under `tests`, not a library's
    module that happens to be called test_… (`aiohttp.test_utils`)."""
    import fnmatch

    def is_test_module(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEST_MODULE_PATTERNS)

    def ours(dotted: str) -> bool:  # a top-level module (tests/unit put on sys.path) or one of the tests package
        return "." not in dotted or dotted.split(".")[0] == "tests"

    def names_a_test_module(dotted: str) -> bool:
        return ours(dotted) and any(is_test_module(part) for part in dotted.split("."))

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if names_a_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if (node.level or ours(module)) and any(is_test_module(part) for part in module.split(".")):
                found.append((node.lineno, module))  # from tests.unit.test_x import …, from .test_x import …
            elif node.level or module.split(".")[0] == "tests":  # from tests.unit import test_x, from . import test_x
                prefix = module if module.endswith(".") else module + "."
                found += [(node.lineno, prefix + a.name) for a in node.names if is_test_module(a.name)]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and names_a_test_module(node.args[0].value)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def test_the_test_import_check_finds_the_ways_of_importing_a_test_module():
    source = """import os
import test_files
import tests.unit.test_files as files
from test_enterprise_file import JIA
from tests.unit.test_privacy import (
    NOW,
    person,
)
from tests.unit import test_scheduler, desk_helpers
from . import test_web_chat
from .test_web_chat import say
from ..unit.test_files import PDF
from tests.unit.desk_helpers import add_staff
from aiohttp.test_utils import TestClient
import pytest_asyncio
from bot.tooling import test_runner
def f():
    from tests.e2e.test_wechat_files import media_xml
    return importlib.import_module("tests.scale.test_cluster"), import_module("bot.desk")
import conftest, checks_test
"""
    assert imported_test_modules(source) == [
        (2, "test_files"),
        (3, "tests.unit.test_files"),
        (4, "test_enterprise_file"),
        (5, "tests.unit.test_privacy"),
        (9, "tests.unit.test_scheduler"),
        (10, ".test_web_chat"),
        (11, ".test_web_chat"),
        (12, "..unit.test_files"),
        (18, "tests.e2e.test_wechat_files"),
        (19, "tests.scale.test_cluster"),
        (20, "checks_test"),
    ]


def test_test_modules_do_not_import_each_other():
    found = []
    for path in sorted((ROOT / "tests").glob("**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        found += [
            f"{rel}:{line} imports {module}" for line, module in imported_test_modules(path.read_text(encoding="utf-8"))
        ]
    assert not found, (
        "test modules import other test modules:\n  " + "\n  ".join(found) + "\nMove what they share (constants, "
        "helper functions, fixtures, fake peers) into a helper module with a docstring saying what it holds, such as "
        "tests/unit/desk_helpers.py (a fixture of one folder may go in its conftest.py), and import it from there in "
        "both (CONTRIBUTING.md, Test)"
    )
