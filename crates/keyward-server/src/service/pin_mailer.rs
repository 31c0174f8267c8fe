//! The PIN mailer's SMTP side as the PIN desk holds it: built from cm.conf's `pin-mailer.*`,
//! and replaceable while the server runs (`keyward server` re-reads it on SIGHUP), so that an
//! officer who adds or fixes the SMTP settings does not have to restart the CM host.

use std::sync::{Arc, RwLock};

use keyward_mailer::smtp::{setting, Mailer};
use zeroize::Zeroizing;

use crate::config::ServerConfig;
use crate::error::ServerError;

/// The PIN mailer's SMTP side: the transport and how often to retry.
pub struct PinMailer {
    /// The SMTP transport (blocking; used from a blocking task).
    pub mailer: Mailer,
    /// Attempts before a mail is marked `failed`.
    pub max_attempts: i64,
}

impl PinMailer {
    /// One line for the log: server, protection, sender and attempts; never the password.
    pub fn describe(&self) -> String {
        format!(
            "SMTP server {} (security {}), from {}, max {} attempts",
            self.mailer.server(),
            self.mailer.security().name(),
            self.mailer.from(),
            self.max_attempts
        )
    }
}

/// What the PIN desk sends with: `None` without `pin-mailer.smtp-host`. Each delivery run takes
/// one snapshot ([`MailerSlot::current`]), so a reload in the middle of a run does not mix two
/// configurations in one run.
#[derive(Default)]
pub(crate) struct MailerSlot(RwLock<Option<Arc<PinMailer>>>);

impl MailerSlot {
    /// The mailer in force now.
    pub(crate) fn current(&self) -> Option<Arc<PinMailer>> {
        // A panic while holding the lock cannot leave a half-written Option behind: recover.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `mailer` in force for the runs that start from now on.
    pub(crate) fn replace(&self, mailer: Option<PinMailer>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = mailer.map(Arc::new);
    }
}

/// Builds the PIN mailer's SMTP transport from cm.conf's `pin-mailer.*`, if configured, reading
/// the password file. Errors name the setting (`pin-mailer.smtp-password-file`, …); the password
/// never appears in them.
pub fn load_pin_mailer(config: &ServerConfig) -> Result<Option<PinMailer>, ServerError> {
    let Some(pm) = &config.pin_mailer else {
        return Ok(None);
    };
    let fail = |reason: String| ServerError::Config {
        path: config.path.clone(),
        reason,
    };
    let mut smtp = pm.smtp.clone();
    if let Some(file) = &pm.password_file {
        let shown = file.display();
        let bytes = Zeroizing::new(
            std::fs::read(file)
                .map_err(|e| fail(format!("{}: {shown}: {e}", setting::PASSWORD_FILE)))?,
        );
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            fail(format!(
                "{}: {shown}: not UTF-8 text",
                setting::PASSWORD_FILE
            ))
        })?;
        smtp.password = Some(Zeroizing::new(
            text.trim_end_matches(['\r', '\n']).to_string(),
        ));
    }
    let mailer = Mailer::new(&smtp).map_err(|e| fail(e.to_string()))?;
    Ok(Some(PinMailer {
        mailer,
        max_attempts: pm.max_attempts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str, dir: &std::path::Path) -> ServerConfig {
        let text = format!(
            "server.listen = 127.0.0.1:8443\ndatabase.url = sqlite://kw.db\n\
             tls.certificate = t.pem\ntls.key = t.key\nca.root = r.pem\n\
             ca.issuing.certificate = i.pem\nca.issuing.key = i.key\n\
             ca.key-passphrase-file = i.pass\n{extra}"
        );
        ServerConfig::from_text(&dir.join("cm.conf"), &text).unwrap()
    }

    #[test]
    fn errors_name_the_setting_and_never_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = "pin-mailer.smtp-host = 127.0.0.1\npin-mailer.from = pin@example.org\n\
                      pin-mailer.smtp-security = none\npin-mailer.smtp-username = kw\n";
        let missing = config(
            &format!("{mailer}pin-mailer.smtp-password-file = nowhere.pass\n"),
            dir.path(),
        );
        let err = load_pin_mailer(&missing).err().unwrap().to_string();
        assert!(err.contains("pin-mailer.smtp-password-file"), "{err}");

        std::fs::write(dir.path().join("pw"), "hunter2-SECRET\n").unwrap();
        let remote = config(
            &format!(
                "{}pin-mailer.smtp-password-file = pw\n",
                mailer.replace("127.0.0.1", "mail.example.org")
            ),
            dir.path(),
        );
        let err = load_pin_mailer(&remote).err().unwrap().to_string();
        assert!(err.contains("pin-mailer.smtp-security"), "{err}");
        assert!(!err.contains("hunter2-SECRET"), "{err}");

        let fine = config(
            &format!("{mailer}pin-mailer.smtp-password-file = pw\n"),
            dir.path(),
        );
        let loaded = load_pin_mailer(&fine).unwrap().unwrap();
        let line = loaded.describe();
        assert!(
            line.contains("127.0.0.1:25") && !line.contains("hunter2"),
            "{line}"
        );
    }

    #[test]
    fn the_slot_hands_out_the_mailer_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let slot = MailerSlot::default();
        assert!(slot.current().is_none());
        let config = config(
            "pin-mailer.smtp-host = 127.0.0.1\npin-mailer.from = pin@example.org\n\
             pin-mailer.smtp-port = 2525\n",
            dir.path(),
        );
        slot.replace(load_pin_mailer(&config).unwrap());
        let taken = slot.current().unwrap();
        slot.replace(None);
        assert!(slot.current().is_none());
        // A run that took the old one keeps it to its end.
        assert_eq!(taken.mailer.server(), "127.0.0.1:2525");
    }
}
