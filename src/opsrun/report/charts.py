"""The report's charts as SVG, drawn with matplotlib's object API.

No pyplot: a Figure renders through the Agg and SVG backends directly, so no GUI backend is ever
loaded and nothing global is left behind. Text is drawn as glyph outlines (svg.fonttype "path"),
so a chart shows the same on a machine without the fonts; Japanese glyphs come from a CJK font
of the system (Debian: fonts-ipafont-gothic or fonts-noto-cjk), which matplotlib is told about
when it was installed after matplotlib built its font cache.
"""

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

import matplotlib as mpl
from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.figure import Figure

from opsrun.errors import ExitCode, OpsrunError
from opsrun.report import Language
from opsrun.report.monthdata import Period

# In order of preference; each is in a Debian package (fonts-ipafont-gothic has the first two,
# then fonts-ipaexfont-gothic, fonts-noto-cjk, fonts-vlgothic, fonts-takao-gothic).
CJK_FAMILIES = (
    "IPAPGothic",
    "IPAGothic",
    "IPAexGothic",
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "VL Gothic",
    "TakaoGothic",
)
CJK_PACKAGES = "fonts-ipafont-gothic or fonts-noto-cjk"
LATIN_FAMILY = "DejaVu Sans"
STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "crit": "#c62828", "unknown": "#757575"}
_SIZE = (8.0, 3.4)


def _known_families(manager: font_manager.FontManager) -> set[str]:
    return {entry.name for entry in manager.ttflist}


def find_cjk_family(manager: font_manager.FontManager | None = None) -> str | None:
    """The first of CJK_FAMILIES that matplotlib can use, or None.

    matplotlib lists the system's fonts once and caches the list; fonts installed since are added
    here from the font directories.
    """
    manager = manager or font_manager.fontManager
    family = next((name for name in CJK_FAMILIES if name in _known_families(manager)), None)
    if family is not None:
        return family
    listed = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in listed:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read is no font for us
                continue
    return next((name for name in CJK_FAMILIES if name in _known_families(manager)), None)


def chart_font(language: Language, manager: font_manager.FontManager | None = None) -> str | None:
    """The CJK family the charts use: required for Japanese, a fallback for names in English."""
    family = find_cjk_family(manager)
    if family is None and language == "ja":
        raise OpsrunError(
            "no Japanese (CJK) font is installed for the charts of a report in Japanese; "
            f"looked for {', '.join(CJK_FAMILIES)}",
            hint=f"install one (Debian: apt-get install {CJK_PACKAGES}), or use --lang en",
            exit_code=ExitCode.CONFIG,
        )
    return family


class Plotter:
    """Draws the charts of one period with the fonts of one language."""

    def __init__(self, period: Period, language: Language, cjk_family: str | None) -> None:
        self.period = period
        families = [LATIN_FAMILY] + ([cjk_family] if cjk_family else [])
        if language == "ja" and cjk_family:
            families.reverse()
        self._rc: dict[Any, Any] = {
            "font.family": families,
            "font.size": 9,
            "svg.fonttype": "path",
            "svg.hashsalt": "opsrun-report",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }

    def _axes(self, figure: Figure, title: str, ylabel: str) -> Any:
        axes: Any = figure.add_subplot()
        axes.set_title(title, loc="left")
        axes.set_ylabel(ylabel)
        axes.set_xlim(self.period.start, self.period.end)
        zone = self.period.zone
        # matplotlib.dates has no type annotations.
        days = mdates.DayLocator(bymonthday=(1, 5, 10, 15, 20, 25), tz=zone)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(days)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz=zone))  # type: ignore[no-untyped-call]
        return axes

    def _svg(self, figure: Figure) -> str:
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        text = buffer.getvalue()
        # The <svg> element only: it goes inline into HTML, or into a file of its own.
        return text[text.index("<svg") :]

    def lines(
        self, series: Mapping[str, Sequence[tuple[datetime, float]]], *, title: str, ylabel: str
    ) -> str:
        """One line per labelled series of (moment, percent), e.g. disk use per host and mount."""
        with mpl.rc_context(self._rc):
            figure = Figure(figsize=_SIZE, layout="constrained")
            axes = self._axes(figure, title, ylabel)
            for label, points in sorted(series.items()):
                ordered = sorted(points)
                axes.plot([at for at, _ in ordered], [value for _, value in ordered], marker=".", label=label)
            axes.set_ylim(0, 100)
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
            return self._svg(figure)

    def per_day(
        self, counts: Mapping[date, Counter[str]], labels: Mapping[str, str], *, title: str, ylabel: str
    ) -> str:
        """Stacked bars of the findings of each day, one colour per status."""
        with mpl.rc_context(self._rc):
            figure = Figure(figsize=_SIZE, layout="constrained")
            axes = self._axes(figure, title, ylabel)
            days = sorted(counts)
            noons = [datetime.combine(day, time(12), tzinfo=self.period.zone) for day in days]
            bottom = [0] * len(days)
            for status, colour in STATUS_COLOURS.items():
                heights = [counts[day][status] for day in days]
                if any(heights):
                    axes.bar(noons, heights, width=0.8, bottom=bottom, color=colour, label=labels[status])
                    bottom = [low + high for low, high in zip(bottom, heights, strict=True)]
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
            return self._svg(figure)
