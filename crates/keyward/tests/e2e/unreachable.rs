//! A server the RA cannot use: another installation's server (its certificate is not from
//! `server.ca`) is refused at once with exit 12, naming what was presented and what was
//! expected; a closed port is exit 7 with "is `keyward server` running on …?" after a short
//! retry; on a pipe neither prints retry or log lines.

use crate::common;

use common::{point_client_conf, run, text, Installation};

#[test]
fn another_installations_server_and_a_closed_port_are_told_apart() {
    let ours = Installation::new();
    let theirs = Installation::new();
    let conf = ours.dir.join("client-theirs.conf");
    point_client_conf(&ours.client_conf(), &conf, &theirs.url);
    let pin = ours.dir.join("officer/admin.pin");
    let out = run(ours.ra_as(&conf, &pin, &["whoami"]), None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(12), "{said}");
    for part in [
        "the server's TLS certificate is not from the CA in server.ca",
        "presented a certificate for",
        "issued by",
        "ca/root.pem",
        "check server.url and server.ca",
    ] {
        assert!(said.contains(part), "{part:?} missing: {said}");
    }
    assert!(
        !said.contains("again in"),
        "a trust failure is not retried: {said}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = ours.dir.join("client-closed.conf");
    point_client_conf(
        &ours.client_conf(),
        &closed,
        &format!("https://127.0.0.1:{port}"),
    );
    let out = run(ours.ra_as(&closed, &pin, &["whoami"]), None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(7), "{said}");
    assert!(
        said.contains(&format!(
            "connection refused: is `keyward server` running on 127.0.0.1:{port}?"
        )),
        "{said}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("again in") && !stderr.contains("WARN"),
        "retries on a pipe: {stderr}"
    );
}
