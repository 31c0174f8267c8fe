//! The report of [`inspect`](super::inspect) as an indented tree, for people (`keyward p12
//! inspect` without `--json`).

use super::{
    BagReport, Encoding, KeyReport, MacReport, MacStatus, P12Report, PinStatus, SafeReport,
};

/// The report on `file` as an indented tree, one line per item, ending in a newline.
pub fn render(file: &str, r: &P12Report) -> String {
    let mut out = Vec::new();
    out.push(file.to_string());
    let encoding = match r.encoding {
        Encoding::Der => "DER",
        Encoding::Ber => "BER (not strict DER)",
    };
    out.push(format!("  encoding: {encoding}"));
    out.push(format!("  version: {}", r.version));
    out.push(format!("  PIN: {}", pin_label(r.pin)));
    out.push(format!(
        "  MAC: {}",
        r.mac.as_ref().map_or("none".into(), mac_line)
    ));
    for safe in &r.safes {
        safe_lines(safe, &mut out);
    }
    if !r.keys.is_empty() {
        out.push("  keys:".into());
        for key in &r.keys {
            key_lines(key, r, &mut out);
        }
    }
    if !r.certificates.is_empty() {
        out.push("  certificates:".into());
        for c in &r.certificates {
            let mut line = format!("    {}. {} (bag {})", c.index, c.info.subject, c.location);
            if c.self_signed {
                line.push_str(", self-signed");
            } else if let Some(by) = c.issued_by {
                line.push_str(&format!(", issued by {by}"));
            } else {
                line.push_str(&format!(", issuer not in the file: {}", c.info.issuer));
            }
            if let Some(key) = c.end_entity_of {
                line.push_str(&format!(", end-entity certificate of key {key}"));
            }
            out.push(line);
        }
    }
    out.push(format!("  chain: {}", chain_line(r)));
    out.join("\n") + "\n"
}

/// Why certificates may be missing: no PIN, or safes the PIN did not open.
fn hidden(r: &P12Report) -> Option<&'static str> {
    match r.pin {
        _ if r.chain.all_visible => None,
        PinStatus::NotGiven => Some("some certificates may be in encrypted safes: give the PIN"),
        _ => Some("some certificates may be in safes that could not be opened"),
    }
}

fn chain_line(r: &P12Report) -> String {
    let chain = &r.chain;
    let hidden = hidden(r);
    if r.certificates.is_empty() {
        return ["no certificate visible"]
            .into_iter()
            .chain(hidden)
            .collect::<Vec<_>>()
            .join(", ");
    }
    let order = match chain.order.as_str() {
        "single" => "one certificate".to_string(),
        "leaf-first" => "stored leaf first".into(),
        "root-first" => "stored root first".into(),
        other => format!("stored in {other} order"),
    };
    let path = if chain.forms_path {
        "forms a path"
    } else {
        "does not form a single path"
    };
    let root = if chain.ends_at_root {
        "ends at a self-signed root"
    } else {
        "does not end at a self-signed root"
    };
    [order.as_str(), path, root]
        .into_iter()
        .chain(hidden)
        .collect::<Vec<_>>()
        .join(", ")
}

fn pin_label(pin: PinStatus) -> &'static str {
    match pin {
        PinStatus::NotGiven => "not given (encrypted parts not shown)",
        PinStatus::Empty => "none needed (the file opens with the empty PIN)",
        PinStatus::Accepted => "accepted",
        PinStatus::Unverified => "given, but nothing could check it",
        PinStatus::Wrong => "wrong",
    }
}

fn mac_line(m: &MacReport) -> String {
    let mut parts = vec![format!("{} {}", m.algorithm, m.digest)];
    if let Some(kdf) = &m.kdf {
        parts.push(format!("key derivation {kdf}"));
    } else {
        parts.extend(m.iterations.map(|n| format!("{n} iterations")));
        parts.extend(m.salt_length.map(|n| format!("{n}-byte salt")));
    }
    parts.push(format!("{}-byte MAC", m.mac_length));
    let mut line = format!("{}: {}", parts.join(", "), m.status.label());
    if let Some(note) = &m.note {
        line.push_str(&format!(" ({note})"));
    }
    line
}

fn safe_lines(safe: &SafeReport, out: &mut Vec<String>) {
    let mut line = format!("  safe {}: {}", safe.index, safe.content_type);
    if let Some(e) = &safe.encryption {
        line.push_str(&format!(", {e}"));
    }
    line.push_str(&match &safe.note {
        Some(note) => format!(": {note}"),
        None if safe.encryption.is_some() => ": decrypted".into(),
        None => String::new(),
    });
    out.push(line);
    for bag in &safe.bags {
        bag_lines(bag, 2, out);
    }
}

fn bag_lines(bag: &BagReport, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let mut line = format!("{pad}bag {}: {}", bag.location, bag.bag_type);
    if let Some(kind) = &bag.value_type {
        line.push_str(&format!(" ({kind})"));
    }
    if let Some(e) = &bag.encryption {
        line.push_str(&format!(", {e}"));
    }
    out.push(line);
    let pad = "  ".repeat(depth + 1);
    if let Some(key) = &bag.key_type {
        out.push(format!("{pad}key: {key}"));
    }
    if let Some(c) = &bag.certificate {
        out.push(format!("{pad}subject: {}", c.subject));
        out.push(format!("{pad}issuer: {}", c.issuer));
        out.push(format!("{pad}serial: {}", c.serial));
        out.push(format!("{pad}not after: {}", c.not_after));
    }
    if let Some(name) = &bag.friendly_name {
        out.push(format!("{pad}friendlyName: {name:?}"));
    }
    if let Some(id) = &bag.local_key_id {
        out.push(format!("{pad}localKeyId: {id}"));
    }
    if !bag.other_attributes.is_empty() {
        out.push(format!(
            "{pad}other attributes: {}",
            bag.other_attributes.join(", ")
        ));
    }
    if let Some(note) = &bag.note {
        out.push(format!("{pad}note: {note}"));
    }
    for inner in &bag.bags {
        bag_lines(inner, depth + 1, out);
    }
}

fn key_lines(key: &KeyReport, r: &P12Report, out: &mut Vec<String>) {
    let kind = key
        .key_type
        .as_deref()
        .unwrap_or("type unknown until the PIN opens it");
    let mut line = format!(
        "    key {} (bag {}, {}): {kind}",
        key.index, key.location, key.bag_type
    );
    match (key.certificate, &key.matched_by) {
        (Some(c), Some(how)) => line.push_str(&format!(", certificate {c} (matched by {how})")),
        _ if r.chain.all_visible => line.push_str(", no certificate found"),
        _ if r.pin == PinStatus::NotGiven => {
            line.push_str(", certificate not visible without the PIN")
        }
        _ => line.push_str(", certificate not visible (a safe could not be opened)"),
    }
    out.push(line);
    let a = &key.attributes;
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let cert_bag = if key.certificate.is_some() {
        format!(
            "{}/{}",
            yes(a.certificate_friendly_name),
            yes(a.certificate_local_key_id)
        )
    } else {
        "-".into()
    };
    let mut attrs = format!(
        "      friendlyName/localKeyId: key bag {}/{}, certificate bag {cert_bag}",
        yes(a.key_friendly_name),
        yes(a.key_local_key_id),
    );
    if !a.key_friendly_name || (key.certificate.is_some() && !a.certificate_friendly_name) {
        attrs.push_str(" (Java needs friendlyName for an alias)");
    }
    out.push(attrs);
    if !key.chain.is_empty() {
        let path: Vec<String> = key.chain.iter().map(usize::to_string).collect();
        let end = if key.chain_ends_at_root {
            "ends at a self-signed root".to_string()
        } else {
            match &key.missing_issuer {
                Some(issuer) => format!("issuer not in the file: {issuer}"),
                None => "does not end at a self-signed root".into(),
            }
        };
        out.push(format!("      chain: {} ({end})", path.join(" -> ")));
    }
}

impl P12Report {
    /// Why the PIN given is wrong, when it is ([`PinStatus::Wrong`]): the MAC does not verify
    /// and nothing decrypts, or only the encrypted parts do not decrypt.
    pub fn wrong_pin_reason(&self) -> Option<&'static str> {
        (self.pin == PinStatus::Wrong).then(|| match self.mac.as_ref().map(|m| m.status) {
            Some(MacStatus::WrongPinOrDamaged) => {
                "the MAC does not verify and the PIN decrypts nothing"
            }
            _ => "the PIN does not decrypt the encrypted parts",
        })
    }
}
