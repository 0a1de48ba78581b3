use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Djoser's `uid`: the url-safe base64 of the user id's decimal digits, without padding
/// (id 1 → `MQ`, 123456 → `MTIzNDU2`).
pub fn encode_uid(user_id: i64) -> String {
    base64url_encode(user_id.to_string().as_bytes())
}

/// The user id in a `uid`, or `None` for anything malformed.
pub fn decode_uid(uid: &str) -> Option<i64> {
    let bytes = base64url_decode(uid.trim())?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Url-safe base64 without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes as leniently as Django's `urlsafe_base64_decode` where it matters: padding optional,
/// non-zero trailing bits accepted; characters outside the alphabet are refused.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_djangos_encoding() {
        assert_eq!(encode_uid(1), "MQ");
        assert_eq!(encode_uid(10), "MTA");
        assert_eq!(encode_uid(123_456), "MTIzNDU2");
        assert_eq!(decode_uid("MTIzNDU2"), Some(123_456));
        assert_eq!(decode_uid("MQ=="), Some(1));
        for bad in ["", "!!", "YWJj", "LTE"] {
            assert_eq!(decode_uid(bad), None, "{bad}");
        }
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
    }
}
