//! `RegistryVersion::from_bytes` on arbitrary bytes (with and without a valid
//! magic and version in front). A version that decodes must re-encode, decode
//! again to the same bytes, validate without panicking and diff against the
//! fixture's definitions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verge_core::registry::{self, RegistryVersion};
use verge_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let mut prefixed = b"VRGR\x01\x00".to_vec();
    prefixed.extend_from_slice(data.get(6..).unwrap_or_default());
    for bytes in [data, prefixed.as_slice()] {
        let Ok(version) = RegistryVersion::from_bytes(bytes) else {
            continue;
        };
        let canonical = version.to_bytes().expect("a decoded version encodes");
        let again = RegistryVersion::from_bytes(&canonical).expect("canonical bytes decode");
        assert_eq!(again.to_bytes().expect("encodes"), canonical, "canonical form is stable");
        let _ = version.definitions.validate();
        let _ = registry::diff(&fixture::definitions(), &version.definitions);
    }
});
