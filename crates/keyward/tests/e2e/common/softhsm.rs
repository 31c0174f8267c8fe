//! SoftHSM2 for tests: a token directory of the test's own, named by a `softhsm2.conf` that
//! every process loading the module gets through `SOFTHSM2_CONF` (passed explicitly, so tests
//! running in parallel threads never share a token directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{keyward, run, text, Installation};

/// Debian's SoftHSM2 module.
pub(crate) const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The Security Officer PIN of every test token.
pub(crate) const SO_PIN: &str = "so-pin-87654321";
/// The user PIN of the server's HSM tokens.
pub(crate) const HSM_PIN: &str = "hsm-user-2468";
/// The label of the token holding the archive key.
pub(crate) const KRA_TOKEN: &str = "KRA";
/// The label of the token holding the issuing CA key.
pub(crate) const CA_TOKEN: &str = "CA";

/// A SoftHSM2 installation of one test.
pub(crate) struct SoftHsm {
    _dir: tempfile::TempDir,
    /// A directory of its own (token directory, PIN files).
    pub dir: PathBuf,
    /// Its `softhsm2.conf`.
    pub conf: PathBuf,
}

impl SoftHsm {
    /// A new, empty token directory.
    pub(crate) fn new() -> SoftHsm {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} not found: install Debian package softhsm2 (scripts/install-test-tools)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).expect("token dir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        SoftHsm {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            conf,
        }
    }

    /// Points `cmd` at this token directory.
    pub(crate) fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("SOFTHSM2_CONF", &self.conf)
    }

    /// `softhsm2-util --init-token --free --label LABEL --pin PIN`.
    pub(crate) fn init_token(&self, label: &str, pin: &str) {
        let mut cmd = keyward_testkit::tool("softhsm2-util");
        cmd.args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", pin]);
        let out = self.env(&mut cmd).output().expect("run softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// OpenSC's `pkcs11-tool --module MODULE ARGS…` on this token directory.
    pub(crate) fn pkcs11_tool(&self, args: &[&str]) -> Output {
        let mut cmd = keyward_testkit::tool("pkcs11-tool");
        cmd.args(["--module", MODULE]).args(args);
        self.env(&mut cmd).output().expect("run pkcs11-tool")
    }
}

impl SoftHsm {
    /// The file holding [`HSM_PIN`].
    pub(crate) fn hsm_pin_file(&self) -> PathBuf {
        let path = self.dir.join("hsm.pin");
        std::fs::write(&path, format!("{HSM_PIN}\n")).expect("PIN file");
        path
    }

    /// An installation whose archive key is an AES key on a fresh token [`KRA_TOKEN`], made by
    /// `keyward kra init-hsm-key --configure` before the server starts.
    pub(crate) fn installation_with_kek(&self) -> Installation {
        self.init_token(KRA_TOKEN, HSM_PIN);
        let pin_file = self.hsm_pin_file();
        Installation::with_setup(&[], &[("SOFTHSM2_CONF", &self.conf)], |dir| {
            let mut cmd = keyward();
            cmd.args(["kra", "init-hsm-key", "--dir"])
                .arg(dir)
                .args(["--module", MODULE, "--token-label", KRA_TOKEN, "--pin-file"])
                .arg(&pin_file)
                .args(["--label", "keyward-kek", "--configure", "--json"]);
            self.env(&mut cmd);
            let out = run(cmd, None);
            assert!(out.status.success(), "kra init-hsm-key: {}", text(&out));
            let conf = std::fs::read_to_string(dir.join("cm.conf")).expect("cm.conf");
            assert!(conf.contains("kra.pkcs11-key = keyward-kek"), "{conf}");
        })
    }

    /// An installation whose issuing CA key was generated on a fresh token [`CA_TOKEN`] by
    /// `keyward init --hsm-module … --hsm-token … --hsm-pin-file …`.
    pub(crate) fn installation_with_ca_key(&self) -> Installation {
        self.init_token(CA_TOKEN, HSM_PIN);
        let pin_file = self.hsm_pin_file();
        let pin_file = pin_file.to_str().expect("UTF-8 path");
        Installation::with_setup(
            &[
                "--hsm-module",
                MODULE,
                "--hsm-token",
                CA_TOKEN,
                "--hsm-pin-file",
                pin_file,
            ],
            &[("SOFTHSM2_CONF", &self.conf)],
            |_| {},
        )
    }
}
