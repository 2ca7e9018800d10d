"""The Jinja2 environment shared by pages and documents; each domain keeps its templates beside its code."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.web.i18n import Translator

_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [
    _ROOT / "web" / "templates",
    _ROOT / "members" / "templates",
    _ROOT / "contracts" / "templates",
    _ROOT / "audit" / "templates",
    _ROOT / "auth" / "templates",
    _ROOT.parent / "provisioning" / "templates",
    _ROOT.parent / "network" / "health" / "templates",
    _ROOT.parent / "billing" / "documents" / "templates",
    _ROOT.parent / "billing" / "dividends" / "templates",
    _ROOT.parent / "billing" / "invoices" / "templates",
    _ROOT.parent / "billing" / "payments" / "templates",
    _ROOT.parent / "billing" / "dunning" / "templates",
]


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(p) for p in TEMPLATE_DIRS]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(name: str, *, translator: Translator, **context: Any) -> str:
    """Render a template with the translator's helpers available as ``_``, ``ngettext``, ``money``, ``decimal``
    (a rate as the language writes it), ``date``."""
    template = environment().get_template(name)
    return template.render(
        _=translator.gettext,
        ngettext=translator.ngettext,
        money=translator.money,
        decimal=translator.number,
        date=translator.date,
        datetime=translator.datetime,
        locale=translator.locale,
        **context,
    )
