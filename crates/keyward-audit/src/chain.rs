//! What the walk of the chain (`verify`) reads and reports, shared with the classification of a
//! break: the records in ID order, page by page ([`Records`]), whether a record is intact, and
//! the kinds of break.

use std::collections::VecDeque;
use std::fmt;

use serde::Serialize;

use keyward_store::{ChainedRecord, Store};

use crate::AuditError;

/// Records and seals read per query.
pub(crate) const PAGE: i64 = 10_000;

/// What kind of break the first broken link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakKind {
    /// A record's content no longer matches its hash, or a seal's hash no longer matches its
    /// record.
    Edited,
    /// Records are missing between two records (a gap in IDs and a broken link).
    Deleted,
    /// A record that does not belong in the chain.
    Inserted,
    /// A record holds the content of another record.
    Reordered,
    /// A seal refers to a record that no longer exists: the log was cut into a sealed part.
    Truncated,
    /// A seal's signature does not verify with the public key.
    BadSeal,
}

impl BreakKind {
    /// The name used in reports: `edited`, `deleted`, `inserted`, `reordered`, `truncated`,
    /// `bad-seal`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Deleted => "deleted",
            BreakKind::Inserted => "inserted",
            BreakKind::Reordered => "reordered",
            BreakKind::Truncated => "truncated",
            BreakKind::BadSeal => "bad-seal",
        }
    }
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// What is wrong.
    pub kind: BreakKind,
    /// The record at fault (for `truncated`, the missing sealed record).
    pub record_id: i64,
    /// The seal at fault, for `bad-seal`, `truncated` and a sealed hash mismatch.
    pub seal_id: Option<i64>,
    /// One sentence for people.
    pub message: String,
}

/// A forward cursor over the chain, one page in memory.
pub(crate) struct Records<'a> {
    store: &'a Store,
    buf: VecDeque<ChainedRecord>,
    after: i64,
    done: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn after(store: &'a Store, after: i64) -> Records<'a> {
        Records {
            store,
            buf: VecDeque::new(),
            after,
            done: false,
        }
    }

    async fn fill(&mut self) -> Result<(), AuditError> {
        if self.buf.is_empty() && !self.done {
            let page = self.store.audit_chain_page(self.after, PAGE).await?;
            self.done = (page.len() as i64) < PAGE;
            if let Some(last) = page.last() {
                self.after = last.id;
            }
            self.buf.extend(page);
        }
        Ok(())
    }

    pub(crate) async fn next(&mut self) -> Result<Option<ChainedRecord>, AuditError> {
        self.fill().await?;
        Ok(self.buf.pop_front())
    }

    pub(crate) async fn peek(&mut self) -> Result<Option<&ChainedRecord>, AuditError> {
        self.fill().await?;
        Ok(self.buf.front())
    }
}

/// Whether a record's stored hash is that of its content.
pub(crate) fn intact(r: &ChainedRecord) -> bool {
    r.hash.as_deref() == Some(r.computed_hash().as_str())
}

/// A broken link of `kind` at `record_id`, no seal at fault.
pub(crate) fn link(kind: BreakKind, record_id: i64, message: String) -> BrokenLink {
    BrokenLink {
        kind,
        record_id,
        seal_id: None,
        message,
    }
}
