//! NSS (`pk12util`, `certutil` from libnss3-tools) as a PKCS#12 consumer: listing a file, and
//! importing it into an NSS database and exporting it again. The database has an empty
//! password; the PKCS#12 password goes through a 0600 file (`-w`), never argv.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use super::interop::Outcome;

/// A fresh NSS database (`sql:` format) in a temporary directory.
pub(crate) struct NssDb {
    dir: tempfile::TempDir,
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl NssDb {
    /// `certutil -N -d sql:DIR --empty-password`. Panics if the tools are missing.
    pub(crate) fn new() -> NssDb {
        keyward_testkit::require_tools(&["certutil", "pk12util"]);
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = NssDb { dir };
        let out = db.command("certutil", &["-N", "--empty-password"], None);
        assert!(out.status.success(), "certutil -N: {}", both(&out));
        db
    }

    fn db_arg(&self) -> String {
        format!("sql:{}", self.dir.path().display())
    }

    /// Runs an NSS tool on this database; with a PIN, it goes into a password file for `-w`.
    fn command(&self, tool: &str, args: &[&str], pin: Option<&str>) -> Output {
        let mut cmd = keyward_testkit::tool(tool);
        cmd.arg("-d").arg(self.db_arg()).args(args);
        // Kept until the command has run.
        let pwfile = pin.map(|pin| {
            let mut file = tempfile::Builder::new()
                .prefix("p12-pass")
                .tempfile_in(self.dir.path())
                .expect("password file");
            writeln!(file, "{pin}").expect("password file");
            file
        });
        if let Some(file) = &pwfile {
            cmd.arg("-w").arg(file.path());
        }
        cmd.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
    }

    /// `pk12util -l FILE`: verifies the MAC, decrypts the certificate safe and lists the bags.
    /// Checks one certificate with a private key (friendlyName = `friendly`), `chain_len` more
    /// certificates and one shrouded key bag with the same friendlyName.
    pub(crate) fn list(
        &self,
        p12: &Path,
        pin: &str,
        friendly: &str,
        chain_len: usize,
    ) -> Result<Outcome, String> {
        let out = self.command("pk12util", &["-l", &p12.display().to_string()], Some(pin));
        let text = both(&out).replace(pin, "<PIN>");
        if !out.status.success() {
            return Err(format!("pk12util -l: {}", tail(&text)));
        }
        let lines: Vec<&str> = text.lines().collect();
        let count = |wanted: &str| lines.iter().filter(|l| **l == wanted).count();
        let checks = [
            (
                count("Certificate(has private key):"),
                1,
                "certificates with a key",
            ),
            (count("Certificate:"), chain_len, "CA certificates"),
            (count("Key(shrouded):"), 1, "shrouded keys"),
            (
                lines
                    .iter()
                    .filter(|l| l.trim() == format!("Friendly Name: {friendly}"))
                    .count(),
                2,
                "bags with the friendlyName",
            ),
        ];
        for (found, expected, what) in checks {
            if found != expected {
                return Err(format!(
                    "pk12util -l shows {found} {what}, expected {expected}:\n{}",
                    tail(&text)
                ));
            }
        }
        Ok(Outcome::Checked)
    }

    /// `pk12util -i FILE`: imports key and certificates (nicknames from the friendlyNames).
    pub(crate) fn import(&self, p12: &Path, pin: &str) -> Result<(), String> {
        let out = self.command("pk12util", &["-i", &p12.display().to_string()], Some(pin));
        let text = both(&out).replace(pin, "<PIN>");
        if out.status.success() && text.contains("PKCS12 IMPORT SUCCESSFUL") {
            Ok(())
        } else {
            Err(format!("pk12util -i: {text}"))
        }
    }

    /// `pk12util -o FILE -n NICKNAME`: exports a key with its certificate chain.
    pub(crate) fn export(&self, nickname: &str, out_file: &Path, pin: &str) -> Result<(), String> {
        let out = self.command(
            "pk12util",
            &["-o", &out_file.display().to_string(), "-n", nickname],
            Some(pin),
        );
        let text = both(&out).replace(pin, "<PIN>");
        if out.status.success() && text.contains("PKCS12 EXPORT SUCCESSFUL") {
            Ok(())
        } else {
            Err(format!("pk12util -o -n {nickname:?}: {text}"))
        }
    }

    /// `certutil -L`: the nicknames of the certificates in the database.
    pub(crate) fn nicknames(&self) -> Result<Vec<String>, String> {
        let out = self.command("certutil", &["-L"], None);
        if !out.status.success() {
            return Err(format!("certutil -L: {}", both(&out)));
        }
        // After the two header lines and a blank one: "NICKNAME<spaces>TRUST".
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(4)
            .filter_map(|l| {
                let (name, _trust) = l.trim_end().rsplit_once(char::is_whitespace)?;
                Some(name.trim_end().to_string())
            })
            .filter(|n| !n.is_empty())
            .collect())
    }
}

/// The end of a long tool output (pk12util prints every certificate in full).
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(60);
    lines[start..].join("\n")
}
