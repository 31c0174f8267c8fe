//! A structural DER check of a PKCS#12, written here so that it does not share code with the
//! encoder it checks.
//!
//! Without the PIN, the visible part of a PFX is checked: the outer structure, the
//! AuthenticatedSafe and every unencrypted SafeContents (each inside the OCTET STRING of a
//! `pkcs7-data` ContentInfo, which is descended into). Encrypted contents stay opaque. DER
//! means here: definite lengths only (no 0x80 length octet, no end-of-contents), lengths in the
//! shortest form, no constructed string types, and the elements of every SET OF sorted by their
//! encoding (X.690 11.6).

/// 1.2.840.113549.1.7.1 (pkcs7-data), as an encoded OBJECT IDENTIFIER.
const PKCS7_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];

struct Tlv<'a> {
    tag: u8,
    /// The whole element: identifier, length and contents.
    encoding: &'a [u8],
    contents: &'a [u8],
    /// Offset of the element in the file.
    offset: usize,
}

fn next_tlv(buf: &[u8], pos: usize, base: usize) -> Result<Tlv<'_>, String> {
    let at = base + pos;
    let tag = *buf
        .get(pos)
        .ok_or_else(|| format!("offset {at}: truncated"))?;
    if tag == 0 {
        return Err(format!("offset {at}: end-of-contents octets (BER)"));
    }
    if tag & 0x1f == 0x1f {
        return Err(format!(
            "offset {at}: multi-byte tag (unexpected in PKCS#12)"
        ));
    }
    let first = *buf
        .get(pos + 1)
        .ok_or_else(|| format!("offset {at}: truncated length"))?;
    let (len, header) = match first {
        0x80 => return Err(format!("offset {at}: indefinite length (BER, not DER)")),
        0..=0x7f => (usize::from(first), 2),
        _ => {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return Err(format!("offset {at}: length of {n} octets"));
            }
            let bytes = buf
                .get(pos + 2..pos + 2 + n)
                .ok_or_else(|| format!("offset {at}: truncated length"))?;
            if bytes[0] == 0 {
                return Err(format!("offset {at}: length with a leading zero octet"));
            }
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(format!(
                    "offset {at}: long-form length {len} (DER takes the short form)"
                ));
            }
            (len, 2 + n)
        }
    };
    let end = pos + header + len;
    if end > buf.len() {
        return Err(format!("offset {at}: length {len} runs past its container"));
    }
    Ok(Tlv {
        tag,
        encoding: &buf[pos..end],
        contents: &buf[pos + header..end],
        offset: at,
    })
}

fn children(buf: &[u8], base: usize) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tlv = next_tlv(buf, pos, base)?;
        pos += tlv.encoding.len();
        out.push(tlv);
    }
    Ok(out)
}

/// Walks one element; returns how many `pkcs7-data` contents were descended into.
fn walk(tlv: &Tlv<'_>, depth: usize) -> Result<usize, String> {
    if depth > 32 {
        return Err(format!("offset {}: nested too deep", tlv.offset));
    }
    let constructed = tlv.tag & 0x20 != 0;
    if !constructed {
        return Ok(0);
    }
    let universal = tlv.tag & 0xc0 == 0;
    if universal && tlv.tag != 0x30 && tlv.tag != 0x31 {
        return Err(format!(
            "offset {}: constructed form of universal tag {:#04x} (BER, not DER)",
            tlv.offset,
            tlv.tag & 0x1f
        ));
    }
    let base = tlv.offset + (tlv.encoding.len() - tlv.contents.len());
    let kids = children(tlv.contents, base)?;
    if tlv.tag == 0x31 {
        for pair in kids.windows(2) {
            if pair[0].encoding > pair[1].encoding {
                return Err(format!(
                    "offset {}: SET OF elements not in DER order",
                    tlv.offset
                ));
            }
        }
    }
    let mut data = 0;
    for kid in &kids {
        data += walk(kid, depth + 1)?;
    }
    // ContentInfo { contentType pkcs7-data, [0] EXPLICIT OCTET STRING }: the OCTET STRING holds
    // an AuthenticatedSafe or a SafeContents, which must be DER as well.
    if tlv.tag == 0x30 && kids.len() == 2 && kids[0].encoding == PKCS7_DATA {
        let explicit = &kids[1];
        if explicit.tag != 0xa0 {
            return Err(format!(
                "offset {}: pkcs7-data content is not [0] EXPLICIT",
                explicit.offset
            ));
        }
        let base = explicit.offset + (explicit.encoding.len() - explicit.contents.len());
        let inner = children(explicit.contents, base)?;
        match inner.as_slice() {
            [octets] if octets.tag == 0x04 => {
                let base = octets.offset + (octets.encoding.len() - octets.contents.len());
                let content = children(octets.contents, base)?;
                match content.as_slice() {
                    [seq] if seq.tag == 0x30 => data += 1 + walk(seq, depth + 1)?,
                    _ => {
                        return Err(format!(
                            "offset {}: pkcs7-data content is not one SEQUENCE",
                            octets.offset
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "offset {}: pkcs7-data content is not one primitive OCTET STRING",
                    explicit.offset
                ))
            }
        }
    }
    Ok(data)
}

/// Checks the visible structure of a PKCS#12 (see the module documentation); returns how many
/// `pkcs7-data` contents it descended into (the AuthenticatedSafe plus each unencrypted
/// SafeContents).
pub(crate) fn check_pkcs12(der: &[u8]) -> Result<usize, String> {
    let top = children(der, 0)?;
    match top.as_slice() {
        [pfx] if pfx.tag == 0x30 => walk(pfx, 0),
        _ => Err(format!(
            "not a single SEQUENCE ({} top-level elements)",
            top.len()
        )),
    }
}
