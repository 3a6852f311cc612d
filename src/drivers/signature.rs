//! Webhook signatures, always computed over the raw request bytes (re-serialising the JSON
//! breaks on emoji and accents, a bug seen in open-source connectors), compared in constant
//! time.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

fn mac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut m) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn mac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let Ok(mut m) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// Constant-time equality.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// LivePerson: `X-Liveperson-Signature: sha1=<base64(HMAC-SHA1(app_secret, body))>`.
pub fn liveperson(secret: &str, body: &[u8]) -> String {
    format!("sha1={}", b64(&mac_sha1(secret.as_bytes(), &[body])))
}

/// LivePerson accounts that sign with SHA-256: `sha256=<base64(HMAC-SHA256(secret, body))>`.
pub fn liveperson_sha256(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", b64(&mac_sha256(secret.as_bytes(), &[body])))
}

/// Zendesk: `X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(secret, timestamp + body))`.
pub fn zendesk(secret: &str, timestamp: &str, body: &[u8]) -> String {
    b64(&mac_sha256(
        secret.as_bytes(),
        &[timestamp.as_bytes(), body],
    ))
}

/// Webex Contact Center subscriptions: `X-WebexCC-Signature: hex(HMAC-SHA256(secret, body))`
/// (Cisco's "Receive and verify Contact Center webhooks"; the Webex Webhooks API's
/// `X-Spark-Signature` is another scheme, which Contact Center does not send).
pub fn webex_cc(secret: &str, body: &[u8]) -> String {
    hex(&mac_sha256(secret.as_bytes(), &[body]))
}

/// fluxo's own pushes to a channel: `X-Fluxo-Signature: sha256=<hex(HMAC-SHA256(secret, body))>`.
pub fn fluxo(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&mac_sha256(secret.as_bytes(), &[body])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 2202 test case 2 and RFC 4231 test case 2 ("Jefe", "what do ya want for nothing?").
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex(&mac_sha1(b"Jefe", &[data])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&mac_sha256(
                b"Jefe",
                &[b"what do ya ", b"want for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
