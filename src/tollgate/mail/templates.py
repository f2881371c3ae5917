"""Mails from Jinja2 templates: `<kind>.subject.txt`, `<kind>.txt` and `<kind>.html`.

The packaged templates live beside this module; `TOLLGATE_MAIL_TEMPLATES` names a folder
whose files of the same names take their place (any one of them). The HTML is
autoescaped; the text and subject are not (they are not HTML), and a subject is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGED = Path(__file__).parent / "templates"
MAX_SUBJECT = 200


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailTemplates:
    def __init__(self, override: str | None = None) -> None:
        loaders = [FileSystemLoader(override)] if override else []
        self._env = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(PACKAGED)]),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, **context: Any) -> RenderedMail:
        subject = self._env.get_template(f"{kind}.subject.txt").render(context)
        return RenderedMail(
            subject=" ".join(subject.split())[:MAX_SUBJECT],  # one line: no header injection
            text=self._env.get_template(f"{kind}.txt").render(context),
            html=self._env.get_template(f"{kind}.html").render(context),
        )
