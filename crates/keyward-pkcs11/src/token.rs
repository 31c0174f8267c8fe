//! A token: one read-write session, logged in with the user PIN.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::Encode;

use crate::{module, Pkcs11Error};

/// A session on one token of one module. `Debug` shows the module and the token label only.
pub struct Token {
    module: PathBuf,
    label: String,
    /// Canonical module path and slot: identifies the token within this process.
    slot_key: String,
    session: Mutex<Session>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("module", &self.module)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// A certificate object on a token.
#[derive(Debug, Clone)]
pub struct TokenCertificate {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CKA_VALUE: the DER certificate.
    pub der: Vec<u8>,
}

/// A cryptoki error as its function and return code (never data).
pub(crate) fn describe(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, function) => format!("{function} returned {rv:?}"),
        other => other.to_string(),
    }
}

impl Token {
    /// Opens a read-write session on the token labelled `label` in the module at `module`.
    pub fn open(module: &Path, label: &str) -> Result<Token, Pkcs11Error> {
        let context = module::load(module)?;
        let not_found = |reason: String| Pkcs11Error::TokenNotFound {
            module: module.display().to_string(),
            reason,
        };
        let slots = context
            .get_slots_with_token()
            .map_err(|e| not_found(format!("cannot list slots ({})", describe(&e))))?;
        let mut present = Vec::new();
        let mut found = Vec::new();
        for slot in slots {
            let Ok(info) = context.get_token_info(slot) else {
                continue;
            };
            let name = info.label().trim_end().to_string();
            if !info.token_initialized() {
                continue;
            }
            if name == label {
                found.push(slot);
            }
            present.push(format!("{name:?}"));
        }
        let slot = match found.as_slice() {
            [slot] => *slot,
            [] => {
                return Err(not_found(format!(
                    "no initialised token labelled {label:?} (present: {})",
                    if present.is_empty() {
                        "none".to_string()
                    } else {
                        present.join(", ")
                    }
                )))
            }
            _ => {
                return Err(not_found(format!(
                    "{} tokens are labelled {label:?}; relabel all but one",
                    found.len()
                )))
            }
        };
        let session = context
            .open_rw_session(slot)
            .map_err(|e| Pkcs11Error::Operation {
                token: format!("PKCS#11 token {label:?} ({})", module.display()),
                operation: "open session",
                reason: describe(&e),
            })?;
        Ok(Token {
            module: module.to_path_buf(),
            label: label.to_string(),
            slot_key: format!("{}#{}", module::canonical(module).display(), slot.id()),
            session: Mutex::new(session),
        })
    }

    /// The module path.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `PKCS#11 token "LABEL" (MODULE)`, as errors name it.
    pub fn describe(&self) -> String {
        format!("PKCS#11 token {:?} ({})", self.label, self.module.display())
    }

    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn op_err(&self, operation: &'static str) -> impl Fn(Error) -> Pkcs11Error + '_ {
        move |e| Pkcs11Error::Operation {
            token: self.describe(),
            operation,
            reason: describe(&e),
        }
    }

    pub(crate) fn object_err(&self, reason: String) -> Pkcs11Error {
        Pkcs11Error::Object {
            token: self.describe(),
            reason,
        }
    }

    /// Logs the user in with `pin` (the officer's Signature PIN, or the HSM user PIN). The PIN
    /// goes to the module in a zeroizing buffer. Already being logged in (another session of
    /// this process) is not an error, unless this process logged in with another PIN.
    pub fn login(&self, pin: &str) -> Result<(), Pkcs11Error> {
        let auth = AuthPin::new(pin.into());
        match self.session().login(UserType::User, Some(&auth)) {
            Ok(()) => {
                module::remember_login(&self.slot_key, pin);
                Ok(())
            }
            Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                if module::differs_from_login(&self.slot_key, pin) {
                    Err(Pkcs11Error::WrongPin {
                        token: self.describe(),
                    })
                } else {
                    Ok(())
                }
            }
            Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                Err(Pkcs11Error::WrongPin {
                    token: self.describe(),
                })
            }
            Err(Error::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
                token: self.describe(),
            }),
            Err(e) => Err(self.op_err("login")(e)),
        }
    }

    /// The one object of `class` labelled `label`; `kind` names it in errors.
    pub(crate) fn find_one(
        &self,
        class: ObjectClass,
        label: &str,
        kind: &str,
    ) -> Result<ObjectHandle, Pkcs11Error> {
        let found = self
            .session()
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(self.op_err("find objects"))?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(self.object_err(format!("no {kind} labelled {label:?}"))),
            more => Err(self.object_err(format!(
                "{} objects are {kind}s labelled {label:?}; expected one",
                more.len()
            ))),
        }
    }

    /// Whether any object of `class` is labelled `label`.
    pub(crate) fn exists(&self, class: ObjectClass, label: &str) -> Result<bool, Pkcs11Error> {
        let found = self
            .session()
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(self.op_err("find objects"))?;
        Ok(!found.is_empty())
    }

    /// Every X.509 certificate on the token.
    pub fn certificates(&self) -> Result<Vec<TokenCertificate>, Pkcs11Error> {
        let session = self.session();
        let handles = session
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
            .map_err(self.op_err("find certificates"))?;
        let mut out = Vec::new();
        for handle in handles {
            let attributes = session
                .get_attributes(
                    handle,
                    &[
                        AttributeType::Label,
                        AttributeType::Id,
                        AttributeType::Value,
                    ],
                )
                .map_err(self.op_err("read certificate"))?;
            let mut cert = TokenCertificate {
                label: String::new(),
                id: Vec::new(),
                der: Vec::new(),
            };
            for attribute in attributes {
                match attribute {
                    Attribute::Label(l) => cert.label = String::from_utf8_lossy(&l).into_owned(),
                    Attribute::Id(id) => cert.id = id,
                    Attribute::Value(v) => cert.der = v,
                    _ => {}
                }
            }
            if !cert.der.is_empty() {
                out.push(cert);
            }
        }
        Ok(out)
    }

    /// The certificate with CKA_ID `id`, if the token holds one.
    pub fn certificate_by_id(&self, id: &[u8]) -> Result<Option<TokenCertificate>, Pkcs11Error> {
        Ok(self.certificates()?.into_iter().find(|c| c.id == id))
    }

    /// Destroys every object with CKA_ID `id` (rolling back a key pair and its certificate);
    /// returns how many there were.
    pub fn destroy_by_id(&self, id: &[u8]) -> Result<usize, Pkcs11Error> {
        if id.is_empty() {
            return Ok(0);
        }
        let session = self.session();
        let handles = session
            .find_objects(&[Attribute::Id(id.to_vec())])
            .map_err(self.op_err("find objects"))?;
        for handle in &handles {
            session
                .destroy_object(*handle)
                .map_err(self.op_err("destroy object"))?;
        }
        Ok(handles.len())
    }

    /// Stores a public X.509 certificate object (DER) with the given label and CKA_ID; a
    /// certificate with the same DER already on the token is left alone.
    pub fn store_certificate(&self, label: &str, id: &[u8], der: &[u8]) -> Result<(), Pkcs11Error> {
        if self.certificates()?.iter().any(|c| c.der == der) {
            return Ok(());
        }
        let bad = |_| self.object_err(format!("certificate {label:?} is not DER X.509"));
        let cert = openssl::x509::X509::from_der(der).map_err(bad)?;
        let subject = cert.subject_name().to_der().map_err(bad)?;
        let issuer = cert.issuer_name().to_der().map_err(bad)?;
        let serial = cert.serial_number().to_bn().map_err(bad)?.to_vec();
        let serial = der::asn1::UintRef::new(&serial)
            .and_then(|s| s.to_der())
            .map_err(|_| self.object_err(format!("certificate {label:?}: unusable serial")))?;
        self.session()
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Modifiable(false),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
                Attribute::Subject(subject),
                Attribute::Issuer(issuer),
                Attribute::SerialNumber(serial),
                Attribute::Value(der.to_vec()),
            ])
            .map_err(self.op_err("store certificate"))?;
        Ok(())
    }
}
