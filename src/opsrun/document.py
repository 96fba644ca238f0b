"""A small document model shared by the operations design and the monthly report: sections of
paragraphs, tables and bullet lists, written as Markdown or as the body of an HTML page.

A renderer with blocks of its own (the report's charts) passes a function that writes them and
returns None for the blocks it leaves to this module.
"""

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Items:
    lines: list[str]


@dataclass
class Section:
    title: str
    # Paragraphs (str), tables, bullet lists, and blocks a renderer of its own writes.
    blocks: list[Any] = field(default_factory=list)
    level: int = 2
    # A stable identifier for the HTML anchor, the same in every language.
    anchor: str = ""


# Writes a block of a renderer's own as lines, or returns None for a block it does not know.
BlockWriter = Callable[[object], list[str] | None]


def _no_blocks_of_its_own(block: object) -> None:
    del block


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(title: str, sections: Sequence[Section], own: BlockWriter = _no_blocks_of_its_own) -> str:
    out = [f"# {title}", ""]
    for section in sections:
        if section.title:
            out += [f"{'#' * section.level} {section.title}", ""]
        for block in section.blocks:
            written = own(block)
            if written is not None:
                out += written
            elif isinstance(block, Table):
                out.append("| " + " | ".join(map(_markdown_cell, block.header)) + " |")
                out.append("|" + "---|" * len(block.header))
                out += ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in block.rows]
            elif isinstance(block, Items):
                out += [f"- {line}" for line in block.lines]
            else:
                out.append(str(block))
            out.append("")
    return "\n".join(out)


def html_page(
    title: str,
    sections: Sequence[Section],
    *,
    language: str,
    style: str,
    own: BlockWriter = _no_blocks_of_its_own,
    viewport: bool = False,
) -> str:
    """One self-contained HTML page: the style inline, nothing loaded from elsewhere."""
    escape = html.escape
    out = ["<!DOCTYPE html>", f'<html lang="{language}">']
    if viewport:
        out += [
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title><style>{style}</style></head>",
        ]
    else:
        out.append(f'<head><meta charset="utf-8"><title>{escape(title)}</title><style>{style}</style></head>')
    out += ["<body>", f"<h1>{escape(title)}</h1>"]
    for section in sections:
        if section.title:
            anchor = f' id="{escape(section.anchor)}"' if section.anchor else ""
            out.append(f"<h{section.level}{anchor}>{escape(section.title)}</h{section.level}>")
        for block in section.blocks:
            written = own(block)
            if written is not None:
                out += written
            elif isinstance(block, Table):
                out.append("<table>")
                out.append("<tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in block.header) + "</tr>")
                out += [
                    "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                    for row in block.rows
                ]
                out.append("</table>")
            elif isinstance(block, Items):
                out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in block.lines) + "</ul>")
            else:
                out.append(f"<p>{escape(str(block))}</p>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
