//! Classification of the first broken link: which record is at fault and how (see the rules
//! in the `verify` module).

use keyward_store::{ChainedRecord, Store, GENESIS_HASH};

use crate::chain::{intact, link, BreakKind, BrokenLink, Records};
use crate::AuditError;

/// Classifies a record whose stored hash does not match its content.
pub(crate) async fn bad_hash(
    store: &Store,
    records: &mut Records<'_>,
    prev: Option<&ChainedRecord>,
    r: &ChainedRecord,
) -> Result<BrokenLink, AuditError> {
    if let Some(other) = moved_from(store, r).await? {
        return Ok(link(
            BreakKind::Reordered,
            r.id,
            format!(
                "record {} holds the content of record {other}: records were swapped or moved",
                r.id
            ),
        ));
    }
    let expected = prev.and_then(|p| p.hash.as_deref()).unwrap_or(GENESIS_HASH);
    if let Some(n) = records.peek().await? {
        if intact(n) && n.prev_hash.as_deref() == Some(expected) {
            return Ok(link(
                BreakKind::Inserted,
                r.id,
                format!(
                    "record {} does not belong in the chain: record {} links to the record before it",
                    r.id, n.id
                ),
            ));
        }
    }
    let what = if r.hash.is_none() {
        "has no hash"
    } else {
        "does not match its hash"
    };
    Ok(link(
        BreakKind::Edited,
        r.id,
        format!("record {}'s content {what}: it was edited", r.id),
    ))
}

/// A later record whose ID this record's hash was computed with, or whose content this record's
/// hash covers: the other half of a swap.
async fn moved_from(store: &Store, r: &ChainedRecord) -> Result<Option<i64>, AuditError> {
    let (Some(target), Some(prev)) = (r.hash.as_deref(), r.prev_hash.as_deref()) else {
        return Ok(None);
    };
    let mut later = Records::after(store, r.id);
    while let Some(s) = later.next().await? {
        if r.hash_as(s.id, prev) == target || s.hash_as(r.id, prev) == target {
            return Ok(Some(s.id));
        }
    }
    Ok(None)
}

/// Classifies an intact record whose `prev_hash` does not match the previous record's hash.
pub(crate) async fn bad_link(
    records: &mut Records<'_>,
    prev: Option<&ChainedRecord>,
    r: &ChainedRecord,
    expected: &str,
) -> Result<BrokenLink, AuditError> {
    if let Some(p) = prev {
        if r.prev_hash == p.prev_hash {
            return Ok(link(
                BreakKind::Inserted,
                p.id,
                format!(
                    "record {} does not belong in the chain: record {} links to the record before it",
                    p.id, r.id
                ),
            ));
        }
    }
    if let Some(n) = records.peek().await? {
        if intact(n) && n.prev_hash.as_deref() == Some(expected) {
            return Ok(link(
                BreakKind::Inserted,
                r.id,
                format!(
                    "record {} does not belong in the chain: record {} links to the record before it",
                    r.id, n.id
                ),
            ));
        }
    }
    let first_missing = prev.map_or(1, |p| p.id.saturating_add(1));
    let previous = prev.map_or("the start of the log".to_string(), |p| {
        format!("record {}", p.id)
    });
    if r.id > first_missing {
        return Ok(link(
            BreakKind::Deleted,
            r.id,
            format!(
                "record {} does not link to {previous}: records were deleted between them (IDs {first_missing} to {})",
                r.id,
                r.id - 1
            ),
        ));
    }
    Ok(link(
        BreakKind::Inserted,
        r.id,
        format!(
            "record {} does not link to {previous}: it was inserted, or {previous} was edited and re-hashed",
            r.id
        ),
    ))
}
