"""HTML templates (Jinja2) for the desk and the reports: one way to build an Environment.

Why templates and not f-strings: with autoescape every value a template prints is escaped unless the
template says otherwise, so a forgotten escape can no longer put an enterprise's text into the markup.
Every value goes through `finalize` = `html.escape(quote=True)`, the escaping the hand-written HTML used,
so pages print exactly as before (quotes as &quot; and &#x27;, None as nothing); macros, blocks and values
already marked safe (markupsafe.Markup) pass unchanged. StrictUndefined: a misspelt name fails the render
instead of printing nothing. Templates live in a `templates/` folder inside the package that renders them.
"""

from __future__ import annotations

from html import escape
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


def _escape(value: Any) -> Any:
    """The finalize hook: escape as html.escape does (Jinja's own escaping writes quotes differently)."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(str(value), quote=True))


def environment(package: str, folder: str = "templates") -> Environment:
    """An Environment over `<package>/<folder>/*.html`: autoescape on, strict about undefined names."""
    return Environment(
        loader=PackageLoader(package, folder),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
