"""The report pack's PDF summary, drawn with fpdf2.

The document's dates come from the data (its creation date is the end of the data range), so
the same inputs give the same bytes. Only the PDF core fonts are used: the text stays Latin-1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from altaviz import __version__

HEADER = (34, 58, 94)


def render_summary(report_id: str, tables: dict[str, pl.DataFrame], data_to: date) -> bytes:
    """The PDF summary of a report pack's ``tables`` (see ``subpart_w.build_report``)."""
    summary = tables["summary"].row(0, named=True)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(False)  # plain text an auditor (or grep) can read
    pdf.set_creation_date(datetime.combine(data_to, datetime.min.time(), UTC))
    pdf.set_title(f"Subpart W report pack {report_id}")
    pdf.set_author("Altaviz")
    pdf.set_creator(f"Altaviz {__version__}")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, f"Subpart W annual report pack: {summary['facility']}", **_line())
    pdf.set_font("Helvetica", "", 9.5)
    pdf.cell(
        0,
        5,
        f"Onshore gathering and boosting facility {summary['basin_code']}, reporting year "
        f"{summary['reporting_year']}  |  report {report_id}",
        **_line(),
    )
    pdf.ln(3)

    _heading(pdf, "Threshold determination (40 CFR 98.2(a)(2))")
    decision = "MUST REPORT" if summary["must_report"] else "below the threshold"
    _pairs(
        pdf,
        [
            (
                "Data covered",
                f"{summary['data_from']} to {summary['data_to']} "
                f"({summary['days_covered']} days, {summary['units']} units)",
            ),
            ("CO2e in the data", f"{summary['co2e_t']:,.1f} t"),
            ("CO2e annualised", f"{summary['co2e_t_annualised']:,.1f} t"),
            ("Threshold", f"{summary['threshold_t_co2e']:,.0f} t CO2e per year"),
            ("Determination", decision),
        ],
    )

    _heading(pdf, "Emissions by source type")
    _table(
        pdf,
        tables["emissions-by-source"],
        [
            ("source_type", "Source type", 78),
            ("rule", "40 CFR", 22),
            ("co2_t", "CO2 t", 27),
            ("ch4_t", "CH4 t", 27),
            ("co2e_t", "CO2e t", 30),
        ],
    )

    modes = tables["operating-modes"]
    _heading(pdf, "Operating-mode hours, all units (98.233(p))")
    _pairs(
        pdf,
        [
            (label, f"{float(modes[column].sum()):,.1f} h")
            for column, label in (
                ("operating_hours", "Operating"),
                ("standby_hours", "Standby, pressurised"),
                ("depressurised_hours", "Not operating, depressurised"),
                ("not_reporting_hours", "Not reporting"),
            )
        ],
    )

    units = tables["emissions-by-unit"].sort(
        "ch4_venting_t", "compressor_id", descending=[True, False]
    )
    _heading(pdf, "The fifteen units venting the most methane (every unit is in the CSV)")
    _table(
        pdf,
        units.head(15),
        [
            ("compressor_id", "Unit", 26),
            ("station_id", "Station", 24),
            ("packing_rule", "Rule", 14),
            ("ch4_venting_t", "CH4 vent t", 26),
            ("co2e_t", "CO2e t", 24),
            ("max_estimated_vent_scfm", "Max vent scfm/cyl", 32),
            ("hours_over_limit", "h over limit", 24),
        ],
    )

    records = tables["packing-records"]
    per_kind = records.unique(["measurement_id", "kind"]).group_by("kind").len().sort("kind")
    _heading(pdf, "Rod-packing records in the year (NSPS OOOOa / OOOOb)")
    _pairs(
        pdf,
        [(r["kind"], str(r["len"])) for r in per_kind.iter_rows(named=True)]
        or [("records", "none")],
    )

    _heading(pdf, "Factors")
    _table(
        pdf,
        tables["factors"],
        [
            ("factor", "Factor", 62),
            ("value", "Value", 20),
            ("unit", "Unit", 38),
            ("source", "Source", 66),
        ],
        size=7,
    )

    _heading(pdf, "Provenance")
    inputs = [
        (key.removeprefix("input_").removesuffix("_version"), f"Delta version {value}")
        for key, value in summary.items()
        if key.startswith("input_")
    ]
    _pairs(pdf, [("Altaviz", str(summary["code_version"])), *inputs])
    return bytes(pdf.output())


def _line() -> dict[str, Any]:
    return {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.set_text_color(*HEADER)
    pdf.cell(0, 7, text, **_line())
    pdf.set_text_color(0, 0, 0)


def _pairs(pdf: FPDF, pairs: list[tuple[str, str]]) -> None:
    for label, value in pairs:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(55, 5, label)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, value, **_line())


def _table(
    pdf: FPDF, frame: pl.DataFrame, columns: list[tuple[str, str, float]], size: float = 8
) -> None:
    """``frame``'s ``columns`` (key, title, width in mm) as a table; long text wraps."""
    pdf.set_font("Helvetica", "", size)
    widths = tuple(width for _, _, width in columns)
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        align="LEFT",
        text_align="LEFT",
        line_height=1.25 * size * 0.3528 + 1,  # points to mm, with a little air
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 235, 242)),
        padding=(0.6, 1),
    ) as table:
        table.row([title for _, title, _ in columns])
        for row in frame.iter_rows(named=True):
            table.row([_text(row[key]) for key, _, _ in columns])


def _text(value: Any) -> str:
    if isinstance(value, float):
        if value and abs(value) < 0.1:
            return f"{value:.4g}"  # a factor keeps its figures: 0.0023, 0.0423
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.1f}"
    return "" if value is None else str(value)
