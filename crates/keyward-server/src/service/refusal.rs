//! Why the service refused a request: a kind, the field at fault, and a sentence.

/// The kind of refusal; the API maps it to an HTTP status and a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Bad input.
    Invalid,
    /// The officer lacks a role.
    Forbidden,
    /// A named thing does not exist.
    NotFound,
    /// Not available in this version or configuration.
    Unsupported,
    /// The request is well-formed but the stored state does not allow it (a damaged archived
    /// key, for one).
    Conflict,
    /// Our fault; details are logged, not returned.
    Internal,
    /// A recovery that waits for other officers' approval (a request was opened).
    ApprovalRequired,
}

impl RefusalKind {
    /// The stable code the API answers with (`ApiError::code`).
    pub fn code(self) -> &'static str {
        match self {
            RefusalKind::Invalid => "invalid",
            RefusalKind::Forbidden => "forbidden",
            RefusalKind::NotFound => "not-found",
            RefusalKind::Unsupported => "unsupported",
            RefusalKind::Conflict => "conflict",
            RefusalKind::Internal => "internal",
            RefusalKind::ApprovalRequired => "approval-required",
        }
    }
}

/// A refused request.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Kind.
    pub kind: RefusalKind,
    /// Field at fault.
    pub field: Option<String>,
    /// Sentence for the officer (never a secret).
    pub message: String,
}

impl Refusal {
    /// Bad input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Invalid,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// A missing role.
    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Forbidden,
            field: None,
            message: message.into(),
        }
    }

    /// `field` names nothing that exists.
    pub fn not_found(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::NotFound,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// Not provided by this version.
    pub fn unsupported(message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Unsupported,
            field: None,
            message: message.into(),
        }
    }

    /// Stored state that does not allow the request; the message says which object.
    pub fn conflict(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Conflict,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// A recovery waits for approval; the message names the approval request.
    pub fn approval_required(message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::ApprovalRequired,
            field: Some("approval".into()),
            message: message.into(),
        }
    }

    /// An internal failure: logged here, a generic sentence for the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Refusal {
        tracing::error!("internal error: {cause}");
        Refusal {
            kind: RefusalKind::Internal,
            field: None,
            message: "internal server error (see the server log)".into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Refusal {}
