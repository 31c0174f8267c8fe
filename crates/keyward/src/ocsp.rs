//! `keyward ocsp`: the standalone OCSP responder (see [`keyward_admin::standalone`]).

use keyward_admin::standalone::bind_responder;

use crate::cli::OcspArgs;
use crate::output::admin_error;

/// `keyward ocsp`.
pub(crate) async fn run(args: OcspArgs) -> anyhow::Result<()> {
    let config = args.config.unwrap_or_else(|| args.dir.join("cm.conf"));
    let bound = bind_responder(&config, args.database.as_deref(), args.listen)
        .await
        .map_err(admin_error)?;
    // One banner line: scripts and tests read the first line for the address.
    if args.json {
        let banner = serde_json::json!({
            "listening": format!("http://{}/", bound.addr),
            "ocsp": format!("http://{}/ocsp", bound.addr),
        });
        println!("{banner}");
    } else {
        println!(
            "keyward ocsp listening on http://{}/ocsp (Ctrl-C to stop)",
            bound.addr
        );
    }
    tracing::info!("keyward ocsp responder at http://{}/", bound.addr);
    bound.serve(crate::server::shutdown_signal()).await;
    tracing::info!("keyward ocsp stopped");
    Ok(())
}
