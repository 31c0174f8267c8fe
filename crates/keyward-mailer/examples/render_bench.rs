//! Times rendering a batch of PIN/PUK letters, as the officer's client does for sealed mailers.
//!
//! `cargo run --release -p keyward-mailer --example render_bench -- [LETTERS] [OUT.pdf]`
//! (default 10,000 letters; the PDF is written only if OUT is given).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::Instant;

use keyward_mailer::pdf::{render, Letter};
use zeroize::Zeroizing;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let out = args.next();

    let letters: Vec<Letter> = (0..count)
        .map(|n| Letter {
            title: "PIN/PUK letter".into(),
            reference: format!("Letter ID {}", 100_000 + n),
            recipient: vec![
                format!("Recipient {n}"),
                "Example Corp, Dept. IT".into(),
                "Main Street 1".into(),
                "12345 Berlin".into(),
            ],
            text: vec![
                "This letter contains the PIN and PUK for your new smart card. Keep it in a safe \
                 place, separate from the card, and never tell anyone your PIN."
                    .into(),
                "If the seal was broken when you received this letter, call the help desk.".into(),
            ],
            secrets: vec![
                ("PIN".into(), Zeroizing::new(format!("pin{n:09}"))),
                ("PUK".into(), Zeroizing::new(format!("puk{n:09}"))),
            ],
        })
        .collect();

    let start = Instant::now();
    let pdf = render(&letters)?;
    let elapsed = start.elapsed();
    println!(
        "{count} letters: {:.2} s, {} bytes ({:.1} KiB/page)",
        elapsed.as_secs_f64(),
        pdf.len(),
        pdf.len() as f64 / 1024.0 / count.max(1) as f64
    );
    if let Some(path) = out {
        std::fs::write(path, &*pdf)?;
    }
    Ok(())
}
