//! `keyward completions`, `keyward man` and `--version`: what a packager installs beside the
//! binary, checked by the shell and by the man page format, and a version line that names the
//! commit whichever subcommand prints it.

use std::process::Command;

use crate::common::{keyward, run, text};

/// `keyward ARGS…`: its stdout, after checking that it succeeded.
fn stdout_of(args: &[&str]) -> String {
    let mut cmd = keyward();
    cmd.args(args);
    let out = run(cmd, None);
    assert!(out.status.success(), "keyward {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_knows_ra_issue_and_is_valid_bash() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("keyward__subcmd__ra,issue)"), "{script}");
    assert!(script.contains("--procedure"), "the options of ra issue");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.bash");
    std::fs::write(&file, &script).unwrap();
    // bash is Essential in Debian: no package to name.
    let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(out.status.success(), "bash -n: {}", text(&out));
    // What a user gets at the prompt: `keyward ra iss<TAB>`, `keyward ra issue --proc<TAB>`.
    for (words, expected) in [
        ("keyward ra iss", "issue"),
        ("keyward ra issue --proc", "--procedure"),
    ] {
        let complete = format!(
            "source \"$0\"; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); \
             _keyward keyward \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = Command::new("bash")
            .args(["-c", &complete])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{expected}\n"),
            "{words}: {}",
            text(&out)
        );
    }
}

#[test]
fn zsh_and_fish_completions_name_the_subcommands() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef keyward"), "{zsh}");
    assert!(zsh.contains("issue"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c keyward"), "{fish}");
    assert!(fish.contains("-a \"issue\""), "{fish}");
}

#[test]
fn a_completion_shell_clap_does_not_know_is_refused() {
    let mut cmd = keyward();
    cmd.args(["completions", "tcsh"]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1"); // created by the command
    let said = stdout_of(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    assert!(said.starts_with("wrote "), "{said}");
    for name in [
        "keyward",
        "keyward-ra",
        "keyward-ra-issue",
        "keyward-officer-create",
    ] {
        let page = std::fs::read_to_string(out_dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        // roff: a title line for the page, then its sections.
        let title = page.lines().find(|l| l.starts_with(".TH ")).unwrap_or("");
        assert!(title.starts_with(&format!(".TH {name} 1 ")), "{title}");
        assert!(
            title.contains("keyward 0."),
            "the footer names the product: {title}"
        );
        assert!(
            page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"),
            "{page}"
        );
    }
    let issue = std::fs::read_to_string(out_dir.join("keyward-ra-issue.1")).unwrap();
    assert!(
        issue.contains("\\-\\-procedure"),
        "the options of ra issue: {issue}"
    );
    let top = std::fs::read_to_string(out_dir.join("keyward.1")).unwrap();
    assert!(
        top.contains("keyward\\-ra(1)"),
        "keyward.1 lists the subcommands: {top}"
    );
    // No page for clap's `help` subcommand.
    assert!(!out_dir.join("keyward-help.1").exists());
}

#[test]
fn every_version_line_names_the_product_and_the_commit() {
    let top = stdout_of(&["--version"]);
    for args in [
        &["ra", "--version"][..],
        &["ra", "issue", "--version"],
        &["server", "-V"],
    ] {
        assert_eq!(stdout_of(args), top, "keyward {args:?}");
    }
    let line = top.trim_end();
    let rest = line
        .strip_prefix(&format!("keyward {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    let hash = rest.strip_suffix("-dirty").unwrap_or(rest);
    if hash == "unknown" {
        return; // built without git or outside a repository
    }
    assert!(
        hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line:?}"
    );
    // The hash is this checkout's HEAD (build.rs reruns when HEAD moves).
    let git = keyward_testkit::find_program("git", None);
    if let Ok(git) = git {
        let out = Command::new(git)
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout);
        assert!(head.starts_with(hash), "{line:?} is not HEAD {head}");
    }
}
