"""The monthly report: its figures from a fixture month, the month's time zone, and the documents."""

import json
import re
import stat
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from report_fixtures import (
    DESIGN,
    EXPECTED_APPROVALS,
    EXPECTED_AVAILABILITY,
    EXPECTED_AVAILABILITY_SHARE,
    EXPECTED_CHANGES_WITH_DESIGN,
    EXPECTED_CHANGES_WITHOUT_DESIGN,
    EXPECTED_MTTA,
    EXPECTED_MTTR,
    EXPECTED_OPEN_AT_END,
    EXPECTED_OPENED,
    EXPECTED_RESOLVED,
    MIB,
    MONTH,
    TOKYO,
    build_month_store,
    write_ops_file,
)

from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat
from opsrun.report import charts
from opsrun.report.document import Chart, Table, build_report
from opsrun.report.figures import (
    availability,
    backups,
    changes,
    health_check_runs,
    incident_figures,
    patches,
    restarts,
    restore_checks,
    trends,
)
from opsrun.report.monthdata import MonthData, parse_month, playbook_name, read_month
from opsrun.report.output import to_html, to_markdown
from opsrun.report.text import Words, catalogue_keys
from opsrun.store import open_store

UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report") / "state"
    build_month_store(directory)
    return directory


def _month(state_dir: Path, zone: ZoneInfo = TOKYO, month: str = MONTH) -> MonthData:
    with open_store(state_dir) as store:
        return read_month(store, parse_month(month, zone))


@pytest.fixture(scope="module")
def november(state_dir: Path) -> MonthData:
    return _month(state_dir)


# ---------------------------------------------------------------- the month and its runs


def test_a_month_runs_from_local_midnight_to_local_midnight() -> None:
    period = parse_month("2026-11", TOKYO)
    assert period.start.isoformat() == "2026-11-01T00:00:00+09:00"
    assert period.end.isoformat() == "2026-12-01T00:00:00+09:00"
    assert len(period.days()) == 30
    december = parse_month("2026-12", UTC_ZONE)
    assert december.end.isoformat() == "2027-01-01T00:00:00+00:00"
    assert december.days()[-1] == date(2026, 12, 31)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "November", "", "2026-11-01"])
def test_a_month_that_is_not_yyyy_mm_is_refused_with_the_format_to_use(text: str) -> None:
    with pytest.raises(OpsrunError) as raised:
        parse_month(text, TOKYO)
    assert raised.value.exit_code == ExitCode.USAGE
    assert "YYYY-MM" in raised.value.hint


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("opsrun.ops.patching", "patching"),
        ("patching", "patching"),
        ("site/playbooks/patching.yml", "patching"),
    ],
)
def test_playbooks_are_named_as_the_collection_names_them(given: str, name: str) -> None:
    assert playbook_name(given) == name


def test_the_runs_of_the_month_depend_on_its_time_zone(state_dir: Path, november: MonthData) -> None:
    in_utc = _month(state_dir, UTC_ZONE)
    tokyo_ids = {run.id for run in health_check_runs(november)}
    utc_ids = {run.id for run in health_check_runs(in_utc)}
    # 1 November 00:30 JST is still October in UTC, 1 December 00:30 JST still November.
    assert "health-1101" in tokyo_ids and "health-1101" not in utc_ids
    assert "health-1201" in utc_ids and "health-1201" not in tokyo_ids
    assert len(tokyo_ids) == 30


# ---------------------------------------------------------------- figures


def test_availability_per_host_is_the_share_of_health_checks_it_passed(november: MonthData) -> None:
    found = availability(november)
    assert {host.host: (host.runs, host.available) for host in found} == EXPECTED_AVAILABILITY
    assert {host.host: host.share for host in found} == EXPECTED_AVAILABILITY_SHARE
    assert [host.host for host in found] == sorted(EXPECTED_AVAILABILITY)


def test_incident_counts_mtta_and_mttr(november: MonthData) -> None:
    figures = incident_figures(november)
    assert figures.opened == EXPECTED_OPENED
    assert figures.resolved == EXPECTED_RESOLVED
    assert figures.open_at_end == EXPECTED_OPEN_AT_END
    assert figures.mtta == EXPECTED_MTTA == timedelta(minutes=37, seconds=30)
    assert figures.acknowledged == 2
    assert figures.mttr == EXPECTED_MTTR == timedelta(minutes=112, seconds=30)
    assert figures.restored == 2


def test_incidents_of_the_month_include_one_opened_before_it_and_exclude_later_events(
    state_dir: Path, november: MonthData
) -> None:
    assert [record.incident.id for record in november.incidents] == [1, 2, 3, 4]
    october = _month(state_dir, month="2026-10")
    # Seen from the end of October, incident 1 was open and nothing had happened to it yet.
    assert [record.incident.id for record in october.incidents] == [1]
    assert [event.kind for event in october.incidents[0].events] == ["opened"]
    assert incident_figures(october).open_at_end == 1
    assert incident_figures(october).mtta is None


def test_a_later_month_leaves_out_incidents_resolved_before_it(state_dir: Path) -> None:
    december = _month(state_dir, month="2026-12")
    assert [record.incident.id for record in december.incidents] == [4]
    assert incident_figures(december).opened == 0


def test_patches_leave_out_check_mode_runs(november: MonthData) -> None:
    found = patches(november)
    assert [(host.host, host.status, host.rebooted) for host in found] == [
        ("web01", "patched", True),
        ("web02", "patched", False),
    ]
    packages = found[0].packages
    assert [(package.name, package.before, package.after, package.security) for package in packages] == [
        ("libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2", True),
        ("bash", "5.2.15-2+b7", "5.2.15-2+b8", False),
    ]


def test_backups_and_restore_tests(november: MonthData) -> None:
    found = backups(november)
    assert sum(1 for backup in found if backup.verified) == 7
    assert [(backup.host, backup.message) for backup in found if not backup.verified] == [
        ("web02", "backup host full")
    ]
    assert sum(backup.size for backup in found if backup.host == "web01") == 10 * MIB
    tests = restore_checks(november)
    assert [(test.host, test.passed) for test in tests] == [("web01", True), ("web02", False)]


def test_restarts_and_changes(november: MonthData) -> None:
    assert [(restart.service, restart.status) for restart in restarts(november)] == [
        ("nginx", "restarted"),
        ("php-fpm", "unchanged"),
    ]
    assert len(changes(november)) == EXPECTED_CHANGES_WITHOUT_DESIGN
    routine_steps = {("cleanup", "clean tmp")}
    with_design = changes(november, lambda routine, step: (routine, step) in routine_steps)
    assert len(with_design) == EXPECTED_CHANGES_WITH_DESIGN
    assert with_design[-1].routine == "cleanup"
    assert len(november.approvals) == EXPECTED_APPROVALS


def test_trends_hold_disk_and_memory_use_and_findings_per_local_day(november: MonthData) -> None:
    found = trends(november)
    db01 = found.disk[("db01", "/")]
    assert len(db01) == 30
    assert max(value for _, value in db01) == 91.0
    # memory use is 100 minus the available share the finding reports (70 - day).
    web01_memory = {at.astimezone(TOKYO).date(): value for at, value in found.memory["web01"]}
    assert web01_memory[date(2026, 11, 5)] == 35.0
    assert found.per_day[date(2026, 11, 10)]["crit"] == 1
    assert found.per_day[date(2026, 11, 20)]["crit"] == 1
    assert sum(found.per_day[date(2026, 11, 1)].values()) == 5
    assert date(2026, 10, 31) not in found.per_day


# ---------------------------------------------------------------- documents


@pytest.fixture(scope="module")
def plotter_family() -> str:
    family = charts.find_cjk_family()
    if family is None:
        pytest.fail(f"no CJK font for the charts; install {charts.CJK_PACKAGES} (tests/setup-system.sh)")
    return family


def _report_html(data: MonthData, language: str, family: str | None) -> str:
    plot = charts.Plotter(data.period, language, family)  # type: ignore[arg-type]
    report = build_report(data, language, design=DESIGN, ops_file="ops.yml", plot=plot)  # type: ignore[arg-type]
    return to_html(report, '"IPAGothic", sans-serif')


def test_html_has_every_section_and_three_inline_charts(november: MonthData, plotter_family: str) -> None:
    document = _report_html(november, "en", plotter_family)
    for anchor in (
        "summary",
        "availability",
        "trends",
        "incidents",
        "patches",
        "backups",
        "restarts",
        "changes",
        "scope",
    ):
        assert f'id="{anchor}"' in document
    assert document.count("<svg") == 3
    for chart in ("disk", "memory", "findings"):
        assert f'id="chart-{chart}"' in document
    # Self-contained: nothing is loaded from anywhere.
    assert not re.search(r"""(src|href)=["'](?!#)""", document)
    assert "<script" not in document and "@import" not in document
    assert "38 min (mean of 2)" in document and "1 h 53 min (mean of 2)" in document
    assert "96.7%" in document and "93.3%" in document


def test_japanese_chart_text_is_drawn_with_glyphs_of_the_cjk_font(
    november: MonthData, plotter_family: str
) -> None:
    from matplotlib import font_manager, ft2font  # noqa: PLC0415

    document = _report_html(november, "ja", plotter_family)
    path = font_manager.findfont(
        font_manager.FontProperties(family=plotter_family), fallback_to_default=False
    )
    font = ft2font.FT2Font(path)
    title = Words("ja")("chart.disk")
    glyphs = [font.get_char_index(ord(character)) for character in title if ord(character) > 0x2FFF]
    assert glyphs and 0 not in glyphs  # the font has every character of the title
    for glyph in glyphs:
        assert f'id="{font.postscript_name}-{glyph:x}"' in document
    assert "月次運用報告書 2026-11" in document
    assert "勤労感謝の日" in document  # the holiday, named in Japanese


def test_english_and_japanese_catalogues_have_the_same_keys() -> None:
    assert catalogue_keys("en") == catalogue_keys("ja")


def test_durations_read_naturally_in_both_languages() -> None:
    assert Words("en").duration(timedelta(minutes=37, seconds=30)) == "38 min"
    assert Words("en").duration(timedelta(hours=1, minutes=5)) == "1 h 5 min"
    assert Words("ja").duration(timedelta(days=2, hours=3, minutes=4)) == "2日3時間4分"


def test_an_empty_month_is_a_valid_report_that_says_there_is_no_data(state_dir: Path) -> None:
    empty = _month(state_dir, month="2025-01")
    assert empty.empty
    report = build_report(empty, "en", plot=None)
    assert all(chart.svg is None for chart in report.charts())
    markdown = to_markdown(report, None)
    assert "No data was recorded in this period" in markdown
    assert "No health check ran in this period." in markdown
    assert "Disk use per host and mount (%): no values in this period." in markdown
    summary = next(block for block in report.sections[1].blocks if isinstance(block, Table))
    assert dict(map(tuple, summary.rows))["Incidents opened"] == "0"  # type: ignore[arg-type]


def test_markdown_to_stdout_says_charts_are_left_out(november: MonthData) -> None:
    chart = Chart("disk", "Disk", "<svg/>", "Disk: no values", "Disk: left out")
    report = build_report(november, "en", plot=None)
    report.sections[3].blocks[0] = chart
    assert "Disk: left out" in to_markdown(report, None)
    assert "![Disk](report-disk.svg)" in to_markdown(report, Path("out/report.md"))


# ---------------------------------------------------------------- fonts


def test_a_missing_cjk_font_fails_japanese_clearly_and_english_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(charts.font_manager, "findSystemFonts", lambda: [])
    without_fonts = SimpleNamespace(
        ttflist=[SimpleNamespace(name="DejaVu Sans", fname="/fonts/DejaVuSans.ttf")]
    )
    with pytest.raises(OpsrunError) as raised:
        charts.chart_font("ja", without_fonts)  # type: ignore[arg-type]
    assert raised.value.exit_code == ExitCode.CONFIG
    assert "fonts-ipafont-gothic" in raised.value.hint and "--lang en" in raised.value.hint
    assert charts.chart_font("en", without_fonts) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- the command


@pytest.fixture
def options(state_dir: Path) -> Iterator[GlobalOptions]:
    yield GlobalOptions(state_dir=state_dir)


def test_the_command_writes_html_0640_and_markdown_with_its_charts(
    options: GlobalOptions, tmp_path: Path, capsys: pytest.CaptureFixture[str], plotter_family: str
) -> None:
    from opsrun.commands.report import report  # noqa: PLC0415

    ops_file = write_ops_file(tmp_path)
    html_file = tmp_path / "report.html"
    assert report(options, month=MONTH, language="ja", ops_file=ops_file, out=html_file) == 0
    assert stat.S_IMODE(html_file.stat().st_mode) == 0o640
    assert "ホスト別稼働率" in html_file.read_text(encoding="utf-8")
    markdown_file = tmp_path / "report.md"
    assert report(options, month=MONTH, output_format="md", ops_file=ops_file, out=markdown_file) == 0
    written = capsys.readouterr().out.split()
    chart_files = [tmp_path / f"report-{key}.svg" for key in ("disk", "memory", "findings")]
    assert written == [str(html_file), str(markdown_file), *map(str, chart_files)]
    for path in chart_files:
        assert path.read_text(encoding="utf-8").startswith("<svg")
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "![Disk use per host and mount (%)](report-disk.svg)" in markdown_file.read_text(encoding="utf-8")


def test_the_command_prints_a_json_envelope_with_the_figures(
    state_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from opsrun.commands.report import report  # noqa: PLC0415

    options = GlobalOptions(state_dir=state_dir, output=OutputFormat.JSON)
    assert report(options, month=MONTH, output_format="md", ops_file=write_ops_file(tmp_path)) == 0
    result = json.loads(capsys.readouterr().out)["result"]
    assert result["timezone"] == "Asia/Tokyo"
    assert result["availability"] == {"db01": 96.667, "web01": 100.0, "web02": 93.333}
    assert result["incidents"]["mtta_seconds"] == 2250.0
    assert result["incidents"]["mttr_seconds"] == 6750.0
    assert "chart left out on standard output" in result["document"]


def test_the_command_refuses_a_directory_as_out(options: GlobalOptions, tmp_path: Path) -> None:
    from opsrun.commands.report import report  # noqa: PLC0415

    with pytest.raises(OpsrunError) as raised:
        report(options, month=MONTH, out=tmp_path)
    assert "is a directory" in raised.value.message


def test_the_parser_takes_the_documented_options() -> None:
    import argparse  # noqa: PLC0415

    from opsrun.commands.report import add_parser  # noqa: PLC0415

    seen: list[bool] = []
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    add_parser(commands, lambda sub, *, in_subcommand: seen.append(in_subcommand))
    args = parser.parse_args(
        ["report", "--month", "2026-11", "--lang", "ja", "--format", "md", "--out", "r.md"]
    )
    assert (args.month, args.lang, args.format, args.out, args.ops_file) == (
        "2026-11",
        "ja",
        "md",
        Path("r.md"),
        None,
    )
    assert seen == [True]
    with pytest.raises(SystemExit):
        parser.parse_args(["report"])  # --month is required


def test_approved_steps_of_routine_runs_count_as_approvals(tmp_path: Path) -> None:
    with open_store(tmp_path) as store, store.write() as connection:
        connection.execute(
            """
            INSERT INTO routine_runs (id, routine, ops_file, started, status, started_by)
            VALUES ('20261115T010000.000000Z-release', 'release', '/srv/ops.yml', ?, 'succeeded', 'ops-lead')
            """,
            ("2026-11-15T01:00:00+00:00",),
        )
        connection.execute(
            """
            INSERT INTO gates (routine_run_id, step_index, step, requested, requested_by, expires, state,
                               approved_by, approver_tier, approved_at)
            VALUES ('20261115T010000.000000Z-release', 2, 'deploy', ?, 'ops-lead', ?, 'approved',
                    'client', 'client', ?)
            """,
            ("2026-11-15T01:00:00+00:00", "2026-11-18T01:00:00+00:00", "2026-11-15T02:30:00+00:00"),
        )
    data = _month(tmp_path)
    assert not data.empty
    [approved] = data.step_approvals
    assert (approved.step, approved.requested_by, approved.approved_by) == ("deploy", "ops-lead", "client")
    report = build_report(data, "en", design=None, plot=None)
    text = to_markdown(report, None)
    assert "| Approvals given | 1 |" in text
    assert (
        "| 2026-11-15 11:30 | 20261115T010000.000000Z-release | deploy | ops-lead | client | client |" in text
    )
