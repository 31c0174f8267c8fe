//! `keyward ra revoke` and `keyward ra unhold`.

use keyward_proto::RevocationInfo;
use keyward_ra::revoke::{parse_invalidity_date, parse_reason, Certificate};

use crate::cli::{RevokeArgs, UnholdArgs};
use crate::output::print_json;
use crate::ra::Session;

/// Revokes (or holds) one certificate.
pub(crate) async fn revoke(s: &Session, args: RevokeArgs) -> anyhow::Result<()> {
    let cert = Certificate::from_options(args.id, args.serial)?;
    let reason = parse_reason(&args.reason)?;
    let invalidity_date = args
        .invalidity_date
        .as_deref()
        .map(parse_invalidity_date)
        .transpose()?;
    let done = s.client.revoke(&cert, reason, invalidity_date).await?;
    show(&done, args.json)
}

/// Releases one hold.
pub(crate) async fn unhold(s: &Session, args: UnholdArgs) -> anyhow::Result<()> {
    let cert = Certificate::from_options(args.id, args.serial)?;
    let done = s.client.unhold(&cert).await?;
    show(&done, args.json)
}

fn show(done: &RevocationInfo, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(done);
    }
    println!(
        "Certificate ID {} (serial {}, {}): {}",
        done.certificate_id,
        done.serial,
        done.subject,
        done.status.describe()
    );
    Ok(())
}
