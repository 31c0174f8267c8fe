//! `server.*` connection limits: how long a client may take to send a request's headers and
//! body, how long a connection may sit idle, and how many connections are served at once.

use std::time::Duration;

use keyward_policy::config::Settings;

/// The connection limits of the API listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `server.header-timeout` (seconds, default 10): the TLS handshake, and then each
    /// HTTP/1.1 request's headers, must arrive within this time (this includes the wait for the
    /// next request on a kept-alive connection). HTTP/2 headers that never complete leave the
    /// connection without a request in progress: the idle timeout closes it.
    pub header_timeout: Duration,
    /// `server.body-timeout` (seconds, default 30): a request's whole body must arrive within
    /// this time once its headers have; otherwise 408 and the connection is closed.
    pub body_timeout: Duration,
    /// `server.idle-timeout` (seconds, default 60): a connection with no request in progress
    /// for this long is closed (HTTP/2: GOAWAY; a TLS connection that never sends a request).
    pub idle_timeout: Duration,
    /// `server.max-connections` (default 1024): connections served at once; one more is
    /// closed as soon as it is accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// The settings read here.
pub(crate) const KNOWN: &[&str] = &[
    "server.header-timeout",
    "server.body-timeout",
    "server.idle-timeout",
    "server.max-connections",
];

/// The longest timeout accepted, in seconds (an hour: longer is no protection).
const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most connections accepted as a cap (each costs a file descriptor and a task).
const MAX_CONNECTIONS: usize = 1_000_000;

/// Reads `server.header-timeout`, `-body-timeout`, `-idle-timeout` and `-max-connections`;
/// an absent or empty setting takes its default. Errors name the setting.
pub(crate) fn connection_limits(settings: &Settings) -> Result<ConnectionLimits, String> {
    let defaults = ConnectionLimits::default();
    let get = |key: &str| settings.get(key).map(str::trim).filter(|v| !v.is_empty());
    let timeout = |key: &str, default: Duration| match get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_TIMEOUT_SECS).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{key}: {v:?} is not 1 to {MAX_TIMEOUT_SECS} seconds")),
    };
    let max_connections = match get("server.max-connections") {
        None => defaults.max_connections,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_CONNECTIONS).contains(n))
            .ok_or_else(|| {
                format!("server.max-connections: {v:?} is not 1 to {MAX_CONNECTIONS}")
            })?,
    };
    Ok(ConnectionLimits {
        header_timeout: timeout("server.header-timeout", defaults.header_timeout)?,
        body_timeout: timeout("server.body-timeout", defaults.body_timeout)?,
        idle_timeout: timeout("server.idle-timeout", defaults.idle_timeout)?,
        max_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ConnectionLimits, String> {
        connection_limits(&Settings::parse(text).unwrap())
    }

    #[test]
    fn defaults_apply_without_the_settings() {
        let limits = read("").unwrap();
        assert_eq!(limits, ConnectionLimits::default());
        assert_eq!(
            (
                limits.header_timeout.as_secs(),
                limits.body_timeout.as_secs(),
                limits.idle_timeout.as_secs(),
                limits.max_connections
            ),
            (10, 30, 60, 1024)
        );
    }

    #[test]
    fn settings_are_read() {
        let limits = read(
            "server.header-timeout = 2\nserver.body-timeout = 3\n\
             server.idle-timeout = 4\nserver.max-connections = 5\n",
        )
        .unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(4));
        assert_eq!(limits.max_connections, 5);
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (text, setting) in [
            ("server.header-timeout = 0\n", "server.header-timeout"),
            ("server.body-timeout = soon\n", "server.body-timeout"),
            ("server.idle-timeout = 3601\n", "server.idle-timeout"),
            ("server.idle-timeout = -1\n", "server.idle-timeout"),
            ("server.max-connections = 0\n", "server.max-connections"),
            ("server.max-connections = many\n", "server.max-connections"),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.starts_with(setting), "{text:?}: {err}");
        }
    }
}
