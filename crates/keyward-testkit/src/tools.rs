//! The foreign tools the tests run, and the package each comes from.
//!
//! Every test that shells out to a program nobody here wrote gets it from [`tool`] (or
//! [`python`] for Python scripts that import a module), so that a machine without it fails with
//! one line that says what to install —
//! `pkcs11-tool not found: install Debian package opensc (scripts/install-test-tools)` — instead
//! of a panic at `expect("run pkcs11-tool")`. The tables below are the only list of tools in
//! the tests; `scripts/install-test-tools` installs every package they name (a unit test holds
//! the two together).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Where a tool comes from: a Debian package (apt-get) or a PyPI package (pip).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Package {
    /// A Debian package name.
    Debian(&'static str),
    /// A PyPI package name.
    PyPi(&'static str),
}

impl Package {
    /// The package name alone.
    pub fn name(self) -> &'static str {
        match self {
            Package::Debian(name) | Package::PyPi(name) => name,
        }
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Package::Debian(name) => write!(f, "Debian package {name}"),
            Package::PyPi(name) => write!(f, "PyPI package {name}"),
        }
    }
}

use Package::{Debian, PyPi};

/// The programs the tests and benches run, with their packages.
pub const PROGRAMS: &[(&str, Package)] = &[
    ("openssl", Debian("openssl")),
    ("curl", Debian("curl")),
    ("git", Debian("git")),
    // /bin/kill (SIGTERM to a server under test); not in a minimal Debian image.
    ("kill", Debian("procps")),
    ("keytool", Debian("openjdk-17-jre-headless")),
    ("java", Debian("openjdk-17-jre-headless")),
    ("pk12util", Debian("libnss3-tools")),
    ("certutil", Debian("libnss3-tools")),
    ("certtool", Debian("gnutls-bin")),
    ("ocsptool", Debian("gnutls-bin")),
    ("pki", Debian("strongswan-pki")),
    ("softhsm2-util", Debian("softhsm2")),
    ("pkcs11-tool", Debian("opensc")),
    ("pdftotext", Debian("poppler-utils")),
    ("pdfinfo", Debian("poppler-utils")),
    ("pdffonts", Debian("poppler-utils")),
    ("pdftoppm", Debian("poppler-utils")),
    ("promtool", Debian("prometheus")),
    ("python3", Debian("python3")),
    // Part of Debian itself (Essential, see ESSENTIAL): nothing to install.
    ("dpkg-query", Debian("dpkg")),
    ("script", Debian("bsdutils")),
    ("lint_crl", PyPi("pkilint")),
    ("lint_ocsp_response", PyPi("pkilint")),
    ("lint_pkix_cert", PyPi("pkilint")),
    ("lint_etsi_cert", PyPi("pkilint")),
    ("schemathesis", PyPi("schemathesis")),
];

/// Debian's Essential packages of [`PROGRAMS`]: on every Debian system, so the install script
/// does not list them.
pub const ESSENTIAL: &[&str] = &["dpkg", "bsdutils"];

/// The Python modules the tests' scripts import, with the package that brings each.
pub const PYTHON_MODULES: &[(&str, Package)] = &[
    ("cryptography", PyPi("cryptography")),
    // pyasn1 and its RFC modules come with pkilint, which is built on them.
    ("pyasn1", PyPi("pkilint")),
    ("pyasn1_alt_modules", PyPi("pkilint")),
    ("pkilint", PyPi("pkilint")),
    ("openapi_spec_validator", PyPi("openapi-spec-validator")),
    // Debian's package, importable by /usr/bin/python3 (see `smtp`).
    ("aiosmtpd", Debian("python3-aiosmtpd")),
];

/// A tool the tests need that this machine does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingTool {
    what: String,
    package: Package,
}

impl fmt::Display for MissingTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} not found: install {} (scripts/install-test-tools)",
            self.what, self.package
        )
    }
}

impl std::error::Error for MissingTool {}

/// The package of a program in [`PROGRAMS`]; panics for a program not listed there, so that
/// the table stays complete.
pub fn package_of(program: &str) -> Package {
    lookup(PROGRAMS, program, "program")
}

fn lookup(table: &[(&str, Package)], name: &str, kind: &str) -> Package {
    match table.iter().find(|(n, _)| *n == name) {
        Some((_, package)) => *package,
        None => panic!(
            "{kind} {name} is not in keyward-testkit's table (crates/keyward-testkit/src/tools.rs): \
             add it with its package, and the package to scripts/install-test-tools"
        ),
    }
}

/// Finds `program` in the directories of `path` (a PATH value; the process's PATH when
/// `None`): the first executable file of that name.
pub fn find_program(program: &str, path: Option<&OsStr>) -> Result<PathBuf, MissingTool> {
    let package = package_of(program);
    let from_env = std::env::var_os("PATH");
    let path = path.or(from_env.as_deref()).unwrap_or_default();
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| MissingTool {
            what: program.to_owned(),
            package,
        })
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A [`Command`] for `program` (found on PATH, see [`PROGRAMS`]); a missing program fails the
/// test with one line naming the package to install.
#[track_caller]
pub fn tool(program: &str) -> Command {
    match find_program(program, None) {
        Ok(found) => Command::new(found),
        Err(missing) => panic!("{missing}"),
    }
}

/// Checks up front that every program is installed (a test that needs several): the first
/// missing one fails the test with its line.
#[track_caller]
pub fn require_tools(programs: &[&str]) {
    for program in programs {
        if let Err(missing) = find_program(program, None) {
            panic!("{missing}");
        }
    }
}

/// Whether `python` can import `module`: `Ok`, or the line that says what to install.
pub fn python_imports(python: &OsStr, module: &str) -> Result<(), MissingTool> {
    let package = lookup(PYTHON_MODULES, module, "Python module");
    let imported = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if imported {
        Ok(())
    } else {
        Err(MissingTool {
            what: format!("Python module {module} ({})", python.to_string_lossy()),
            package,
        })
    }
}

/// Modules already imported once by the `python3` on PATH (an import of `cryptography` takes
/// a tenth of a second, and some tests run hundreds of scripts).
static IMPORTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// `python3` (from PATH) for a script that imports `modules` (each in [`PYTHON_MODULES`]); a
/// missing interpreter or module fails the test with one line naming the package to install.
#[track_caller]
pub fn python(modules: &[&str]) -> Command {
    let python3 = match find_program("python3", None) {
        Ok(found) => found,
        Err(missing) => panic!("{missing}"),
    };
    let mut imported = IMPORTED.lock().unwrap_or_else(|e| e.into_inner());
    for module in modules {
        if imported.contains(*module) {
            continue;
        }
        if let Err(missing) = python_imports(python3.as_os_str(), module) {
            panic!("{missing}");
        }
        imported.insert((*module).to_owned());
    }
    Command::new(python3)
}

/// `python3 -c SCRIPT` (from PATH), after checking that it can import every module of
/// [`PYTHON_MODULES`] the script imports (`import a, b.c` and `from a.b import c`
/// statements; the standard library is not checked); add the script's own arguments.
#[track_caller]
pub fn python_script(script: &str) -> Command {
    let modules = imported_modules(script);
    let modules: Vec<&str> = modules
        .iter()
        .map(String::as_str)
        .filter(|m| PYTHON_MODULES.iter().any(|(name, _)| name == m))
        .collect();
    let mut cmd = python(&modules);
    cmd.args(["-c", script]);
    cmd
}

/// The top-level modules a Python script's `import`/`from` statements name.
fn imported_modules(script: &str) -> BTreeSet<String> {
    let top = |name: &str| name.split('.').next().unwrap_or_default().trim().to_owned();
    let mut modules = BTreeSet::new();
    for statement in script.lines().flat_map(|l| l.split(';')).map(str::trim) {
        if let Some(names) = statement.strip_prefix("import ") {
            for name in names.split(',') {
                modules.insert(top(name.split_whitespace().next().unwrap_or_default()));
            }
        } else if let Some(rest) = statement.strip_prefix("from ") {
            modules.insert(top(rest.split_whitespace().next().unwrap_or_default()));
        }
    }
    modules.retain(|m| !m.is_empty());
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory holding `files` (name, executable?), as a PATH of one entry.
    fn path_with(files: &[(&str, bool)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, executable) in files {
            let file = dir.path().join(name);
            std::fs::write(&file, "#!/bin/sh\n").unwrap();
            let mode = if *executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        dir
    }

    #[test]
    fn a_path_without_the_tool_names_its_package_in_one_line() {
        let dir = path_with(&[("openssl", true)]);
        let missing = find_program("pkcs11-tool", Some(dir.path().as_os_str())).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "pkcs11-tool not found: install Debian package opensc (scripts/install-test-tools)"
        );
        let missing = find_program("lint_crl", Some(OsStr::new(""))).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "lint_crl not found: install PyPI package pkilint (scripts/install-test-tools)"
        );
    }

    #[test]
    fn a_tool_is_found_only_as_an_executable_file() {
        let plain = path_with(&[("openssl", false)]);
        let exec = path_with(&[("openssl", true)]);
        let path = std::env::join_paths([plain.path(), exec.path()]).unwrap();
        let found = find_program("openssl", Some(&path)).unwrap();
        assert_eq!(found, exec.path().join("openssl"));
        assert!(find_program("openssl", Some(plain.path().as_os_str())).is_err());
    }

    #[test]
    fn a_missing_python_module_names_its_package() {
        // An interpreter that cannot run stands for one without the module.
        let fake = path_with(&[("python3", false)]);
        let python3 = fake.path().join("python3");
        let missing = python_imports(python3.as_os_str(), "cryptography").unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!(
                "Python module cryptography ({}) not found: install PyPI package cryptography \
                 (scripts/install-test-tools)",
                python3.display()
            )
        );
    }

    #[test]
    fn the_modules_a_script_imports_are_found() {
        let script = "import json, os\nfrom cryptography.hazmat import x509\n\
                      try:\n    import pyasn1_alt_modules.rfc5280 as r\nexcept: pass\n\
                      import sys; import aiosmtpd.handlers";
        let found: Vec<String> = imported_modules(script).into_iter().collect();
        assert_eq!(
            found,
            [
                "aiosmtpd",
                "cryptography",
                "json",
                "os",
                "pyasn1_alt_modules",
                "sys"
            ]
        );
    }

    #[test]
    fn an_unlisted_program_is_refused_so_the_table_stays_complete() {
        let result = std::panic::catch_unwind(|| package_of("no-such-tool"));
        assert!(result.is_err());
    }

    /// The install script installs every package the tables name.
    #[test]
    fn install_script_installs_every_package() {
        let script = include_str!("../../../scripts/install-test-tools");
        let words: BTreeSet<&str> = script
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\''))
            .collect();
        for (name, package) in PROGRAMS.iter().chain(PYTHON_MODULES) {
            if ESSENTIAL.contains(&package.name()) {
                continue;
            }
            assert!(
                words.contains(package.name()),
                "{name}: {package} is not installed by scripts/install-test-tools"
            );
        }
    }
}
