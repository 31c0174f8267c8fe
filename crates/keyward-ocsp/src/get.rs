//! `GET /ocsp/{base64}` (RFC 6960 appendix A.1): the path segment back to request DER.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use crate::OcspError;

/// Longest segment read at all, in characters. A request of 16 SHA-512 CertIDs is about 3 KB,
/// 4 KB in base64, up to 12 KB with every character percent-encoded; RFC 5019 clients stay
/// under 255 bytes. Anything longer is refused before any decoding.
pub const MAX_GET_SEGMENT_CHARS: usize = 16 * 1024;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(false);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The request DER in a GET path segment (everything after `/ocsp/`): percent-decoded, then
/// base64 in the standard (`+/`) or URL-safe (`-_`) alphabet, padded or not. Clients differ:
/// OpenSSL percent-encodes standard base64, others send URL-safe base64 unencoded. Any failure
/// is [`OcspError::Malformed`] naming the path.
pub fn decode_get_path(segment: &str) -> Result<Vec<u8>, OcspError> {
    if segment.len() > MAX_GET_SEGMENT_CHARS {
        return Err(OcspError::malformed(
            "path",
            format!(
                "{} characters, above the limit of {MAX_GET_SEGMENT_CHARS}",
                segment.len()
            ),
        ));
    }
    let text = percent_decode(segment)?;
    let text = text.trim_end_matches('=');
    if text.is_empty() {
        return Err(OcspError::malformed("path", "no base64 request"));
    }
    let url_safe = text.contains(['-', '_']);
    if url_safe && text.contains(['+', '/']) {
        return Err(OcspError::malformed(
            "path",
            "base64 mixes the standard and URL-safe alphabets",
        ));
    }
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    engine
        .decode(text)
        .map_err(|e| OcspError::malformed("path", format!("bad base64: {e}")))
}

/// `%XX` escapes decoded; the result must be ASCII (base64 is).
fn percent_decode(segment: &str) -> Result<String, OcspError> {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let c = if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    OcspError::malformed("path", format!("bad percent escape at {}", i + 1))
                })?;
            i += 3;
            hex
        } else {
            i += 1;
            b
        };
        if !c.is_ascii() || c.is_ascii_control() {
            return Err(OcspError::malformed(
                "path",
                format!("character 0x{c:02x} is not base64"),
            ));
        }
        out.push(char::from(c));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_same_bytes_decodes_alike() {
        let der: Vec<u8> = (0u8..=255).chain([0xfb, 0xff, 0xfe]).collect();
        let std_padded = base64::engine::general_purpose::STANDARD.encode(&der);
        assert!(std_padded.contains(['+', '/']) && std_padded.ends_with('='));
        let std_bare = std_padded.trim_end_matches('=').to_string();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
        let url_padded = base64::engine::general_purpose::URL_SAFE.encode(&der);
        let percent = std_padded
            .replace('%', "%25")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let lower = percent.replace("%2B", "%2b").replace("%2F", "%2f");
        for s in [&std_padded, &std_bare, &url, &url_padded, &percent, &lower] {
            assert_eq!(decode_get_path(s).unwrap(), der, "{s}");
        }
    }

    #[test]
    fn bad_segments_are_malformed() {
        let huge = "A".repeat(MAX_GET_SEGMENT_CHARS + 1);
        for bad in [
            "",
            "===",
            "%",
            "%4",
            "%zz",
            "ab+c-d",
            "MA*=",
            "MAé",
            "%00MA",
            "A",
            "MB",
            huge.as_str(),
        ] {
            let err = decode_get_path(bad).unwrap_err();
            assert!(
                matches!(err, OcspError::Malformed { field: "path", .. }),
                "{bad:.20}: {err}"
            );
        }
    }
}
