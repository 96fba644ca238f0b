"""The report laid out as one self-contained HTML file or as Markdown with its charts beside it.

The HTML needs nothing from outside: styles are inline, charts are inline SVG whose text is drawn
as outlines, and the font stack names the CJK font the charts were drawn with. Files are written
0640 (a report is meant to be handed on), each replaced atomically.
"""

import html
import os
from collections.abc import Sequence
from pathlib import Path

from opsrun.document import html_page, markdown
from opsrun.errors import ExitCode, OpsrunError
from opsrun.report.charts import CJK_FAMILIES, LATIN_FAMILY
from opsrun.report.document import Chart, Report

REPORT_FILE_MODE = 0o640


def font_stack(cjk_family: str | None, *, japanese: bool) -> str:
    """The CSS font-family list: the CJK family found first for Japanese, else after the Latin one."""
    cjk = [cjk_family] if cjk_family else []
    cjk += [family for family in CJK_FAMILIES if family != cjk_family]
    families = [*cjk, LATIN_FAMILY] if japanese else [LATIN_FAMILY, *cjk]
    return ", ".join([*(f'"{family}"' for family in families), "sans-serif"])


def _style(fonts: str) -> str:
    return (
        f"body{{font-family:{fonts};max-width:62rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem}"
        "th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}"
        "th{background:#eee}"
        "figure{margin:1rem 0}figure svg{max-width:100%;height:auto}"
        "figcaption{font-size:.9rem;color:#555}"
        "@media print{h2{break-before:page}figure,table{break-inside:avoid}}"
    )


def to_html(report: Report, fonts: str) -> str:
    def chart(block: object) -> list[str] | None:
        if not isinstance(block, Chart):
            return None
        if block.svg is None:
            return [f"<p>{html.escape(block.no_data)}</p>"]
        return [
            f'<figure class="chart" id="chart-{html.escape(block.key)}">{block.svg}'
            f"<figcaption>{html.escape(block.title)}</figcaption></figure>"
        ]

    return html_page(
        report.title, report.sections, language=report.language, style=_style(fonts), own=chart, viewport=True
    )


def chart_file_name(report_path: Path, chart: Chart) -> str:
    """The file of a chart beside the Markdown report: <report stem>-<chart>.svg."""
    return f"{report_path.stem}-{chart.key}.svg"


def to_markdown(report: Report, report_path: Path | None) -> str:
    """Markdown; charts link to their files beside `report_path`, or are left out (None: stdout)."""

    def chart(block: object) -> list[str] | None:
        if not isinstance(block, Chart):
            return None
        if block.svg is None:
            return [block.no_data]
        if report_path is None:
            return [block.omitted]
        return [f"![{block.title}]({chart_file_name(report_path, block)})"]

    return markdown(report.title, report.sections, own=chart)


def write_report_file(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0640), replacing it atomically; an OpsrunError names the path."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, REPORT_FILE_MODE)
        try:
            os.fchmod(fd, REPORT_FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                fd = -1
                stream.write(text)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OpsrunError(
            f"cannot write the report file {path}: {error.strerror or error}",
            hint="choose a writable path with --out",
            exit_code=ExitCode.CONFIG,
        ) from error


def write_report(report: Report, path: Path, *, output_format: str, fonts: str) -> list[Path]:
    """Write the report to `path` (and, for Markdown, its charts beside it); returns the files written."""
    if output_format == "html":
        write_report_file(path, to_html(report, fonts))
        return [path]
    written: list[Path] = []
    charts: Sequence[Chart] = [chart for chart in report.charts() if chart.svg is not None]
    for chart in charts:
        chart_path = path.with_name(chart_file_name(path, chart))
        write_report_file(chart_path, chart.svg or "")
        written.append(chart_path)
    write_report_file(path, to_markdown(report, path))
    return [path, *written]
