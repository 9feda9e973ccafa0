//! Random tokens, their stored hashes, and HMAC signatures.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new unguessable token: 256 bits, URL-safe.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores instead of a token: a copy of the database is
/// then no use for signing in.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
pub struct ServerKey(Vec<u8>);

impl ServerKey {
    pub fn from_encoded(encoded: &str) -> Option<Self> {
        URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .filter(|k| k.len() >= 32)
            .map(Self)
    }

    pub fn generate_encoded() -> String {
        new_token()
    }

    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.sign(purpose, message);
        expected.as_bytes().ct_eq(signature.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hashes_hide_them() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert!(!hash_token(&a).contains(&a));
    }

    #[test]
    fn a_signature_only_verifies_for_its_purpose_and_message() {
        let key = ServerKey::from_encoded(&ServerKey::generate_encoded()).expect("key");
        let sig = key.sign("csrf", "session-1");
        assert!(key.verify("csrf", "session-1", &sig));
        assert!(!key.verify("csrf", "session-2", &sig));
        assert!(!key.verify("unsubscribe", "session-1", &sig));
        assert!(!key.verify("csrf", "session-1", "forged"));
    }
}
