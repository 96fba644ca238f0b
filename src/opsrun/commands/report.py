"""`opsrun report --month YYYY-MM`: the monthly operations report (月次運用報告書).

HTML or Markdown, English or Japanese, from the run store.
"""

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsrun.design import FORMATS, LANGUAGES, Format, Language
from opsrun.errors import ExitCode, OpsrunError
from opsrun.output import GlobalOptions, OutputFormat, envelope, print_envelope

COMMAND = "report"

log = logging.getLogger(__name__)

AddGlobalOptions = Callable[..., None]


def add_parser(commands: "argparse._SubParsersAction[Any]", add_global_options: AddGlobalOptions) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="the monthly operations report from the run store, HTML or Markdown, English or Japanese",
        description=(
            "Write the monthly operations report: availability per host, incidents with MTTA and MTTR, "
            "patches, backups and restore tests, restarts, changes and approvals, with charts of disk and "
            "memory use and of findings per day. With --ops-file, the month is taken in the calendar's "
            "time zone and the report shows the scope and calendar; else times are in UTC."
        ),
    )
    add_global_options(parser, in_subcommand=True)
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the month to report on")
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="html",
        help="one self-contained HTML file, or Markdown with chart SVG files beside it (default: html)",
    )
    parser.add_argument(
        "--ops-file",
        type=Path,
        metavar="OPS_YML",
        help="the operations design: its time zone, scope, calendar, runbooks and change steps",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the report to FILE (mode 0640) instead of standard output",
    )


def report(
    options: GlobalOptions,
    *,
    month: str,
    language: Language = "en",
    output_format: Format = "html",
    ops_file: Path | None = None,
    out: Path | None = None,
) -> int:
    """Build the report of `month` from the run store and print it or write it to `out`."""
    # Imported here: matplotlib and the schema's libraries would slow the start of every other command.
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from opsrun.report.charts import Plotter, chart_font  # noqa: PLC0415
    from opsrun.report.document import build_report  # noqa: PLC0415
    from opsrun.report.figures import availability, incident_figures  # noqa: PLC0415
    from opsrun.report.monthdata import parse_month, read_month  # noqa: PLC0415
    from opsrun.report.output import font_stack, to_html, to_markdown, write_report  # noqa: PLC0415
    from opsrun.store import open_store  # noqa: PLC0415

    design = None
    zone = ZoneInfo("UTC")
    if ops_file is not None:
        from opsrun.design.load import load_design  # noqa: PLC0415

        design = load_design(ops_file).design
        zone = design.calendar.zone
    period = parse_month(month, zone)
    if out is not None and out.is_dir():
        raise OpsrunError(
            f"--out {out} is a directory",
            hint=f"name the report file, e.g. --out {out / f'report-{period.month}.{output_format}'}",
            exit_code=ExitCode.USAGE,
        )
    cjk_family = chart_font(language)
    with open_store(options.state_dir) as store:
        data = read_month(store, period)
    document = build_report(
        data,
        language,
        design=design,
        ops_file=str(ops_file) if ops_file is not None else None,
        plot=Plotter(period, language, cjk_family),
    )
    fonts = font_stack(cjk_family, japanese=language == "ja")
    written: list[Path] = []
    text = ""
    if out is not None:
        written = write_report(document, out, output_format=output_format, fonts=fonts)
    else:
        text = to_html(document, fonts) if output_format == "html" else to_markdown(document, None)
    log.info(
        "report %s (%s, %s): %d run(s), %s", period.month, language, output_format, len(data.runs), written
    )
    if options.output is OutputFormat.JSON:
        incidents = incident_figures(data)
        result: dict[str, Any] = {
            "month": period.month,
            "timezone": period.zone.key,
            "lang": language,
            "format": output_format,
            "files": [str(path) for path in written],
            "empty": data.empty,
            "availability": {host.host: round(host.percent, 3) for host in availability(data)},
            "incidents": {
                "opened": incidents.opened,
                "resolved": incidents.resolved,
                "open_at_end": incidents.open_at_end,
                "mtta_seconds": incidents.mtta.total_seconds() if incidents.mtta is not None else None,
                "mttr_seconds": incidents.mttr.total_seconds() if incidents.mttr is not None else None,
            },
        }
        if out is None:
            result["document"] = text
        print_envelope(envelope(COMMAND, 0, result))
    elif out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        sys.stdout.write("".join(f"{path}\n" for path in written))
    return 0


def handle(options: GlobalOptions, args: argparse.Namespace) -> int:
    return report(
        options,
        month=args.month,
        language=args.lang,
        output_format=args.format,
        ops_file=args.ops_file,
        out=args.out,
    )
