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

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Url-safe base64 without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET[index]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let value = u32::try_from(ALPHABET.iter().position(|a| *a == c)?).ok()?;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
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
