//! Snapshot restore from arbitrary bytes (as JSON and as TOML): never a panic, and a
//! restored allocator snapshots back to something that restores to the same state.
#![no_main]

use std::fmt;
use std::str::FromStr;

use addralloc::{Address, Allocator, Field, Snapshot};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pci(u8, u8, u8);

impl Address for Pci {
    const FIELDS: &'static [Field] = &[
        Field::new("bus", 0, 255),
        Field::new("slot", 0, 31),
        Field::new("function", 0, 7),
    ];
    fn field(&self, i: usize) -> u128 {
        [self.0, self.1, self.2][i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Pci(v[0] as u8, v[1] as u8, v[2] as u8)
    }
}

impl fmt::Display for Pci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.0, self.1, self.2)
    }
}

impl FromStr for Pci {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (bus, rest) = s.split_once(':').ok_or("expected `bus:slot.function`")?;
        let (slot, func) = rest.split_once('.').ok_or("expected `slot.function`")?;
        let n = |t: &str| u128::from_str_radix(t, 16).map_err(|e| e.to_string());
        Pci::try_from_fields(&[n(bus)?, n(slot)?, n(func)?]).map_err(|e| e.to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let snaps = [
        serde_json::from_str::<Snapshot>(text).ok(),
        toml::from_str::<Snapshot>(text).ok(),
    ];
    for snap in snaps.into_iter().flatten() {
        if let Ok(a) = Allocator::<Pci>::restore(&snap) {
            let again = a.snapshot();
            let b = Allocator::<Pci>::restore(&again).expect("a snapshot of a restored allocator restores");
            assert_eq!(b.snapshot(), again);
            assert_eq!(a.free_count(), b.free_count());
        }
    }
});
