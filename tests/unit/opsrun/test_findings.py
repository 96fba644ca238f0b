"""The health findings opsrun shows after a run."""

from rich.console import Console

from opsrun.findings import MAX_ROWS, findings_summary, findings_table
from opsrun.progress import RunTracker


def finding(host: str, status: str, check: str = "disk_used") -> dict[str, object]:
    return {
        "host": host,
        "check": check,
        "item": "/",
        "status": status,
        "value": 1,
        "threshold": 2,
        "message": f"{host} {status}",
    }


def render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_only_findings_that_are_not_ok_are_listed_worst_first() -> None:
    published = {
        "health_check_findings": [
            finding("a", "warn"),
            finding("b", "ok"),
            finding("c", "crit"),
            finding("d", "unknown"),
        ]
    }
    table = findings_table(published)
    assert table is not None
    lines = [line for line in render(table).splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == ["c", "d", "a"]


def test_nothing_to_show_without_findings_or_when_all_are_ok() -> None:
    assert findings_table({}) is None
    assert findings_table({"health_check_findings": "not a list"}) is None
    assert findings_table({"health_check_findings": [finding("a", "ok")]}) is None
    assert findings_summary({}) is None


def test_a_long_list_is_cut_and_says_how_many_more() -> None:
    table = findings_table({"health_check_findings": [finding(f"h{n}", "crit") for n in range(MAX_ROWS + 5)]})
    assert table is not None and table.row_count == MAX_ROWS
    assert table.caption == "5 more in the report file"


def test_the_summary_counts_every_status_and_names_the_report() -> None:
    published = {"health_check_summary": {"ok": 7, "crit": 1}, "health_check_report_file": "/r/health.json"}
    assert (
        findings_summary(published) == "Health check: 7 ok, 0 warn, 1 crit, 0 unknown; report: /r/health.json"
    )


def test_the_tracker_keeps_what_the_playbook_published() -> None:
    tracker = RunTracker()
    tracker.handle({"event": "playbook_on_stats", "event_data": {"artifact_data": {"x": 1}}})
    assert tracker.published == {"x": 1}
    tracker.handle({"event": "playbook_on_stats", "event_data": {"artifact_data": None}})
    assert tracker.published == {"x": 1}


def test_thresholds_and_values_read_as_an_operator_writes_them() -> None:
    item = finding("a", "crit") | {"value": 7.25, "threshold": {"warn": 2.0, "crit": 4.0, "x": None}}
    table = findings_table({"health_check_findings": [item]})
    assert table is not None
    text = render(table)
    assert "7.25" in text and "warn 2, crit 4" in text and "None" not in text
