"""The verdict: dangerous if any finding runs or reads what the file chose, needs-trust for custom code."""

from __future__ import annotations

from bot.analysis.security.exposure import DANGEROUS, NEEDS_TRUST, exposed, extra_cves
from bot.report import Report, Security, SecurityFinding

MAX_FINDINGS = 50  # one hostile config can repeat a pattern thousands of times; the first 50 say it


def verdict_of(findings: list[SecurityFinding]) -> str:
    codes = {f.code for f in findings}
    if codes & DANGEROUS:
        return "dangerous"
    if codes & NEEDS_TRUST:
        return "needs-trust"
    return "clean"


def attach(report: Report, findings: list[SecurityFinding]) -> None:
    """Set `report.security`: the findings (deduplicated, exposure filled in) and their verdict."""
    out: list[SecurityFinding] = []
    seen: set[tuple[str, str]] = set()
    for f in findings:
        if (f.code, f.where) in seen:
            continue
        seen.add((f.code, f.where))
        cve = f.cve + [c for c in extra_cves(f.code, report.format) if c not in f.cve]
        out.append(SecurityFinding(f.code, cve, f.where, f.message, f.exposed or exposed(f.code, report.format)))
    # Dangerous first: the card shows the first finding.
    out.sort(key=lambda f: f.code not in DANGEROUS)
    report.security = Security(verdict=verdict_of(out), findings=out[:MAX_FINDINGS])
