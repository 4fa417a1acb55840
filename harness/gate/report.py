"""Renderings of a `GateReport` for CI: Markdown for `$GITHUB_STEP_SUMMARY`, JUnit XML, and plain text.

`harness gate --markdown FILE --junit FILE` writes the first two (`write_gate_files`), also when the gate
cannot decide (exit 2), so a pipeline always has a summary to show; the text goes to stdout.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import HarnessError
from harness.gate.checks import Check, GateReport

_COLUMNS = ("check", "metric", "n", "baseline", "candidate", "change [CI]", "p", "p (Holm)", "MDE", "test",
            "status")
_NUMERIC = ("n", "baseline", "candidate", "p", "p (Holm)", "MDE")
_MDE_NOTE = ("MDE: the smallest drop this check detects with {power:.0%} power at this sample size "
             "(a suite whose MDE exceeds the drop you care about is too small to catch it).")


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def check_cells(check: Check, digits: int = 4) -> list[str]:
    """One table row: every column of `_COLUMNS` as text (rating points with one decimal)."""
    t = check.test
    digits = 1 if check.metric == "bt_rating" else digits
    change = f"{t.effect:+.{digits}f} [{t.ci_low:+.{digits}f}, {t.ci_high:+.{digits}f}]"
    metric = check.metric if check.filter in ("", "none") else f"{check.metric} ({check.filter})"
    arrow = "↑" if check.direction == "higher" else "↓"
    return [check.name, f"{metric} {arrow}", str(t.n), _num(t.baseline_mean, digits),
            _num(t.candidate_mean, digits), change, _p(t.p_value), _p(check.p_holm), _num(check.mde, digits),
            t.method, "❌ fail" if check.failed else "✅ pass"]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: GateReport) -> str:
    """A GitHub-flavoured Markdown summary: verdict, the two runs, one table row per check, notes."""
    verdict = "❌ FAIL" if report.failed else "✅ PASS"
    rule = (f"- alpha {report.alpha:g}, Holm-corrected across {len(report.checks)} check(s); a check fails "
            f"when its drop is significant and larger than its tolerance (max drop {report.max_drop:g})")
    cand, base = report.candidate, report.baseline
    lines = [
        f"## harness gate: {verdict}", "",
        f"**{_md_escape(report.reason)}**", "",
        f"- candidate: `{cand.model}` run `{cand.run_id}` ({cand.via})",
        f"- baseline: `{base.model}` run `{base.run_id}` ({base.via})",
        rule,
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---:" if c in _NUMERIC else "---" for c in _COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in check_cells(c)) + " |" for c in report.checks]
    lines += ["", _MDE_NOTE.format(power=report.power)]
    if report.notes:
        lines += ["", "Notes:"] + [f"- {_md_escape(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


def render_markdown_error(error: HarnessError) -> str:
    """The summary when the gate cannot decide (exit 2)."""
    hint = f"\n\nFix: {error.hint}" if error.hint else ""
    return f"## harness gate: ⚠️ cannot decide\n\n**{_md_escape(error.message)}**{hint}\n"


def _suite(tests: int, failures: int, errors: int) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("testsuites", name="harness gate", tests=str(tests), failures=str(failures),
                      errors=str(errors))
    suite = ET.SubElement(root, "testsuite", name="harness gate", tests=str(tests), failures=str(failures),
                          errors=str(errors), skipped="0", time="0")
    return root, suite


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(report: GateReport) -> str:
    """JUnit XML with one test case per check (task or arena statistic); a regression is a <failure>."""
    root, suite = _suite(len(report.checks), len(report.failed), 0)
    properties = ET.SubElement(suite, "properties")
    for side in ("candidate", "baseline"):
        ref = getattr(report, side)
        ET.SubElement(properties, "property", name=f"{side}_run", value=ref.run_id)
        ET.SubElement(properties, "property", name=f"{side}_model", value=ref.model)
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=f"harness.gate.{check.kind}", name=check.name,
                             time="0")
        details = ", ".join(f"{c}={v}" for c, v in zip(_COLUMNS[1:-1], check_cells(check)[1:-1]))
        if check.failed:
            failure = ET.SubElement(case, "failure", message=check.reason, type="regression")
            failure.text = details
        ET.SubElement(case, "system-out").text = f"{check.reason}; {details}"
    return _xml(root)


def render_junit_error(error: HarnessError) -> str:
    """JUnit XML with one errored test case when the gate cannot decide."""
    root, suite = _suite(1, 0, 1)
    case = ET.SubElement(suite, "testcase", classname="harness.gate", name="gate", time="0")
    ET.SubElement(case, "error", message=error.message, type="cannot-decide").text = error.hint or ""
    return _xml(root)


def write_gate_files(markdown: Path | None, junit: Path | None, outcome: GateReport | HarnessError) -> None:
    """Write the Markdown and JUnit files the user asked for (report or cannot-decide error)."""
    if isinstance(outcome, GateReport):
        texts = (render_markdown(outcome), render_junit(outcome))
    else:
        texts = (render_markdown_error(outcome), render_junit_error(outcome))
    for path, text in zip((markdown, junit), texts):
        if path is None:
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"cannot write {path}: {exc.strerror}", hint="pick a writable path") from exc


def render_text(report: GateReport) -> str:
    """Plain text for terminals and CI logs: two lines per check (fits 80 columns), then the verdict line."""
    cand, base = report.candidate, report.baseline
    lines = [(f"gate: {cand.model} ({cand.run_id}) vs {base.model} ({base.run_id}); "
             f"alpha {report.alpha:g} Holm-corrected, max drop {report.max_drop:g}")]
    for check in report.checks:
        c = dict(zip(_COLUMNS, check_cells(check, digits=3)))
        mark = "FAIL" if check.failed else "pass"
        lines.append(f"  {mark}  {check.name}: {c['metric']} {c['baseline']} -> {c['candidate']}, "
                     f"change {c['change [CI]']}")
        lines.append(f"        p {c['p']}, p Holm {c['p (Holm)']}, MDE {c['MDE']}, n {c['n']}, {c['test']}")
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines + [report.reason])
