//! `keyward server`'s reload on SIGHUP: cm.conf is read and checked again as at start-up, the
//! settings that can change safely while serving (`pin-mailer.*`, see
//! [`keyward_server::config::RELOADABLE_PREFIX`]) are put in force, and every other setting that
//! differs from the running one is named as needing a restart. A cm.conf that does not pass
//! the checks changes nothing: the running settings stay.

use std::path::PathBuf;
use std::sync::Arc;

use keyward_policy::config::Settings;
use keyward_server::config::{settings_that_need_a_restart, ServerConfig};
use keyward_server::{service, ServerError, Services};

use crate::checks;

/// Re-reads cm.conf into a running server.
pub struct Reloader {
    /// cm.conf.
    path: PathBuf,
    /// The settings the server started with: all but `pin-mailer.*` stay in force until a
    /// restart, whatever later reloads find.
    running: Settings,
    services: Arc<Services>,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// The PIN mailer now in force, in one line (never the password); `None` without
    /// `pin-mailer.smtp-host`.
    pub pin_mailer: Option<String>,
    /// Settings that differ from the running ones and need a restart, by name only.
    pub need_restart: Vec<String>,
}

impl Reloader {
    /// A reloader for the server that started from `config` with `services`.
    pub fn new(config: &ServerConfig, services: Arc<Services>) -> Reloader {
        Reloader {
            path: config.path.clone(),
            running: config.settings.clone(),
            services,
        }
    }

    /// Reads and checks cm.conf as the server's start does (every setting, the modes of the
    /// key and password files, the PIN mailer's settings and password file), then puts its
    /// `pin-mailer.*` in force. On error nothing changes; the error names the setting.
    pub fn reload(&self) -> Result<Reloaded, ServerError> {
        let config = ServerConfig::load(&self.path)?;
        checks::check_file_modes(&config)?;
        let mailer = service::load_pin_mailer(&config)?;
        let pin_mailer = mailer.as_ref().map(service::PinMailer::describe);
        self.services.pins.replace_pin_mailer(mailer);
        Ok(Reloaded {
            pin_mailer,
            need_restart: settings_that_need_a_restart(&self.running, &config.settings),
        })
    }

    /// [`Reloader::reload`], and says in the log what happened.
    pub fn reload_and_log(&self) {
        let path = self.path.display();
        match self.reload() {
            Ok(done) => {
                match &done.pin_mailer {
                    Some(line) => {
                        tracing::info!("reloaded pin-mailer settings from cm.conf ({path}): {line}")
                    }
                    None => tracing::info!(
                        "reloaded pin-mailer settings from cm.conf ({path}): no \
                         pin-mailer.smtp-host, so PIN mail is queued but not sent"
                    ),
                }
                if !done.need_restart.is_empty() {
                    tracing::warn!(
                        "cm.conf ({path}): {} changed; only pin-mailer.* is reloaded: restart \
                         keyward server to apply the others (it runs with the old values until \
                         then)",
                        done.need_restart.join(", ")
                    );
                }
            }
            Err(e) => tracing::error!(
                "reloading cm.conf failed, keeping the running settings (pin-mailer.* \
                 included): {e}"
            ),
        }
    }
}
