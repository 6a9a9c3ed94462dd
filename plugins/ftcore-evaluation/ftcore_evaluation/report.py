"""Writing a report: Markdown with linked figures, and self-contained HTML.

The HTML embeds every image as a base64 ``data:`` URI, carries its stylesheet inline,
and has no scripts and no external resources, so it opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

from ftcore.api import ReportSection, atomic_write_text, markdown_escape

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #1f2328; line-height: 1.45; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
img { max-width: 100%; border: 1px solid #eaeef2; margin: .5em 0; }
code { background: #f6f8fa; padding: 1px 4px; border-radius: 3px; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; }
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure"


def code(text: Any) -> str:
    """Inline code (Markdown escapes its content itself)."""
    return "`" + " ".join(str(text).split()).replace("`", "'") + "`"


def _figure_names(sections: list[ReportSection]) -> list[list[tuple[str, str, bytes]]]:
    """Per section: (original name, unique file name, bytes)."""
    used: set[str] = set()
    out = []
    for section in sections:
        found = []
        for name, data in section.images.items():
            stem, _, ext = name.rpartition(".")
            file = f"{slug(stem or name)}.{ext or 'png'}"
            if file in used:
                file = f"{slug(section.title)}_{file}"
            used.add(file)
            found.append((name, file, data))
        out.append(found)
    return out


def markdown(title: str, intro: str, sections: list[ReportSection]) -> tuple[str, dict]:
    """The report's Markdown and ``{"figures/<file>": bytes}`` it links."""
    parts, images = [f"# {title}", "", intro, ""], {}
    for section, figures in zip(sections, _figure_names(sections)):
        parts += [f"## {section.title}", "", section.markdown.strip(), ""]
        for name, file, data in figures:
            images[f"figures/{file}"] = data
            parts += [
                f"![{markdown_escape(section.title)}: {markdown_escape(name)}](figures/{file})",
                "",
            ]
    return "\n".join(parts).rstrip() + "\n", images


def to_html(title: str, text: str, images: dict[str, bytes]) -> str:
    """Self-contained HTML of the Markdown report, images embedded."""
    import markdown as md

    body = md.markdown(text, extensions=["tables", "fenced_code", "sane_lists", "md_in_html"])

    def embed(match: re.Match) -> str:
        data = images.get(html.unescape(match.group(1)))
        if data is None:
            return match.group(0)
        return 'src="data:image/png;base64,' + base64.b64encode(data).decode("ascii") + '"'

    body = re.sub(r'src="([^"]+)"', embed, body)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write(folder: Path, title: str, intro: str, sections: list[ReportSection]) -> dict[str, str]:
    """Write ``report.md``, ``figures/*.png`` and ``report.html`` into ``folder``."""
    text, images = markdown(title, intro, sections)
    for rel, data in images.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    atomic_write_text(folder / "report.md", text)
    atomic_write_text(folder / "report.html", to_html(title, text, images))
    return {"markdown": str(folder / "report.md"), "html": str(folder / "report.html")}
