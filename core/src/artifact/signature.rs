//! Detached ed25519 signatures over artifacts: who built this bundle or snapshot.
//!
//! An artifact's content id (the BLAKE3 hash in its header) already proves the
//! bytes are intact; a signature proves *who* published them. The signer signs a
//! short, domain-separated message naming the artifact, never the artifact
//! itself:
//!
//! ```text
//! b"verge-artifact-v1\0" ‖ magic (4 bytes, e.g. "VRGB") ‖ content id (32 bytes)
//! ```
//!
//! - the context string keeps a verge signature from ever being valid for any
//!   other protocol that uses the same key, and names the scheme's version;
//! - the magic binds the kind, so a signed bundle id cannot be replayed as a
//!   snapshot;
//! - the content id binds every payload byte (it is their hash), so signing is
//!   constant time however large the snapshot, and a `.sig` file can be checked
//!   without rereading the artifact.
//!
//! Signatures are detached (`<id>.sig` files and the `manifest.json` of the
//! publish layout, see `docs/publish.md`), so the artifact format does not
//! change. Verification uses `verify_strict` (rejects small-order keys and
//! non-canonical signatures) and lives here, in the `no_std` core, so the
//! worker, `verge serve` and the browser runtime all refuse exactly the same
//! inputs. Keys never enter an artifact, a manifest or a log line: only
//! signatures and (in messages) a short fingerprint of the *public* key.

use alloc::format;
use alloc::string::String;
use core::fmt;

use ed25519_dalek::{Signer as _, VerifyingKey};

use super::ArtifactKind;
use crate::{ContentId, Error, Result};

/// The domain-separation prefix of every signed message.
pub const SIGNATURE_CONTEXT: &[u8; 18] = b"verge-artifact-v1\0";

/// Bytes in a signed message: context, magic, content id.
pub const MESSAGE_LEN: usize = SIGNATURE_CONTEXT.len() + 4 + 32;

/// Bytes in a public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Bytes in a signature.
pub const SIGNATURE_LEN: usize = 64;

/// Bytes in a signing key's secret seed.
pub const SEED_LEN: usize = 32;

/// The message signed for the artifact `id` of `kind`.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::artifact::ArtifactKind;
/// use verge_core::artifact::signature::signed_message;
///
/// let m = signed_message(ArtifactKind::Bundle, ContentId([7; 32]));
/// assert_eq!(&m[..18], b"verge-artifact-v1\0");
/// assert_eq!(&m[18..22], b"VRGB");
/// assert_eq!(&m[22..], &[7; 32]);
/// ```
#[must_use]
pub fn signed_message(kind: ArtifactKind, id: ContentId) -> [u8; MESSAGE_LEN] {
    let mut message = [0u8; MESSAGE_LEN];
    let (context, rest) = message.split_at_mut(SIGNATURE_CONTEXT.len());
    context.copy_from_slice(SIGNATURE_CONTEXT);
    let (magic, content) = rest.split_at_mut(4);
    magic.copy_from_slice(&kind.magic());
    content.copy_from_slice(&id.0);
    message
}

/// Decodes exactly `2 * N` hex digits (either case).
fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *slot = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// An ed25519 signature over one artifact, printed as 128 lowercase hex digits.
///
/// # Examples
///
/// ```
/// use verge_core::artifact::signature::Signature;
///
/// let hex = "ab".repeat(64);
/// let sig = Signature::parse_hex(&hex).unwrap();
/// assert_eq!(sig.to_string(), hex);
/// assert!(Signature::parse_hex("abc").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// Parses 128 hex digits (surrounding whitespace, e.g. a `.sig` file's
    /// newline, is ignored).
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Signature> {
        decode_hex(text.trim()).map(Signature)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(")?;
        write_hex(f, &self.0[..6])?;
        f.write_str("…)")
    }
}

/// A public key that artifacts must be signed with, printed as 64 hex digits.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::artifact::ArtifactKind;
/// use verge_core::artifact::signature::{PublicKey, SigningKey};
///
/// let key = SigningKey::from_seed(&[9; 32]);
/// let public = PublicKey::parse_hex(&key.public_key().to_string()).unwrap();
/// let id = ContentId::of(b"payload");
/// let sig = key.sign(ArtifactKind::Snapshot, id);
/// assert!(public.verify(ArtifactKind::Snapshot, id, Some(&sig)).is_ok());
/// // The same signature does not vouch for a bundle with that id, nor for an
/// // unsigned artifact.
/// assert!(public.verify(ArtifactKind::Bundle, id, Some(&sig)).is_err());
/// assert!(public.verify(ArtifactKind::Snapshot, id, None).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key with these 32 bytes, if they encode a curve point.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Option<PublicKey> {
        VerifyingKey::from_bytes(bytes).ok().map(PublicKey)
    }

    /// Parses 64 hex digits, as `verge keygen` prints them.
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<PublicKey> {
        decode_hex::<PUBLIC_KEY_LEN>(text.trim()).and_then(|b| PublicKey::from_bytes(&b))
    }

    /// The key's 32 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    /// A short name for the key in messages: its first 8 hex digits.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let b = self.to_bytes();
        format!("{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3])
    }

    /// Checks that `signature` is this key's signature of the artifact `id` of
    /// `kind`.
    ///
    /// # Errors
    ///
    /// [`Error::Signature`] when `signature` is `None` (the artifact is
    /// unsigned) or was not made by this key over this kind and id (the
    /// artifact or the signature was altered, or another key signed it).
    pub fn verify(
        &self,
        kind: ArtifactKind,
        id: ContentId,
        signature: Option<&Signature>,
    ) -> Result<()> {
        let refuse = |message: String| Error::Signature {
            kind: kind.name(),
            id,
            message,
        };
        let Some(signature) = signature else {
            return Err(refuse(format!(
                "it is unsigned, and only artifacts signed by key {}… are accepted; publish it with `verge publish --sign-key FILE`",
                self.fingerprint()
            )));
        };
        let message = signed_message(kind, id);
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0.verify_strict(&message, &sig).map_err(|_| {
            refuse(format!(
                "its signature does not verify with key {}…: the artifact or its signature was altered, or another key signed it",
                self.fingerprint()
            ))
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.to_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}…)", self.fingerprint())
    }
}

/// A signing key. Its secret never leaves this type: `Debug` shows only the
/// public half, there is no `Display`, and the host build wipes it on drop
/// (ed25519-dalek's `zeroize` feature).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// The key whose secret seed is `seed` (32 uniformly random bytes).
    #[must_use]
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The public half, which verifiers are given.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the artifact `id` of `kind` (see [`signed_message`]).
    #[must_use]
    pub fn sign(&self, kind: ArtifactKind, id: ContentId) -> Signature {
        Signature(self.0.sign(&signed_message(kind, id)).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {}…)", self.public_key().fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// RFC 8032 §7.1, test 1: the key pair for the empty message.
    const RFC_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn keys_match_rfc_8032() {
        let key = SigningKey::from_seed(&decode_hex(RFC_SEED).unwrap());
        assert_eq!(key.public_key().to_string(), RFC_PUBLIC);
    }

    /// The worked example of docs/format.md, "Signatures".
    #[test]
    fn the_documented_example_holds() {
        let key = SigningKey::from_seed(&decode_hex(RFC_SEED).unwrap());
        let id = ContentId::of(b"");
        assert_eq!(
            id.to_string(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let message: String = signed_message(ArtifactKind::Bundle, id)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            message,
            "76657267652d61727469666163742d763100\
             56524742\
             af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let sig = key.sign(ArtifactKind::Bundle, id);
        assert_eq!(
            sig.to_string(),
            "30eb6f40259122bcd0b4d137f858d7ea105093af28164bfc654847b120e0634e\
             7fa78988cadd60967eae67d238d94a2e222556d7e5a333036013fce8df92e606"
        );
        key.public_key()
            .verify(ArtifactKind::Bundle, id, Some(&sig))
            .unwrap();
    }

    #[test]
    fn sign_and_verify_bind_kind_and_id() {
        let key = SigningKey::from_seed(&[1; 32]);
        let public = key.public_key();
        let id = ContentId::of(b"a bundle payload");
        let sig = key.sign(ArtifactKind::Bundle, id);
        public.verify(ArtifactKind::Bundle, id, Some(&sig)).unwrap();
        // Another id, another kind, a flipped bit, another key: all refused.
        let other = ContentId::of(b"another payload");
        assert!(
            public
                .verify(ArtifactKind::Bundle, other, Some(&sig))
                .is_err()
        );
        assert!(
            public
                .verify(ArtifactKind::Snapshot, id, Some(&sig))
                .is_err()
        );
        let mut flipped = sig;
        flipped.0[10] ^= 1;
        assert!(
            public
                .verify(ArtifactKind::Bundle, id, Some(&flipped))
                .is_err()
        );
        let stranger = SigningKey::from_seed(&[2; 32]).public_key();
        let e = stranger
            .verify(ArtifactKind::Bundle, id, Some(&sig))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not verify"), "{e}");
        let e = public.verify(ArtifactKind::Bundle, id, None).unwrap_err();
        assert!(e.to_string().contains("unsigned"), "{e}");
        assert!(matches!(e, Error::Signature { kind: "bundle", .. }));
    }

    #[test]
    fn signatures_are_deterministic_and_round_trip_as_hex() {
        let key = SigningKey::from_seed(&[3; 32]);
        let id = ContentId::of(b"x");
        let sig = key.sign(ArtifactKind::Snapshot, id);
        assert_eq!(sig, key.sign(ArtifactKind::Snapshot, id));
        let text = sig.to_string();
        assert_eq!(text.len(), 128);
        assert_eq!(Signature::parse_hex(&format!("{text}\n")), Some(sig));
        assert_eq!(Signature::parse_hex(&text.to_uppercase()), Some(sig));
        assert_eq!(Signature::parse_hex(&text[1..]), None);
        assert_eq!(Signature::parse_hex(&"zz".repeat(64)), None);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let seed = [0x5a; 32];
        let key = SigningKey::from_seed(&seed);
        let shown = format!("{key:?}");
        assert!(!shown.contains("5a5a"), "{shown}");
        assert!(shown.contains(&key.public_key().fingerprint()));
    }

    #[test]
    fn public_keys_parse_only_valid_points() {
        assert!(PublicKey::parse_hex(RFC_PUBLIC).is_some());
        assert!(PublicKey::parse_hex(&RFC_PUBLIC[2..]).is_none());
        assert!(PublicKey::parse_hex("not hex").is_none());
        // y = 2 is not on the curve (no x satisfies the equation).
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert!(PublicKey::from_bytes(&bytes).is_none());
    }
}
