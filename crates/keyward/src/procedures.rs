//! `keyward procedures …` on the CM host: check procedures.toml, load it as the next version
//! (direct database access, like `officer`). See [`keyward_admin::procedures`].

use std::path::Path;

use serde_json::json;

use keyward_admin::install::{load_config, open_store};
use keyward_admin::procedures::{load, read, summary, Diff, ProcedureFile};
use keyward_admin::AdminError;

use crate::cli::{ProceduresArgs, ProceduresCommand};
use crate::output::{admin_error, input_error, print_json};

/// Who loads procedures from the CM host's CLI (as `keyward officer` records its changes).
const ACTOR: &str = "keyward-admin";

/// `keyward procedures`.
pub(crate) async fn run(args: ProceduresArgs) -> anyhow::Result<()> {
    match args.command {
        ProceduresCommand::Check { file, json } => {
            let path = file.unwrap_or_else(|| args.dir.join("procedures.toml"));
            let file = checked(&path, json)?;
            if json {
                return print_json(&json!({
                    "ok": true,
                    "file": path,
                    "sha256": file.sha256,
                    "procedures": summary(&file.set),
                }));
            }
            println!("{}: valid", path.display());
            print_summary(&file);
            Ok(())
        }
        ProceduresCommand::Load { file, json } => {
            let path = file.unwrap_or_else(|| args.dir.join("procedures.toml"));
            let file = checked(&path, json)?;
            let config = load_config(&args.dir, args.database.as_deref())?;
            let store = open_store(&config, args.database.is_some()).await?;
            let loaded = load(&store, &file, ACTOR).await.map_err(admin_error)?;
            if json {
                return print_json(&loaded);
            }
            if !loaded.loaded {
                println!(
                    "{} is version {} already: nothing to load.",
                    path.display(),
                    loaded.version
                );
                return Ok(());
            }
            println!(
                "Loaded {} as procedure version {}; the server uses it from its next request.",
                path.display(),
                loaded.version
            );
            print_diff(&loaded.diff);
            Ok(())
        }
    }
}

/// The file, parsed and validated; a fault is an input error (exit code 2), also printed as
/// JSON with `--json`.
fn checked(path: &Path, json: bool) -> anyhow::Result<ProcedureFile> {
    match read(path) {
        Ok(file) => Ok(file),
        Err(e @ AdminError::ProcedureFile { .. }) => {
            if json {
                if let AdminError::ProcedureFile {
                    file,
                    line,
                    column,
                    table,
                    field,
                    message,
                } = &e
                {
                    print_json(&json!({
                        "ok": false, "file": file, "line": line, "column": column,
                        "table": table, "field": field, "message": message,
                    }))?;
                }
            }
            Err(input_error(e.to_string()))
        }
        Err(other) => Err(admin_error(other)),
    }
}

fn print_summary(file: &ProcedureFile) {
    for (kind, names) in summary(&file.set) {
        println!("  {:<34} {:>3}  {}", kind, names.len(), names.join(", "));
    }
    println!("  sha256 {}", file.sha256);
}

fn print_diff(diff: &Diff) {
    if diff.is_empty() {
        println!("  no procedure changed (comments or layout only)");
    }
    for name in &diff.added {
        println!("  added    {name}");
    }
    for name in &diff.removed {
        println!("  removed  {name}");
    }
    for changed in &diff.changed {
        println!(
            "  changed  {} ({})",
            changed.procedure,
            changed.fields.join(", ")
        );
    }
}
