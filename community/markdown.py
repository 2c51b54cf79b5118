"""Markdown for organiser-written text, sanitised with an explicit allowlist (R33).

nh3's default allowlist keeps remote <img>, a tracking pixel; ours has no
images, no iframes, no styles, only https and mailto links.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup  # noqa: TID251 (the one place sanitised HTML is marked safe)

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote", "h2", "h3", "h4"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"https", "mailto"}

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(text: str | None) -> Markup:
    """Markdown source to HTML that is safe to insert into a page."""
    # nh3 has just sanitised it with our allowlist, so it may be marked safe.
    return Markup(sanitise_html(_parser.render(text or "")))  # noqa: S704  # nosec
