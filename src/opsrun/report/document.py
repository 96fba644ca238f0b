# ruff: noqa: RUF001 -- English text uses en dashes for ranges.
"""The content of the monthly report, built once as sections of blocks; the writers only lay it out.

Blocks are paragraphs, lists, tables and charts. The same content goes to HTML and to Markdown.
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from opsrun.document import Items, Section, Table
from opsrun.report import Language
from opsrun.report.figures import (
    FINDING_STATUSES,
    RESTARTED,
    Availability,
    ChangeSteps,
    availability,
    backups,
    changes,
    health_check_runs,
    incident_figures,
    patches,
    problem_findings,
    restarts,
    restore_checks,
    time_to_acknowledge,
    time_to_restore,
    trends,
)
from opsrun.report.monthdata import IncidentRecord, MonthData
from opsrun.report.text import Words

# Only for types: the schema's libraries load with the caller that loads ops.yml.
if TYPE_CHECKING:
    from opsrun.design.schema import MaintenanceWindow, OpsDesign
    from opsrun.report.charts import Plotter

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Chart:
    """A chart: its key (for file names), title, SVG image (None without data) and the notes shown
    instead of it when it has no data, or when Markdown goes to standard output."""

    key: str
    title: str
    svg: str | None
    no_data: str
    omitted: str


Block = str | Table | Items | Chart


@dataclass(frozen=True)
class Report:
    title: str
    language: Language
    sections: list[Section]

    def charts(self) -> list[Chart]:
        return [block for section in self.sections for block in section.blocks if isinstance(block, Chart)]


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns at GiB


class _Builder:
    def __init__(
        self,
        data: MonthData,
        words: Words,
        design: "OpsDesign | None",
        plot: "Plotter | None",
    ) -> None:
        self.data = data
        self.words = words
        self.design = design
        self.plot = plot

    # ------------------------------------------------------------------ formatting

    def when(self, moment: datetime) -> str:
        return self.data.period.local(moment).strftime("%Y-%m-%d %H:%M")

    def day(self, moment: datetime) -> str:
        return self.data.period.local(moment).strftime("%m-%d")

    def mean(self, span: timedelta | None, count: int) -> str:
        if span is None:
            return self.words("sum.mean.none")
        return self.words("sum.mean", duration=self.words.duration(span), count=count)

    def yes_no(self, flag: bool) -> str:
        return self.words("yes") if flag else self.words("no")

    # ------------------------------------------------------------------ sections

    def summary(self) -> Section:
        words, data = self.words, self.data
        blocks: list[Block] = []
        if data.empty:
            blocks.append(words("no_data"))
        incidents = incident_figures(data)
        patched = patches(data)
        packages = [package for host in patched for package in host.packages]
        made = backups(data)
        tests = restore_checks(data)
        rows = [
            [words("sum.health_runs"), str(len(health_check_runs(data)))],
            [words("sum.opened"), str(incidents.opened)],
            [words("sum.resolved"), str(incidents.resolved)],
            [words("sum.open_at_end"), str(incidents.open_at_end)],
            [words("sum.mtta"), self.mean(incidents.mtta, incidents.acknowledged)],
            [words("sum.mttr"), self.mean(incidents.mttr, incidents.restored)],
            [
                words("sum.packages"),
                words(
                    "sum.packages.value",
                    packages=len(packages),
                    hosts=len({host.host for host in patched if host.packages}),
                    security=sum(1 for package in packages if package.security),
                ),
            ],
            [words("sum.reboots"), str(sum(1 for host in patched if host.rebooted))],
            [
                words("sum.backups"),
                " / ".join(
                    str(count)
                    for count in (
                        sum(1 for backup in made if backup.verified and backup.created_now),
                        sum(1 for backup in made if backup.verified),
                        sum(1 for backup in made if not backup.verified),
                    )
                ),
            ],
            [
                words("sum.restore_tests"),
                words("sum.of", passed=sum(1 for test in tests if test.passed), total=len(tests)),
            ],
            [words("sum.restarts"), str(sum(1 for restart in restarts(data) if restart.status in RESTARTED))],
            [words("sum.changes"), str(len(changes(data, self.change_step())))],
            [words("sum.approvals"), str(len(data.approvals) + len(data.step_approvals))],
        ]
        blocks.append(Table([words("indicator"), words("value")], rows))
        return Section(words("summary"), blocks, anchor="summary")

    def availability(self) -> Section:
        words = self.words
        hosts = availability(self.data)
        blocks: list[Block] = [words("availability.note")]
        if hosts:
            blocks.append(
                Table(
                    [words("host"), words("health_runs"), words("available"), words("availability.percent")],
                    [_availability_row(host) for host in hosts],
                )
            )
        else:
            blocks.append(words("availability.none"))
        return Section(words("availability"), blocks, level=3, anchor="availability")

    def chart(self, key: str, title: str, svg: str | None) -> Chart:
        return Chart(
            key, title, svg, self.words("chart.none", title=title), self.words("chart.omitted", title=title)
        )

    def trends(self) -> tuple[Section, Section]:
        words, plot = self.words, self.plot
        found = trends(self.data)
        disk = {f"{host}:{mount}": points for (host, mount), points in found.disk.items()}
        labels = {status: words(f"status.{status}") for status in FINDING_STATUSES}
        percent = words("axis.percent")
        disk_title, memory_title, findings_title = (
            words("chart.disk"),
            words("chart.memory"),
            words("chart.findings"),
        )
        blocks: list[Block] = [
            self.chart(
                "disk",
                disk_title,
                plot.lines(disk, title=disk_title, ylabel=percent) if plot and disk else None,
            ),
            self.chart(
                "memory",
                memory_title,
                plot.lines(found.memory, title=memory_title, ylabel=percent)
                if plot and found.memory
                else None,
            ),
            self.chart(
                "findings",
                findings_title,
                plot.per_day(found.per_day, labels, title=findings_title, ylabel=words("axis.findings"))
                if plot and found.per_day
                else None,
            ),
        ]
        problems = problem_findings(self.data)
        problem_blocks: list[Block] = (
            [
                Table(
                    [
                        words("host"),
                        words("check"),
                        words("item"),
                        *(labels[status] for status in FINDING_STATUSES[1:]),
                        words("last_message"),
                    ],
                    [
                        [
                            problem.host,
                            problem.check,
                            problem.item,
                            *(str(problem.counts[status]) for status in FINDING_STATUSES[1:]),
                            problem.last_message,
                        ]
                        for problem in problems
                    ],
                )
            ]
            if problems
            else [words("problems.none")]
        )
        return Section(words("trends"), blocks, anchor="trends"), Section(
            words("problems"), problem_blocks, level=3, anchor="problems"
        )

    def incident(self, record: IncidentRecord) -> Section:
        words = self.words
        incident = record.incident
        subject = " ".join(part for part in (incident.host, incident.check, incident.item) if part)
        acknowledged = time_to_acknowledge(record)
        restored = time_to_restore(record)
        lines = [
            f"{words('incident.state')}: {words(f'state.{record.state.value}')}",
            f"{words('incident.finding')}: {incident.finding_status}"
            + (f" – {incident.message}" if incident.message else ""),
            f"{words('incident.opened')}: {self.when(incident.opened)}",
            f"{words('incident.acknowledged')}: "
            + (words.duration(acknowledged) if acknowledged is not None else words("incident.not_yet")),
            f"{words('incident.restored')}: "
            + (words.duration(restored) if restored is not None else words("incident.not_yet")),
            f"{words('incident.tier')}: {record.events[-1].tier if record.events else incident.tier or ''}",
            f"{words('incident.runbook')}: {incident.runbook or words('none')}",
        ]
        lines += self.runbook_lines(incident.runbook)
        blocks: list[Block] = [Items(lines)]
        blocks.append(
            Table(
                [
                    words("at"),
                    words("actor"),
                    words("action"),
                    words("state"),
                    words("incident.tier"),
                    words("note"),
                ],
                [
                    [
                        self.when(event.at),
                        event.actor,
                        words(f"kind.{event.kind}") if f"kind.{event.kind}" in words.text else event.kind,
                        words(f"state.{event.to_state.value}"),
                        event.tier or "",
                        event.note,
                    ]
                    for event in record.events
                ],
            )
        )
        approvals = [
            words(
                "incident.approval",
                proposed_by=approval.proposed_by,
                approved_by=approval.approved_by,
                tier=approval.approver_tier,
                at=self.when(approval.approved_at),
            )
            for approval in record.approvals
        ]
        if approvals:
            blocks.append(Items(approvals))
        return Section(
            words("incident.title", id=incident.id, subject=subject),
            blocks,
            level=3,
            anchor=f"incident-{incident.id}",
        )

    def runbook_lines(self, name: str | None) -> list[str]:
        if self.design is None or name is None:
            return []
        runbook = next((runbook for runbook in self.design.incidents.runbooks if runbook.name == name), None)
        if runbook is None:
            return []
        steps = ", ".join(step.title for step in runbook.first_response) or self.words("none")
        chain = " → ".join(runbook.escalate_to or [tier.name for tier in self.design.escalation])
        return [
            f"{self.words('incident.first_response')}: {steps}",
            f"{self.words('incident.escalate_to')}: {chain or self.words('none')}",
        ]

    def incidents(self) -> list[Section]:
        records = self.data.incidents
        if not records:
            return [Section(self.words("incidents"), [self.words("incidents.none")], anchor="incidents")]
        return [Section(self.words("incidents"), anchor="incidents"), *map(self.incident, records)]

    def patches(self) -> Section:
        words = self.words
        rows = []
        for host in patches(self.data):
            if host.reboot_needed or host.rebooted:
                reboot = words("reboot.done") if host.rebooted else words("reboot.pending")
            else:
                reboot = words("reboot.none")
            if host.failure:
                rows.append(
                    [
                        self.day(host.at),
                        host.host,
                        words("patch.failed", failure=host.failure),
                        "",
                        "",
                        reboot,
                    ]
                )
            elif not host.packages:
                rows.append([self.day(host.at), host.host, words("patch.nothing"), "", "", reboot])
            rows += [
                [
                    self.day(package.at),
                    package.host,
                    package.name,
                    f"{package.before} → {package.after}",
                    self.yes_no(package.security),
                    reboot,
                ]
                for package in host.packages
            ]
        header = [
            words("date"),
            words("host"),
            words("package"),
            words("version"),
            words("security"),
            words("reboot"),
        ]
        blocks: list[Block] = [Table(header, rows)] if rows else [words("patches.none")]
        return Section(words("patches"), blocks, anchor="patches")

    def backups(self) -> Section:
        words = self.words
        made = backups(self.data)
        blocks: list[Block] = []
        if made:
            rows = []
            for host in sorted({backup.host for backup in made}):
                own = [backup for backup in made if backup.host == host]
                verified = [backup for backup in own if backup.verified]
                rows.append(
                    [
                        host,
                        str(sum(1 for backup in verified if backup.created_now)),
                        str(len(verified)),
                        str(len(own) - len(verified)),
                        _size(sum(backup.size for backup in verified if backup.created_now)),
                        verified[-1].archive if verified else "",
                    ]
                )
            blocks.append(
                Table(
                    [
                        words("host"),
                        words("backups.count"),
                        words("backups.verified"),
                        words("backups.failed"),
                        words("backups.size"),
                        words("backups.last"),
                    ],
                    rows,
                )
            )
        else:
            blocks.append(words("backups.none"))
        tests = restore_checks(self.data)
        restore: list[Block] = (
            [
                Table(
                    [
                        words("date"),
                        words("host"),
                        words("backups.verified"),
                        words("restore.unverified"),
                        words("restore.corrupt"),
                        words("restore.latest"),
                        words("result"),
                    ],
                    [
                        [
                            self.day(test.at),
                            test.host,
                            str(test.verified),
                            str(test.unverified),
                            str(test.corrupt),
                            test.latest_verified,
                            words("passed") if test.passed else words("failed"),
                        ]
                        for test in tests
                    ],
                )
            ]
            if tests
            else [words("restore.none")]
        )
        return Section(words("backups"), [*blocks, words("restore") + ":", *restore], anchor="backups")

    def restarts(self) -> Section:
        words = self.words
        found = restarts(self.data)
        blocks: list[Block] = (
            [
                Table(
                    [words("date"), words("host"), words("service"), words("action"), words("status")],
                    [
                        [self.day(restart.at), restart.host, restart.service, restart.action, restart.status]
                        for restart in found
                    ],
                )
            ]
            if found
            else [words("restarts.none")]
        )
        return Section(words("restarts"), blocks, anchor="restarts")

    def change_step(self) -> ChangeSteps | None:
        design = self.design
        if design is None:
            return None

        def marked(routine: str, step: str) -> bool:
            steps = design.routines[routine].steps if routine in design.routines else []
            return any(candidate.change and candidate.title == step for candidate in steps)

        return marked

    def changes(self) -> Section:
        words = self.words
        found = changes(self.data, self.change_step())
        blocks: list[Block] = [words("changes.note")]
        if found:
            blocks.append(
                Table(
                    [
                        words("date"),
                        words("playbook"),
                        words("routine"),
                        words("status"),
                        words("hosts.changed"),
                    ],
                    [
                        [
                            self.when(change.at),
                            change.playbook,
                            " / ".join(part for part in (change.routine, change.step) if part),
                            change.status,
                            f"{change.changed_hosts} / {change.hosts}",
                        ]
                        for change in found
                    ],
                )
            )
        else:
            blocks.append(words("changes.none"))
        blocks.append(words("approvals") + ":")
        if self.data.approvals:
            blocks.append(
                Table(
                    [
                        words("at"),
                        words("incident"),
                        words("proposed_by"),
                        words("approved_by"),
                        words("incident.tier"),
                    ],
                    [
                        [
                            self.when(approval.approved_at),
                            str(approval.incident_id),
                            approval.proposed_by,
                            approval.approved_by,
                            approval.approver_tier,
                        ]
                        for approval in self.data.approvals
                    ],
                )
            )
        if self.data.step_approvals:
            blocks.append(
                Table(
                    [
                        words("at"),
                        words("approvals.routine_run"),
                        words("approvals.step"),
                        words("approvals.requested_by"),
                        words("approved_by"),
                        words("incident.tier"),
                    ],
                    [
                        [
                            self.when(approval.approved_at),
                            approval.routine_run_id,
                            approval.step,
                            approval.requested_by,
                            approval.approved_by,
                            approval.approver_tier,
                        ]
                        for approval in self.data.step_approvals
                    ],
                )
            )
        if not (self.data.approvals or self.data.step_approvals):
            blocks.append(words("approvals.none"))
        return Section(words("changes"), blocks, anchor="changes")

    def scope(self) -> Section:
        words, design = self.words, self.design
        if design is None:
            return Section(words("scope"), [words("scope.none")], anchor="scope")
        scope, cal = design.scope, design.calendar
        days = self.data.period.days()
        holidays = _holidays(design, days, self.words.language)
        freezes = [freeze for freeze in cal.freezes if freeze.start <= days[-1] and freeze.until >= days[0]]
        windows = [_window(window, words) for window in cal.maintenance_windows if _window_in(window, days)]
        hours = cal.business_hours
        lines = [
            f"{words('inventories')}: {', '.join(scope.inventory)}",
            f"{words('hosts')}: {', '.join(scope.hosts)}",
            f"{words('excluded')}: {', '.join(scope.exclude) or words('none')}",
            f"{words('layers')}: {', '.join(scope.layers)}",
            f"{words('timezone')}: {cal.timezone}",
            f"{words('business_hours')}: {_days(hours.days, words)} "
            f"{hours.start.strftime('%H:%M')}–{hours.end.strftime('%H:%M')}",
            f"{words('holidays')}: "
            + (", ".join(f"{day.strftime('%m-%d')} {name}" for day, name in holidays) or words("none")),
            f"{words('freezes')}: "
            + (
                "; ".join(
                    words("freeze", start=freeze.start, until=freeze.until, reason=freeze.reason)
                    for freeze in freezes
                )
                or words("none")
            ),
            f"{words('windows')}: {'; '.join(windows) or words('none')}",
        ]
        marks: dict[date, list[str]] = {}
        for day, _ in holidays:
            marks.setdefault(day, []).append(words("mark.holiday"))
        for day in days:
            if any(freeze.start <= day <= freeze.until for freeze in freezes):
                marks.setdefault(day, []).append(words("mark.freeze"))
            if any(_window_on(window, day) for window in cal.maintenance_windows):
                marks.setdefault(day, []).append(words("mark.window"))
        grid = Table(
            [words(f"day.{day}") for day in WEEKDAYS],
            [
                [
                    "" if day.month != days[0].month else " ".join([str(day.day), *marks.get(day, [])])
                    for day in week
                ]
                for week in calendar.Calendar().monthdatescalendar(days[0].year, days[0].month)
            ],
        )
        return Section(words("scope"), [Items(lines), words("calendar") + ":", grid], anchor="scope")


def _availability_row(host: Availability) -> list[str]:
    return [host.host, str(host.runs), str(host.available), f"{host.percent:.1f}%"]


def _days(days: Sequence[str], words: Words) -> str:
    return words("day.separator").join(words(f"day.{day}") for day in WEEKDAYS if day in days)


def _holidays(design: "OpsDesign", days: list[date], language: Language) -> list[tuple[date, str]]:
    """The days off of the period with their names: the country's public holidays and the extra days."""
    from holidays import country_holidays  # noqa: PLC0415 - loaded with the design already

    cal = design.calendar
    named: dict[date, str] = {}
    country = cal.holidays.country
    if country:
        public = country_holidays(country, years=days[0].year)
        if language in public.supported_languages:
            public = country_holidays(country, years=days[0].year, language=language)
        named.update({day: str(public.get(day)) for day in days if day in public})
    named.update({day: named.get(day, "") for day in cal.holidays.extra if days[0] <= day <= days[-1]})
    return sorted(named.items())


def _window(window: "MaintenanceWindow", words: Words) -> str:
    if window.weekly is not None:
        weekly = window.weekly
        text = words(
            "window.weekly",
            days=_days(weekly.days, words),
            start=weekly.start.strftime("%H:%M"),
            end=weekly.end.strftime("%H:%M"),
        )
    else:
        dated = window.dated
        assert dated is not None  # noqa: S101 - the schema requires one of the two
        text = words(
            "window.dated",
            start=dated.start.isoformat(" ", "minutes"),
            until=dated.until.isoformat(" ", "minutes"),
        )
    return f"{window.name}: {text}" if window.name else text


def _window_in(window: "MaintenanceWindow", days: list[date]) -> bool:
    return window.weekly is not None or any(_window_on(window, day) for day in days)


def _window_on(window: "MaintenanceWindow", day: date) -> bool:
    if window.weekly is not None:
        return WEEKDAYS[day.weekday()] in window.weekly.days
    dated = window.dated
    return dated is not None and dated.start.date() <= day <= dated.until.date()


def build_report(
    data: MonthData,
    language: Language,
    *,
    design: "OpsDesign | None" = None,
    ops_file: str | None = None,
    plot: "Plotter | None" = None,
) -> Report:
    """The report of one month in `language`; `plot` draws the charts (without it, charts have no image)."""
    words = Words(language)
    builder = _Builder(data, words, design, plot)
    period = data.period
    last = period.end - timedelta(days=1)
    intro = [
        words(
            "period",
            start=period.start.strftime("%Y-%m-%d"),
            end=last.strftime("%Y-%m-%d"),
            zone=period.zone.key,
        ),
        words(
            "source",
            design=words("source.design", ops_file=ops_file) if design is not None and ops_file else "",
        ),
    ]
    trend, problems = builder.trends()
    sections = [
        Section("", list(intro), level=0),
        builder.summary(),
        builder.availability(),
        trend,
        problems,
        *builder.incidents(),
        builder.patches(),
        builder.backups(),
        builder.restarts(),
        builder.changes(),
        builder.scope(),
    ]
    return Report(words("title", month=period.month), language, sections)
