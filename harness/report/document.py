"""The report as a document: sections of text, figures and tables, rendered as Markdown and as
one self-contained HTML file (figures embedded as data URIs, styles inline, no scripts, no
fonts or anything else fetched from elsewhere).

Lead sections (the decision) come first, before the contents; collapsed sections (data
tables, provenance) are closed <details> the reader opens, and so is every table but those
with verdicts (`shut=False`): its name and note show, its rows on a click. Text is Markdown
(inline: code, emphasis, links), rendered by markdown-it-py in the HTML. Wide tables wrap
their text.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup

APPENDIX_ROWS = 50  # rows of a long table shown in the document; the files hold all


@dataclass(frozen=True)
class Table:
    name: str  # its file name in tables/, without the suffix
    description: str
    frame: pd.DataFrame
    full: bool = True  # False: show the first APPENDIX_ROWS rows
    wrap: bool = False  # True: its cells wrap, so it fits the page width
    shut: bool = True  # True: a closed <details> in the HTML (its name and note show)

    def shown(self) -> pd.DataFrame:
        return self.frame if self.full else self.frame.head(APPENDIX_ROWS)


@dataclass(frozen=True)
class Image:
    name: str  # its file name in figures/, without the suffix
    title: str
    caption: str


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    items: list[Table | Image | str] = field(default_factory=list)  # str: preformatted text
    lead: bool = False  # shown first, before the contents, its text as verdict sentences
    collapsed: bool = False  # a closed <details> in the HTML

    @property
    def anchor(self) -> str:
        return self.title.lower().replace(" ", "-")


def render_markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- [{s.title}](#{s.anchor})" for s in sections] + [""]
    for section in sections:
        lines += [f"## {section.title}", "", *_paragraphs(section.text)]
        for item in section.items:
            if isinstance(item, Image):
                lines += [f"### {item.title}", "", f"![{item.title}](figures/{item.name}.png)", ""]
                lines += [f"*{item.caption}* ([SVG](figures/{item.name}.svg))", ""]
            elif isinstance(item, Table):
                lines += [f"### `{item.name}`", "", _table_note(item), ""]
                lines += [_display(item.shown()).to_markdown(index=False), ""]
            else:
                lines += ["```", item.rstrip(), "```", ""]
    return "\n".join(lines)


def render_html(title: str, sections: list[Section], figures: Path) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    inline = MarkdownIt("commonmark", {"html": False})
    return env.from_string(TEMPLATE).render(
        title=title,
        sections=sections,
        markdown=lambda text: Markup(inline.renderInline(text)),
        is_table=lambda item: isinstance(item, Table),
        is_image=lambda item: isinstance(item, Image),
        table_html=lambda item: Markup(
            _display(item.shown()).to_html(
                index=False, border=0, classes="data wrap" if item.wrap else "data", na_rep=""
            )
        ),
        table_note=_table_note,
        data_uri=lambda item: _data_uri(figures / f"{item.name}.png"),
    )


def _paragraphs(text: list[str]) -> list[str]:
    return [line for paragraph in text for line in (paragraph, "")]


def _table_note(table: Table) -> str:
    rows = len(table.frame)
    shown = "" if table.full or rows <= APPENDIX_ROWS else f"; first {APPENDIX_ROWS} shown"
    return f"{table.description} ({rows} rows{shown}; tables/{table.name}.parquet and .csv)"


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers to short text: 4 significant digits, inf as such, missing as empty."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(_number)
        elif pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].map({True: "yes", False: "no"})
    return shown.astype(object).where(shown.notna(), "")


def _number(value: float) -> str:
    if pd.isna(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; margin: .2em 0 .5em; }
h1, h2, h3 { line-height: 1.2; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
summary h2 { display: inline; border: 0; }
summary { cursor: pointer; margin-top: 2em; }
details.table > summary { margin: .4em 0; }
p.verdict { font-size: 1.1em; background: #f3f6fb; border-left: 4px solid #2a62b8;
            padding: .5em .8em; margin: .4em 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
table.data { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
table.data th, table.data td { border: 1px solid #ddd; padding: .2em .5em; text-align: right; }
table.data th { background: #f4f4f4; }
table.wrap { width: 100%; table-layout: auto; }
table.wrap td, table.wrap th { white-space: normal; overflow-wrap: anywhere; }
.note { font-size: .85em; color: #555; }
.scroll { overflow-x: auto; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
@media print { body { max-width: none; margin: 0; font-size: 10pt; } nav { display: none; }
               figure, tr { break-inside: avoid; } }
</style>
</head>
<body>
{% macro body(s) %}
{% for p in s.text %}<p{% if s.lead %} class="verdict"{% endif %}>{{ markdown(p) }}</p>
{% endfor %}
{% for item in s.items %}
{% if is_image(item) %}
<figure id="figure-{{ item.name }}">
<h3>{{ item.title }}</h3>
<img src="{{ data_uri(item) }}" alt="{{ item.title }}">
<figcaption>{{ markdown(item.caption) }}</figcaption>
</figure>
{% elif is_table(item) %}
{% if item.shut %}
<details class="table" id="table-{{ item.name }}">
<summary><code>{{ item.name }}</code>: <span class="note">{{ table_note(item) }}</span></summary>
<div class="scroll">{{ table_html(item) }}</div>
</details>
{% else %}
<div class="table" id="table-{{ item.name }}">
<h3><code>{{ item.name }}</code></h3>
<p class="note">{{ table_note(item) }}</p>
<div class="scroll">{{ table_html(item) }}</div>
</div>
{% endif %}
{% else %}
<pre>{{ item }}</pre>
{% endif %}
{% endfor %}
{% endmacro %}
<h1>{{ title }}</h1>
{% for s in sections if s.lead %}
<section id="{{ s.anchor }}">
{{ body(s) }}
</section>
{% endfor %}
<nav><h2>Contents</h2><ul>
{% for s in sections %}<li><a href="#{{ s.anchor }}">{{ s.title }}</a></li>
{% endfor %}</ul></nav>
{% for s in sections if not s.lead %}
{% if s.collapsed %}
<details id="{{ s.anchor }}">
<summary><h2>{{ s.title }}</h2> (click to open)</summary>
{{ body(s) }}
</details>
{% else %}
<section id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
{{ body(s) }}
</section>
{% endif %}
{% endfor %}
</body>
</html>
"""
