"""Assessment (考核): weighted KPIs against targets, scored and ranked per month,
and the monthly report as xlsx (openpyxl, with charts) and PDF (reportlab).

Score of a region = Σ wₖ·min(1, valueₖ/targetₖ) / Σ wₖ × 100 over the KPIs that
have a value (录像完好率 is left out while no recording domain reports it, rather
than counted as zero). Weights and targets come from ``[health]`` settings, per region
level where ``level_weights``/``level_targets`` say so; organisations are ranked with
the general ones.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

KPIS: dict[str, str] = {
    "online": "在线率",
    "image": "出图率",
    "intact": "完好率",
    "recording": "录像完好率",
    "repair": "修复率",
    "ledger_complete": "档案完整率",
    "on_map": "上图率",
}
RATE_FIELD = {
    "online": "online_rate",
    "image": "image_rate",
    "intact": "intact_rate",
    "recording": "recording_rate",
    "repair": "repair_rate",
    "ledger_complete": "ledger_complete_rate",
    "on_map": "on_map_rate",
}


def month_range(month: str) -> tuple[str, str]:
    """``YYYY-MM`` → first and last local day (ISO)."""
    try:
        y, m = (int(x) for x in month.split("-"))
        first = date(y, m, 1)
    except (ValueError, TypeError) as exc:
        raise ValueError("month must be YYYY-MM") from exc
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def score(
    row: dict[str, Any], weights: dict[str, float], targets: dict[str, float]
) -> dict[str, Any]:
    """Weighted score of one group's rates (percentages)."""
    num = den = 0.0
    parts: dict[str, float] = {}
    for k, w in weights.items():
        value = row.get(RATE_FIELD.get(k, k))
        if value is None or w <= 0:
            continue
        target = targets.get(k) or 100.0
        part = min(1.0, float(value) / target)
        parts[k] = round(part * 100, 2)
        num += w * part
        den += w
    return {**row, "score": round(100 * num / den, 2) if den else None, "kpi_scores": parts}


def rank(
    rows: list[dict[str, Any]], weights: dict[str, float], targets: dict[str, float]
) -> list[dict[str, Any]]:
    scored = [score(r, weights, targets) for r in rows]
    scored.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), str(r["key"])))
    for i, r in enumerate(scored, 1):
        r["rank"] = i
    return scored


def _fmt(v: Any) -> Any:
    return "—" if v is None else v


def report_xlsx(
    month: str,
    ranking: list[dict[str, Any]],
    trend: list[dict[str, Any]],
    targets: dict[str, float],
    org_ranking: list[dict[str, Any]] | None = None,
) -> bytes:
    """Sheets: 考核排名 (regions: scores, KPI values, a bar chart), 单位排名 (organisations)
    and 每日趋势 (a line chart)."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "考核排名"
    ws.append([f"{month} 视频监控运维考核"])
    header = ["排名", "区域/单位", "名称", "点位数", "得分", *KPIS.values()]
    ws.append(header)
    for r in ranking:
        ws.append(
            [
                r["rank"],
                str(r["key"]),
                r.get("name") or str(r["key"]),
                r["channels"],
                _fmt(r["score"]),
                *(_fmt(r.get(RATE_FIELD[k])) for k in KPIS),
            ]
        )
    ws.append([])
    ws.append(["目标", "", "", "", "", *(targets.get(k) for k in KPIS)])
    if ranking:
        chart = BarChart()
        chart.title = "得分"
        chart.y_axis.title = "分"
        data = Reference(ws, min_col=5, min_row=2, max_row=2 + len(ranking))
        cats = Reference(ws, min_col=3, min_row=3, max_row=2 + len(ranking))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        ws.add_chart(chart, f"B{len(ranking) + 6}")
    os_ = wb.create_sheet("单位排名")
    os_.append([f"{month} 单位考核排名"])
    os_.append(header)
    for r in org_ranking or []:
        os_.append(
            [
                r["rank"],
                _fmt(r["key"]),
                r.get("name") or _fmt(r["key"]),
                r["channels"],
                _fmt(r["score"]),
                *(_fmt(r.get(RATE_FIELD[k])) for k in KPIS),
            ]
        )
    ts = wb.create_sheet("每日趋势")
    ts.append(["日期", "在线率", "出图率", "完好率"])
    for d in trend:
        ts.append(
            [
                d["key"],
                _fmt(d.get("online_rate")),
                _fmt(d.get("image_rate")),
                _fmt(d.get("intact_rate")),
            ]
        )
    if trend:
        line = LineChart()
        line.title = "每日在线率/出图率/完好率"
        line.add_data(
            Reference(ts, min_col=2, max_col=4, min_row=1, max_row=1 + len(trend)),
            titles_from_data=True,
        )
        line.set_categories(Reference(ts, min_col=1, min_row=2, max_row=1 + len(trend)))
        ts.add_chart(line, "F2")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def report_pdf(
    month: str,
    ranking: list[dict[str, Any]],
    trend: list[dict[str, Any]],
    targets: dict[str, float],
    org_ranking: list[dict[str, Any]] | None = None,
) -> bytes:
    """The same figures as a printable PDF (reportlab; CJK through its built-in CID font)."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    styles = getSampleStyleSheet()
    title = styles["Title"].clone("t", fontName=font)
    body = styles["Normal"].clone("b", fontName=font)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=f"{month} 运维考核报告")
    story: list[Any] = [Paragraph(f"{month} 视频监控运维考核报告", title), Spacer(1, 8)]

    def table(ranked: list[dict[str, Any]], with_targets: bool) -> Table:
        rows = [["排名", "名称", "点位", "得分", *KPIS.values()]]
        for r in ranked:
            rows.append(
                [
                    str(r["rank"]),
                    str(r.get("name") or _fmt(r["key"])),
                    str(r["channels"]),
                    str(_fmt(r["score"])),
                    *(str(_fmt(r.get(RATE_FIELD[k]))) for k in KPIS),
                ]
            )
        if with_targets:
            rows.append(["目标", "", "", "", *(str(_fmt(targets.get(k))) for k in KPIS)])
        t = Table(rows, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), font),
                    ("FONTSIZE", (0, 0), (-1, -1), 8),
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ]
            )
        )
        return t

    story += [table(ranking, True), Spacer(1, 12)]
    if org_ranking:
        story += [Paragraph("单位排名", body), table(org_ranking, False), Spacer(1, 12)]
    scored = [r for r in ranking if r["score"] is not None][:20]
    if scored:
        d = Drawing(700, 180)
        bar = VerticalBarChart()
        bar.x, bar.y, bar.width, bar.height = 40, 30, 620, 130
        bar.data = [[r["score"] for r in scored]]
        bar.categoryAxis.categoryNames = [str(r.get("name") or r["key"])[:8] for r in scored]
        bar.categoryAxis.labels.fontName = font
        bar.valueAxis.valueMin, bar.valueAxis.valueMax = 0, 100
        d.add(bar)
        story += [Paragraph("得分", body), d]
    series = [d for d in trend if d.get("online_rate") is not None]
    if series:
        d = Drawing(700, 180)
        line = HorizontalLineChart()
        line.x, line.y, line.width, line.height = 40, 30, 620, 130
        line.data = [[p["online_rate"] for p in series]]
        line.categoryAxis.categoryNames = [str(p["key"])[-2:] for p in series]
        line.valueAxis.valueMin, line.valueAxis.valueMax = 0, 100
        d.add(line)
        story += [Paragraph("每日在线率", body), d]
    doc.build(story)
    return out.getvalue()


__all__ = ["KPIS", "month_range", "rank", "report_pdf", "report_xlsx", "score"]
