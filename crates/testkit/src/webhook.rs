//! Webhook bodies as providers send them.

/// `text` as one `application/x-www-form-urlencoded` component: letters,
/// digits and `-._*` kept, a space as `+`, every other byte as `%XX`.
pub fn form_encode(text: &[u8]) -> String {
    text.iter()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                char::from(*b).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
