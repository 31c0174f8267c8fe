//! A [`VerifyReport`] for people (`keyward audit verify` without `--json`).

use std::fmt::Write;

use crate::VerifyReport;

/// The report as lines of text, ending in a newline: intact or where it broke, then the last
/// record, the last sealed record and the unsealed tail.
pub fn render(report: &VerifyReport) -> String {
    let mut out = String::new();
    let tail = format!(
        "{} record(s) after the last seal (removable without a trace until the next seal)",
        report.unsealed_tail
    );
    // Writing to a String cannot fail.
    let _ = match &report.broken {
        None => writeln!(
            out,
            "Audit log intact: {} records and {} seals checked (key {})",
            report.records, report.seals, report.key_id
        ),
        Some(b) => writeln!(
            out,
            "Audit log BROKEN at record {}: {}{}\n  {}\n  checked         {} records and {} seals before the break (key {})",
            b.record_id,
            b.kind,
            b.seal_id
                .map(|s| format!(" (seal {s})"))
                .unwrap_or_default(),
            b.message,
            report.records,
            report.seals,
            report.key_id
        ),
    };
    let id = |i: Option<i64>| i.map_or("-".to_string(), |i| i.to_string());
    let _ = writeln!(out, "  last record     {}", id(report.last_record_id));
    let _ = writeln!(out, "  last sealed     {}", id(report.last_sealed_id));
    let _ = writeln!(out, "  unsealed tail   {tail}");
    out
}
