//! Issue 17, item 7: PIN mail settings an officer can trust. `keyward server` re-reads
//! `pin-mailer.*` from cm.conf on SIGHUP (no restart), keeps the running settings when the new
//! ones are wrong (naming the setting), names the other settings that need a restart, and never
//! logs the SMTP password; a delivered mail shows no error of an earlier attempt.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::common;
use crate::pin_mail::{issue_email, pin_in, smtp_conf};

use common::pins::{assert_nowhere, officer_run, printer};
use common::tokens::{p12_arg, p12_contents_with};
use common::{on_both_engines, text, wait_for, Engine, Installation};
use keyward_testkit::smtp::SmtpServer;
use serde_json::Value;

/// Waits until the server's log holds `needle` at least `times` times; returns the log.
fn log_with(inst: &Installation, needle: &str, times: usize) -> String {
    wait_for(&format!("{needle:?} ×{times} in the server log"), || {
        let log = inst.log();
        (log.matches(needle).count() >= times).then_some(log)
    })
}

/// `secure-printer run` as the printer officer: (exit code, stdout, stderr).
fn drain(
    inst: &Installation,
    printer: &(std::path::PathBuf, std::path::PathBuf),
) -> (i32, String, String) {
    let out = officer_run(
        "secure-printer",
        printer,
        &["run", "--out-dir", inst.out.to_str().unwrap()],
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

on_both_engines!(sighup_puts_new_pin_mailer_settings_in_force);

fn sighup_puts_new_pin_mailer_settings_in_force(engine: Engine) {
    // Started without any pin-mailer.* setting, as after `keyward init`.
    let inst = Installation::on(engine);
    let printer = printer(&inst);
    let p12 = p12_arg(&inst, "alice-mail.p12");
    issue_email(&inst, "soft-signing-email", "alice@example.org", &p12);

    let (code, stdout, _) = drain(&inst, &printer);
    assert_eq!(code, 8, "{stdout}");
    assert!(
        stdout.contains(
            "no SMTP server is configured: add pin-mailer.* to cm.conf and send the server \
             SIGHUP (or restart it)"
        ),
        "{stdout}"
    );

    // The officer adds the SMTP server (and changes a setting that needs a restart), then
    // sends SIGHUP.
    let smtp = SmtpServer::start();
    let cm_conf = inst.dir.join("cm.conf");
    let body = std::fs::read_to_string(&cm_conf).unwrap();
    assert!(body.contains("audit.seal-interval = 60"), "{body}");
    let body = body.replace("audit.seal-interval = 60", "audit.seal-interval = 30");
    std::fs::write(&cm_conf, format!("{body}\n{}\n", smtp_conf(smtp.port(), 5))).unwrap();
    inst.hangup_server();
    let log = log_with(&inst, "restart keyward server", 1);
    assert!(
        log.contains("reloaded pin-mailer settings from cm.conf")
            && log.contains(&format!("SMTP server 127.0.0.1:{}", smtp.port())),
        "{log}"
    );
    assert!(log.contains("audit.seal-interval changed"), "{log}");

    // Delivered without a restart; the PIN in the mail opens the token.
    let (code, stdout, stderr) = drain(&inst, &printer);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("sent     PIN mail"), "{stdout}");
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    let (keys, _) = p12_contents_with(Path::new(&p12), &pin_in(&mails[0]));
    assert_eq!(keys.len(), 1);

    // Delivered on the second attempt: no error of the first one is shown as its state.
    let out = officer_run("secure-printer", &printer, &["queue", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let queue: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queue[0]["state"], "delivered", "{queue}");
    assert_eq!(queue[0]["attempts"], 2, "{queue}");
    assert_eq!(queue[0]["last_error"], Value::Null, "{queue}");
    let out = officer_run("secure-printer", &printer, &["queue"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!table.contains("no SMTP server"), "{table}");
}

on_both_engines!(a_broken_pin_mailer_setting_keeps_the_running_ones);

fn a_broken_pin_mailer_setting_keeps_the_running_ones(engine: Engine) {
    let smtp = SmtpServer::start();
    let inst = Installation::with_cm_conf_on(engine, &smtp_conf(smtp.port(), 5));
    let printer = printer(&inst);
    let cm_conf = inst.dir.join("cm.conf");
    let good = std::fs::read_to_string(&cm_conf).unwrap();
    let port_line = format!("pin-mailer.smtp-port = {}", smtp.port());

    // A port that is no number: refused naming the setting; the running settings stay.
    std::fs::write(
        &cm_conf,
        good.replace(&port_line, "pin-mailer.smtp-port = 25x"),
    )
    .unwrap();
    inst.hangup_server();
    let log = log_with(&inst, "keeping the running settings", 1);
    assert!(log.contains("pin-mailer.smtp-port"), "{log}");
    issue_email(
        &inst,
        "soft-signing-email",
        "alice@example.org",
        &p12_arg(&inst, "a.p12"),
    );
    let (code, stdout, stderr) = drain(&inst, &printer);
    assert_eq!(code, 0, "{stdout}{stderr}");
    smtp.wait_for(1, Duration::from_secs(10));

    // A password in clear to a host that is not loopback: refused naming the setting.
    let secret = "Smtp-Pass-7xQ2-SECRET";
    let pass = inst.dir.join("pin-mailer.pass");
    std::fs::write(&pass, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let with_password = format!(
        "{good}\npin-mailer.smtp-username = keyward\npin-mailer.smtp-password-file = pin-mailer.pass\n"
    );
    std::fs::write(
        &cm_conf,
        with_password.replace(
            "pin-mailer.smtp-host = 127.0.0.1",
            "pin-mailer.smtp-host = mail.example.org",
        ),
    )
    .unwrap();
    inst.hangup_server();
    let log = log_with(&inst, "keeping the running settings", 2);
    assert!(log.contains("pin-mailer.smtp-security"), "{log}");

    // To a closed port on loopback it is taken; the failure names the server, never the
    // password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &cm_conf,
        with_password.replace(&port_line, &format!("pin-mailer.smtp-port = {closed}")),
    )
    .unwrap();
    inst.hangup_server();
    log_with(&inst, "reloaded pin-mailer settings from cm.conf", 1);
    issue_email(
        &inst,
        "soft-signing-email",
        "bob@example.org",
        &p12_arg(&inst, "b.p12"),
    );
    let (code, stdout, stderr) = drain(&inst, &printer);
    assert_eq!(code, 8, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("SMTP server 127.0.0.1:{closed}: ")),
        "{stdout}"
    );
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    assert_eq!(
        smtp.messages().len(),
        1,
        "nothing more went to the old server"
    );
    assert_nowhere(&inst, &[secret.to_string()]);
}
