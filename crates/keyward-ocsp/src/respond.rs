//! The whole exchange for the HTTP layer: request bytes in, response bytes out, never a panic
//! and never `internalError` for bad input.

use std::time::SystemTime;

use der::Encode;

use crate::asn1::ResponseStatus;
use crate::cache::{CacheFacts, ResponseCache};
use crate::issuer::IssuerSet;
use crate::request::{parse_request, Limits};
use crate::response::{error_response, Responder};
use crate::status::{lookup, StatusSource};
use crate::OcspError;

/// What to send back.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Reply {
    /// The DER OCSPResponse (`application/ocsp-response`).
    pub der: Vec<u8>,
    /// Its responseStatus.
    pub status: ResponseStatus,
    /// The RFC 5019 cache headers' values, for a cacheable successful response.
    pub cache: Option<CacheFacts>,
    /// Whether it came out of the pre-signed cache.
    pub from_cache: bool,
}

impl Reply {
    fn error(err: &OcspError) -> Reply {
        let status = err.status();
        Reply {
            der: error_response(status),
            status,
            cache: None,
            from_cache: false,
        }
    }
}

/// What a responder answers with.
pub struct Context<'a, S> {
    /// The signing key and certificate.
    pub responder: &'a Responder,
    /// Our issuing CAs.
    pub issuers: &'a IssuerSet,
    /// Certificate status.
    pub source: &'a S,
    /// Pre-signed responses, if kept.
    pub cache: Option<&'a ResponseCache>,
    /// Request bounds.
    pub limits: Limits,
}

impl<S: StatusSource> Context<'_, S> {
    /// Answers the request DER `body` (a POST body, or [`crate::decode_get_path`]'s output) at
    /// `now`. A single-entry request without a nonce is served from, and stored in, the cache.
    pub async fn respond(&self, body: &[u8], now: SystemTime) -> Reply {
        match self.try_respond(body, now).await {
            Ok(reply) => reply,
            Err(err) => Reply::error(&err),
        }
    }

    async fn try_respond(&self, body: &[u8], now: SystemTime) -> Result<Reply, OcspError> {
        let request = parse_request(body, &self.limits)?;
        let cache_slot = match (self.cache, request.cacheable()) {
            (Some(cache), true) => {
                let entry = &request.entries[0];
                self.issuers.locate(&entry.cert_id).map(|issuer| {
                    let der = entry.cert_id.to_der().unwrap_or_default();
                    (cache, issuer, entry.serial.clone(), der)
                })
            }
            _ => None,
        };
        if let Some((cache, issuer, serial, cert_id)) = &cache_slot {
            if let Some(hit) = cache.get(*issuer, serial, cert_id, now) {
                return Ok(Reply {
                    cache: CacheFacts::for_response(&hit, now),
                    der: hit.der,
                    status: ResponseStatus::Successful,
                    from_cache: true,
                });
            }
        }
        let generation = cache_slot.as_ref().map(|(c, ..)| c.generation());
        let answers = lookup(self.issuers, self.source, &request).await?;
        let signed = self.responder.build_response(&request, &answers, now)?;
        if let (Some((cache, issuer, serial, cert_id)), Some(generation)) =
            (&cache_slot, generation)
        {
            if !cert_id.is_empty() {
                cache.insert(*issuer, serial, cert_id, signed.clone(), generation);
            }
        }
        Ok(Reply {
            cache: CacheFacts::for_response(&signed, now),
            der: signed.der,
            status: ResponseStatus::Successful,
            from_cache: false,
        })
    }
}
