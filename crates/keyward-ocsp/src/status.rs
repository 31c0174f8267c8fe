//! Where certificate status comes from: a [`StatusSource`] (the store implements it), asked per
//! entry; the responder relays its answer.

use std::future::Future;
use std::time::SystemTime;

use keyward_policy::RevocationReason;

use crate::issuer::IssuerSet;
use crate::request::{ParsedRequest, Serial};
use crate::OcspError;

/// A certificate's status as the source knows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CertStatusAnswer {
    /// Issued by us and not revoked.
    Good,
    /// Revoked (or on hold: `certificateHold`) at `at`.
    Revoked {
        /// When the revocation was recorded.
        at: SystemTime,
        /// Why.
        reason: RevocationReason,
    },
    /// Not ours: an issuer we do not serve, a hash we do not support, or a serial this issuer
    /// never issued.
    Unknown,
}

/// Answers "what is the status of serial S of issuer I?". The store implements it next to its
/// database; tests implement it over a map.
///
/// A serial the issuer never issued is the source's to report as [`CertStatusAnswer::Unknown`].
/// An `Err` (the database is unreachable, say) becomes a `tryLater` response.
pub trait StatusSource: Send + Sync {
    /// The status of `serial` of issuer `issuer` (an index into the responder's [`IssuerSet`]).
    fn status(
        &self,
        issuer: usize,
        serial: &Serial,
    ) -> impl Future<Output = Result<CertStatusAnswer, OcspError>> + Send;
}

/// The status of every entry of `request`, in order: entries whose issuer is not one of
/// `issuers` (or whose hash we do not support) are `Unknown` without asking `source`.
pub async fn lookup<S: StatusSource>(
    issuers: &IssuerSet,
    source: &S,
    request: &ParsedRequest,
) -> Result<Vec<CertStatusAnswer>, OcspError> {
    let mut answers = Vec::with_capacity(request.entries.len());
    for entry in &request.entries {
        let answer = match issuers.locate(&entry.cert_id) {
            Some(index) => source.status(index, &entry.serial).await?,
            None => CertStatusAnswer::Unknown,
        };
        answers.push(answer);
    }
    Ok(answers)
}
