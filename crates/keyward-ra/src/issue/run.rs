//! Carrying out a prepared order: local keys, the signed request, the token files.

use openssl::pkey::{PKey, Private};

use keyward_crypto::transport::TransportKeyPair;
use keyward_crypto::Pin;
use keyward_policy::{FriendlyName, PlannedAction};
use keyward_proto::{CsrEntry, IssueRequest, TOKEN_PIN_CONTEXT};

use super::{IssuedToken, PendingRequest, PinSource, Prepared, TokenCertificate};
use crate::client::RaClient;
use crate::error::RaError;
use crate::undelivered::{undelivered, Orphan};
use crate::util::{random_hex, unix_now};

impl Prepared {
    /// Generates the local keys, sends the signed request, and writes the token sealed with the
    /// PIN from `pin` (for a server-chosen PIN: the one the server sealed to this request).
    pub async fn execute(self, client: &RaClient, pin: PinSource) -> Result<IssuedToken, RaError> {
        self.execute_with(client, pin, |_| Ok(())).await
    }

    /// As [`Prepared::execute`], calling `before_send` with the request and its secrets just
    /// before the request is sent (batch issuance keeps them to re-send the same request after
    /// an interruption); an error there stops the issuance with nothing sent.
    pub async fn execute_with(
        self,
        client: &RaClient,
        pin: PinSource,
        before_send: impl FnOnce(&PendingRequest) -> Result<(), RaError>,
    ) -> Result<IssuedToken, RaError> {
        let (pin_letter, pin_mailer_address) =
            pin.fields(&self.resolved.pin, &self.resolved.token.name)?;
        let local: Vec<String> = self
            .plan
            .actions
            .iter()
            .filter_map(|a| match a {
                PlannedAction::GenerateLocal {
                    certificate_procedure,
                    ..
                } => Some(certificate_procedure.clone()),
                _ => None,
            })
            .collect();
        let spec = self.key_spec;
        let keygen_subject = self.subject.clone();
        let pool = self.key_pool.clone();
        let keys: Vec<(String, PKey<Private>, Vec<u8>)> = tokio::task::spawn_blocking(move || {
            local
                .into_iter()
                .map(|name| {
                    let key = match &pool {
                        Some(pool) => pool.take(spec)?,
                        None => keyward_crypto::generate_key(spec)?,
                    };
                    let csr = keyward_crypto::build_csr(&key, &keygen_subject)?;
                    Ok((name, key, csr))
                })
                .collect::<Result<Vec<_>, RaError>>()
        })
        .await
        .map_err(|_| RaError::internal("key generation was interrupted"))??;

        let server_pin = !matches!(pin, PinSource::Local(_));
        let transport = if self.plan.has_server_keys() || server_pin {
            Some(TransportKeyPair::generate()?)
        } else {
            None
        };
        let request = IssueRequest {
            request_id: match &self.order.request_id {
                Some(id) => id.clone(),
                None => random_hex(16)?,
            },
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            token_procedure: self.resolved.token.name.clone(),
            subject: self.order.subject.clone(),
            email: self.order.email.clone(),
            key_spec: spec.to_string(),
            csrs: keys
                .iter()
                .map(|(name, _, csr)| CsrEntry {
                    certificate_procedure: name.clone(),
                    csr: csr.clone(),
                })
                .collect(),
            transport_key: transport.as_ref().map(|t| t.public_der()).transpose()?,
            recover: self.order.recover.clone(),
            pin_letter,
            pin_mailer_address,
            approval: self.order.approval.clone(),
            qc_statements: self.order.qc_statements.clone(),
            alt_names: self.order.alt_names.clone(),
        };
        let pending = PendingRequest {
            request,
            keys: keys.into_iter().map(|(name, key, _)| (name, key)).collect(),
            transport,
        };
        before_send(&pending)?;
        self.finish(client, pin, pending).await
    }

    /// Sends a request built before (by an interrupted batch) again, unchanged, and writes the
    /// token from the answer: a server that issued it already answers with the stored result.
    pub async fn resume(
        self,
        client: &RaClient,
        pin: PinSource,
        pending: PendingRequest,
    ) -> Result<IssuedToken, RaError> {
        pin.check(&self.resolved.pin, &self.resolved.token.name)?;
        if pending.request.token_procedure != self.resolved.token.name
            || pending.request.subject != self.order.subject
        {
            return Err(RaError::input(
                "request",
                "the pending request is for another token procedure or subject",
            ));
        }
        self.finish(client, pin, pending).await
    }

    async fn finish(
        self,
        client: &RaClient,
        pin: PinSource,
        pending: PendingRequest,
    ) -> Result<IssuedToken, RaError> {
        let PendingRequest {
            request,
            keys: local,
            transport,
        } = pending;
        let spec = self.key_spec;
        let response = client.issue(&request).await?;
        let pin = match (pin, &response.sealed_pin, &transport) {
            (PinSource::Local(pin), _, _) => pin,
            (_, Some(sealed), Some(transport)) => {
                let bytes = crate::pins::open_sealed(
                    transport,
                    sealed,
                    &request.request_id,
                    TOKEN_PIN_CONTEXT,
                )?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| client.transport("the token PIN is not text"))?;
                Pin::new(text.to_string())
            }
            _ => return Err(client.transport("the answer carries no token PIN")),
        };
        // Sealing (PBKDF2) and the fsyncs of the atomic writes block: off the async workers,
        // so that the other tokens of a batch keep their connections moving meanwhile.
        let chain = client.ca_chain(&response.chain)?;
        let friendly = match self.resolved.token.friendly_name {
            FriendlyName::Cn => self
                .subject
                .get("CN")
                .map(str::to_string)
                .unwrap_or_else(|| self.subject.to_string()),
            FriendlyName::Subject => self.subject.to_string(),
        };
        let profile: keyward_crypto::Pkcs12Profile = (&self.resolved.p12).into();
        let (p12_path, cert_path, ac_path, force) = (
            self.order.p12_path.clone(),
            self.cert_path.clone(),
            self.ac_path.clone(),
            self.order.force,
        );
        // Certificates issued now (not a reused old one): orphans if the token is not written.
        let orphans: Vec<Orphan> = response
            .certificates
            .iter()
            .filter(|c| !c.reused)
            .map(|c| Orphan {
                certificate_id: c.certificate_id.clone(),
                key_origin: c.key_origin,
            })
            .collect();
        let request_id = request.request_id.clone();
        let written = tokio::task::spawn_blocking(move || {
            let token = crate::token::assemble(
                &response,
                chain,
                &request.request_id,
                &local,
                transport.as_ref(),
            )
            .map_err(Written::Other)?;
            let cert_paths = crate::token::write(
                &token, &friendly, &pin, &profile, &p12_path, &cert_path, force,
            )
            .map_err(Written::Not)?;
            let attribute_certificate = match (&response.attribute_certificate, &ac_path) {
                (Some(ac), Some(path)) => {
                    crate::token::write_attribute_certificate(path, &ac.der)
                        .map_err(Written::Other)?;
                    Some(crate::content::SavedAttributeCertificate {
                        serial: ac.serial.clone(),
                        procedure: ac.procedure.clone(),
                        holder_certificate_id: ac.holder_certificate_id.clone(),
                        path: path.clone(),
                    })
                }
                _ => None,
            };
            Ok((response, cert_paths, attribute_certificate))
        })
        .await
        .map_err(|_| RaError::internal("writing the token was interrupted"))?;
        let (response, cert_paths, attribute_certificate) = match written {
            Ok(done) => done,
            Err(Written::Not(e @ RaError::Io { .. })) if !orphans.is_empty() => {
                return Err(undelivered(client, &request_id, &orphans, e).await)
            }
            Err(Written::Not(e) | Written::Other(e)) => return Err(e),
        };
        let key_management = self.key_management();
        Ok(IssuedToken {
            token_procedure: self.resolved.token.name.clone(),
            certificates: response
                .certificates
                .iter()
                .map(|c| TokenCertificate {
                    certificate_id: c.certificate_id.clone(),
                    serial: c.serial.clone(),
                    subject: c.subject.clone(),
                    certificate_procedure: c.certificate_procedure.clone(),
                    key_origin: c.key_origin,
                    reused: c.reused,
                })
                .collect(),
            p12_path: self.order.p12_path,
            cert_paths,
            key_management,
            key_spec: spec,
            pin_delivery: response.pin_delivery.clone(),
            attribute_certificate,
            revoked: response.revoked.clone(),
        })
    }
}

/// Why writing a token failed: the token's own files (`Not`: the token is not delivered), or
/// anything else (its answer, the attribute certificate written apart).
enum Written {
    Not(RaError),
    Other(RaError),
}
