//! `public.listen` and `crl.*`: the plain-HTTP public listener (CRLs, and OCSP beside them)
//! and when CRLs are published, for how long they are valid, and where they are served and
//! written. Without `crl.url` no CRL is published.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Uri;
use keyward_policy::config::Settings;

/// The CRL settings (`crl.*`), present when `crl.url` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlConfig {
    /// `crl.url`: the full CRL's URL, written as its issuingDistributionPoint, and its path
    /// is where the public listener serves it.
    pub url: CrlUrl,
    /// `crl.delta-url`: the delta CRL's URL (its path served likewise, and written as the
    /// full CRL's freshestCRL); no delta CRLs without it.
    pub delta_url: Option<CrlUrl>,
    /// `crl.full-interval` (seconds, default 86400): a full CRL at least this often.
    pub full_interval: Duration,
    /// `crl.full-validity` (seconds, default 604800): nextUpdate − thisUpdate of a full CRL;
    /// more than the interval, so that a CRL is replaced before it runs out.
    pub full_validity: Duration,
    /// `crl.delta-interval` (seconds, default 900).
    pub delta_interval: Duration,
    /// `crl.delta-validity` (seconds, default 3600), more than the delta interval.
    pub delta_validity: Duration,
    /// `crl.on-revoke` (default true): a new delta CRL as soon as a revocation commits (at
    /// most one a second) and a new full CRL with it, no sooner than `full_min_gap` after
    /// the last full CRL; besides the schedule.
    pub on_revoke: bool,
    /// `crl.full-min-gap` (seconds, default 60): the least time between two full CRLs that
    /// revocations bring, so that a burst of revocations at a million entries (≈ 2 s and
    /// 50 MB a full CRL) costs one full CRL a minute, not one a second; the delta CRLs carry
    /// the revocations in between.
    pub full_min_gap: Duration,
    /// `crl.publish-dir`: where every CRL is also written (atomically) under the last
    /// segment of its URL's path, for a web server to serve.
    pub publish_dir: Option<PathBuf>,
}

/// An `http://` URL of a CRL, with its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlUrl {
    /// The URL as written.
    pub url: String,
    /// Its path (`/crl/issuing.crl`).
    pub path: String,
    /// The path's last segment (`issuing.crl`): the file name in `crl.publish-dir`.
    pub file_name: String,
}

/// The settings read here.
pub(crate) const KNOWN: &[&str] = &[
    "public.listen",
    "crl.url",
    "crl.delta-url",
    "crl.full-interval",
    "crl.full-validity",
    "crl.delta-interval",
    "crl.delta-validity",
    "crl.on-revoke",
    "crl.full-min-gap",
    "crl.publish-dir",
];

/// The longest interval or validity accepted: a year.
const MAX_SECS: u64 = 366 * 86_400;
/// The longest URL accepted (it is written into every CRL and certificate).
const MAX_URL_LEN: usize = 1024;
/// Paths the OCSP responder answers on the same listener.
const OCSP_PATH: &str = "/ocsp";

/// Reads `public.listen` (ADDRESS:PORT); absent or empty: no public listener.
pub(crate) fn public_listen(settings: &Settings) -> Result<Option<SocketAddr>, String> {
    match settings.get("public.listen").map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("public.listen: {v:?} is not ADDRESS:PORT")),
    }
}

/// Reads `crl.*` (paths relative to `base`); `None` without `crl.url`. Errors name the
/// setting.
pub(crate) fn crl_config(settings: &Settings, base: &Path) -> Result<Option<CrlConfig>, String> {
    let get = |key: &str| settings.get(key).map(str::trim).filter(|v| !v.is_empty());
    let Some(url) = get("crl.url") else {
        return match KNOWN[2..].iter().find(|k| get(k).is_some()) {
            Some(key) => Err(format!("{key} is set but crl.url is not")),
            None => Ok(None),
        };
    };
    let url = crl_url("crl.url", url)?;
    let delta_url = get("crl.delta-url")
        .map(|v| crl_url("crl.delta-url", v))
        .transpose()?;
    if let Some(delta) = &delta_url {
        if delta.path == url.path {
            return Err(format!(
                "crl.delta-url: {:?} has the path of crl.url; the delta CRL needs its own",
                delta.url
            ));
        }
    }
    let secs = |key: &str, default: u64| match get(key) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_SECS).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{key}: {v:?} is not 1 to {MAX_SECS} seconds")),
    };
    let full_interval = secs("crl.full-interval", 86_400)?;
    let full_validity = secs("crl.full-validity", 604_800)?;
    let delta_interval = secs("crl.delta-interval", 900)?;
    let delta_validity = secs("crl.delta-validity", 3600)?;
    let full_min_gap = secs("crl.full-min-gap", 60)?;
    if full_validity <= full_interval {
        return Err(format!(
            "crl.full-validity: {} s must exceed crl.full-interval ({} s), or relying parties \
             hold an expired CRL before the next one",
            full_validity.as_secs(),
            full_interval.as_secs()
        ));
    }
    if delta_validity <= delta_interval {
        return Err(format!(
            "crl.delta-validity: {} s must exceed crl.delta-interval ({} s)",
            delta_validity.as_secs(),
            delta_interval.as_secs()
        ));
    }
    let on_revoke = match get("crl.on-revoke") {
        None | Some("true") => true,
        Some("false") => false,
        Some(v) => return Err(format!("crl.on-revoke: {v:?} is not true or false")),
    };
    Ok(Some(CrlConfig {
        url,
        delta_url,
        full_interval,
        full_validity,
        delta_interval,
        delta_validity,
        on_revoke,
        full_min_gap,
        publish_dir: get("crl.publish-dir").map(|d| base.join(d)),
    }))
}

/// Checks a CRL URL: `http://HOST[:PORT]/PATH` (relying parties fetch CRLs without TLS), a
/// path whose last segment names a file, no query or fragment, not the OCSP paths.
fn crl_url(key: &str, url: &str) -> Result<CrlUrl, String> {
    let bad = |why: &str| format!("{key}: {url:?} {why}");
    if url.len() > MAX_URL_LEN {
        return Err(format!("{key}: longer than {MAX_URL_LEN} bytes"));
    }
    let uri: Uri = url.parse().map_err(|_| bad("is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("is not an http:// URL (CRLs are fetched without TLS)"));
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("has a query or fragment"));
    }
    let path = uri.path().to_string();
    let file_name = path.rsplit('/').next().unwrap_or("").to_string();
    if file_name.is_empty() || file_name == "." || file_name == ".." {
        return Err(bad("has no file name at the end of its path"));
    }
    // The router would read braces and stars as captures and wildcards.
    if path.contains(['{', '}', '*']) {
        return Err(bad("has '{', '}' or '*' in its path"));
    }
    if path == OCSP_PATH || path.starts_with("/ocsp/") {
        return Err(bad("uses the OCSP responder's path"));
    }
    Ok(CrlUrl {
        url: url.to_string(),
        path,
        file_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<CrlConfig>, String> {
        crl_config(&Settings::parse(text).unwrap(), Path::new("/srv/kw"))
    }

    #[test]
    fn no_crls_without_the_url() {
        assert_eq!(read("").unwrap(), None);
        let err = read("crl.full-interval = 60\n").unwrap_err();
        assert_eq!(err, "crl.full-interval is set but crl.url is not");
    }

    #[test]
    fn defaults_apply() {
        let c = read("crl.url = http://127.0.0.1:8080/crl/issuing.crl\n")
            .unwrap()
            .unwrap();
        assert_eq!(c.url.path, "/crl/issuing.crl");
        assert_eq!(c.url.file_name, "issuing.crl");
        assert_eq!(c.delta_url, None);
        assert_eq!(
            (
                c.full_interval.as_secs(),
                c.full_validity.as_secs(),
                c.delta_interval.as_secs(),
                c.delta_validity.as_secs()
            ),
            (86_400, 604_800, 900, 3600)
        );
        assert!(c.on_revoke);
        assert_eq!(c.full_min_gap, Duration::from_secs(60));
        assert_eq!(c.publish_dir, None);
    }

    #[test]
    fn settings_are_read() {
        let c = read(
            "crl.url = http://crl.example.org/issuing.crl\n\
             crl.delta-url = http://crl.example.org/delta/issuing-delta.crl\n\
             crl.full-interval = 60\ncrl.full-validity = 120\n\
             crl.delta-interval = 5\ncrl.delta-validity = 10\n\
             crl.on-revoke = false\ncrl.full-min-gap = 5\ncrl.publish-dir = crl\n",
        )
        .unwrap()
        .unwrap();
        let delta = c.delta_url.unwrap();
        assert_eq!(delta.path, "/delta/issuing-delta.crl");
        assert_eq!(delta.file_name, "issuing-delta.crl");
        assert_eq!(c.full_interval, Duration::from_secs(60));
        assert_eq!(c.delta_validity, Duration::from_secs(10));
        assert!(!c.on_revoke);
        assert_eq!(c.full_min_gap, Duration::from_secs(5));
        assert_eq!(c.publish_dir, Some(PathBuf::from("/srv/kw/crl")));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let url = "crl.url = http://h/c.crl\n";
        for (text, setting) in [
            ("crl.url = https://h/c.crl\n".to_string(), "crl.url"),
            ("crl.url = http://h/\n".into(), "crl.url"),
            ("crl.url = http://h/c.crl?x=1\n".into(), "crl.url"),
            ("crl.url = http://h/ocsp\n".into(), "crl.url"),
            ("crl.url = http://h/ocsp/x.crl\n".into(), "crl.url"),
            ("crl.url = http://h/crl/*\n".into(), "crl.url"),
            ("crl.url = not a url\n".into(), "crl.url"),
            (
                format!("crl.url = http://h/{}\n", "a".repeat(2000)),
                "crl.url",
            ),
            (
                format!("{url}crl.delta-url = http://h/c.crl\n"),
                "crl.delta-url",
            ),
            (
                format!("{url}crl.delta-url = ftp://h/d.crl\n"),
                "crl.delta-url",
            ),
            (format!("{url}crl.full-interval = 0\n"), "crl.full-interval"),
            (
                format!("{url}crl.full-validity = soon\n"),
                "crl.full-validity",
            ),
            (
                format!("{url}crl.full-validity = 86400\n"),
                "crl.full-validity",
            ),
            (
                format!("{url}crl.delta-interval = -1\n"),
                "crl.delta-interval",
            ),
            (
                format!("{url}crl.delta-validity = 900\n"),
                "crl.delta-validity",
            ),
            (format!("{url}crl.on-revoke = yes\n"), "crl.on-revoke"),
            (format!("{url}crl.full-min-gap = 0\n"), "crl.full-min-gap"),
        ] {
            let err = read(&text).unwrap_err();
            assert!(err.starts_with(setting), "{text:?}: {err}");
        }
    }

    #[test]
    fn public_listen_is_optional_and_checked() {
        let read = |text: &str| public_listen(&Settings::parse(text).unwrap());
        assert_eq!(read("").unwrap(), None);
        assert_eq!(
            read("public.listen = 127.0.0.1:8080\n").unwrap(),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        let err = read("public.listen = 8080\n").unwrap_err();
        assert!(err.starts_with("public.listen: "), "{err}");
    }
}
