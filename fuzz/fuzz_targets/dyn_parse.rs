//! `DynSchema` address, pattern and block parsing of arbitrary text, on the bundled
//! PCI, CCW, IPv6 and MAC schemas: never a panic, and what parses prints back to
//! something that parses to the same value.
#![no_main]

use std::sync::{Arc, OnceLock};

use addralloc::dynamic::{DynSchema, DynType};
use libfuzzer_sys::fuzz_target;

fn types() -> &'static [Arc<DynType>] {
    static TYPES: OnceLock<Vec<Arc<DynType>>> = OnceLock::new();
    TYPES.get_or_init(|| {
        [
            include_str!("../../schemas/pci.toml"),
            include_str!("../../schemas/ccw.toml"),
            include_str!("../../schemas/ipv6.toml"),
            include_str!("../../schemas/mac.toml"),
        ]
        .iter()
        .flat_map(|t| DynSchema::from_toml(t).expect("bundled schema").types().to_vec())
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let ty = &types()[which as usize % types().len()];
    if let Ok(a) = ty.parse_address(text) {
        let printed = a.to_string();
        let again = ty.parse_address(&printed).expect("printed address parses");
        assert_eq!(again, a);
    }
    if let Ok(p) = ty.parse_pattern(text) {
        let again = ty.parse_pattern(&p.to_string()).expect("printed pattern parses");
        assert_eq!(again, p);
    }
    let _ = ty.parse_block(text);
});
