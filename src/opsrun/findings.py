"""The health findings a playbook published (opsrun.ops.health_check), shown after a run."""

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

FINDINGS_KEY = "health_check_findings"
SUMMARY_KEY = "health_check_summary"
REPORT_FILE_KEY = "health_check_report_file"
# Worst first; ok findings are counted in the summary, not listed.
STATUS_ORDER = ("crit", "unknown", "warn")
STATUS_STYLE = {"crit": "bold red", "unknown": "magenta", "warn": "yellow"}
MAX_ROWS = 40


def _cell(value: object) -> str:
    """A value or threshold as an operator reads it: `warn 2, crit 4` rather than a dict."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_cell(level)}" for key, level in value.items() if level is not None)
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    return str(value)


def findings_table(published: Mapping[str, Any]) -> Table | None:
    """A table of the findings that are not ok, worst first; None when there are none to show."""
    findings = published.get(FINDINGS_KEY)
    if not isinstance(findings, list):
        return None
    shown = [item for item in findings if isinstance(item, Mapping) and item.get("status") in STATUS_ORDER]
    if not shown:
        return None
    shown.sort(
        key=lambda item: (STATUS_ORDER.index(item["status"]), str(item.get("host")), str(item.get("check")))
    )
    table = Table(title="Health findings", title_justify="left")
    for column in ("host", "check", "item", "status", "value", "threshold", "message"):
        table.add_column(column, overflow="fold")
    for item in shown[:MAX_ROWS]:
        status = str(item["status"])
        table.add_row(
            Text(_cell(item.get("host"))),
            Text(_cell(item.get("check"))),
            Text(_cell(item.get("item"))),
            Text(status, style=STATUS_STYLE[status]),
            Text(_cell(item.get("value"))),
            Text(_cell(item.get("threshold"))),
            Text(_cell(item.get("message"))),
        )
    if len(shown) > MAX_ROWS:
        table.caption = f"{len(shown) - MAX_ROWS} more in the report file"
    return table


def findings_summary(published: Mapping[str, Any]) -> str | None:
    """One line: the count per status and where the report is; None without health findings."""
    summary = published.get(SUMMARY_KEY)
    if not isinstance(summary, Mapping):
        return None
    counts = ", ".join(f"{summary.get(status, 0)} {status}" for status in ("ok", "warn", "crit", "unknown"))
    report = published.get(REPORT_FILE_KEY)
    return f"Health check: {counts}" + (f"; report: {report}" if report else "")
