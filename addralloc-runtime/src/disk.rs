//! Disk names (`sda`, `hdc`, `vdaa`, `xvdb`) and the drive addresses they stand for.
//!
//! A disk name is a prefix naming the kind of disk followed by letters that count in
//! bijective base 26: `a` is 0, `z` is 25, `aa` is 26, `az` is 51, `ba` is 52, `zz` is
//! 701, `aaa` is 702. The same letters as the format language's `{field:a}`
//! specifier.
//!
//! A disk's index maps to a drive address `(controller, bus, target, unit)` the way
//! virtual machine managers (libvirt, QEMU) lay disks out on each bus; see
//! [`DiskBus`].
//!
//! ```
//! use addralloc_runtime::disk::{self, DiskBus, Drive};
//!
//! assert_eq!(disk::index("sdaa")?, 26);
//! assert_eq!(disk::name("hd", 2)?, "hdc");
//! assert_eq!(disk::parse("xvdb")?, ("xvd", 1));
//!
//! // `hdc` is the master of the IDE controller's secondary bus.
//! assert_eq!(disk::drive_address(DiskBus::Ide, disk::index("hdc")?)?, Drive::new(0, 1, 0, 0));
//! // A wide SCSI bus skips unit 7, the host adapter.
//! assert_eq!(disk::drive_address(DiskBus::ScsiWide { units: 16 }, 7)?, Drive::new(0, 0, 0, 8));
//!
//! let err = disk::index("sd1").unwrap_err();
//! assert_eq!(err.to_string(), "`sd1` is not a disk name: expected letters a-z after `sd`");
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

use alloc::string::String;
use core::fmt;

/// The disk name prefixes, longest first (the order [`parse`] tries them in).
///
/// `sd` SCSI, SATA and USB disks; `hd` IDE; `vd` virtio-blk; `xvd` Xen virtual
/// disks; `ubd` User-Mode Linux block devices; `fd` floppy disks.
pub const PREFIXES: &[&str] = &["xvd", "ubd", "sd", "hd", "vd", "fd"];

/// The largest disk index: `u32::MAX`, the letters `mwlqkwv`.
pub const MAX_INDEX: u32 = u32::MAX;

/// A text that is not a disk name, or a prefix that is not a disk prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiskNameError {
    /// The name starts with none of the [`PREFIXES`].
    UnknownPrefix {
        /// The text given.
        name: String,
    },
    /// The prefix is followed by nothing, or by something other than letters `a`-`z`.
    BadLetters {
        /// The text given.
        name: String,
        /// The prefix it starts with.
        prefix: &'static str,
    },
    /// The letters count past [`MAX_INDEX`].
    TooLarge {
        /// The text given.
        name: String,
        /// The prefix it starts with.
        prefix: &'static str,
    },
    /// [`name`] was given a prefix that is not one of the [`PREFIXES`].
    BadPrefix {
        /// The prefix given.
        prefix: String,
    },
}

fn write_prefixes(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, p) in PREFIXES.iter().enumerate() {
        match i {
            0 => {}
            i if i + 1 == PREFIXES.len() => f.write_str(" or ")?,
            _ => f.write_str(", ")?,
        }
        write!(f, "`{p}`")?;
    }
    Ok(())
}

impl fmt::Display for DiskNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskNameError::UnknownPrefix { name } => {
                if name.is_empty() {
                    f.write_str("an empty text is not a disk name: expected a prefix ")?;
                } else {
                    write!(f, "`{name}` is not a disk name: expected a prefix ")?;
                }
                write_prefixes(f)?;
                f.write_str(" followed by letters a-z")
            }
            DiskNameError::BadLetters { name, prefix } => write!(
                f,
                "`{name}` is not a disk name: expected letters a-z after `{prefix}`"
            ),
            DiskNameError::TooLarge { name, prefix } => write!(
                f,
                "`{name}` is not a disk name: the letters after `{prefix}` count past the \
                 last disk `{prefix}{}` (index {MAX_INDEX})",
                letters(MAX_INDEX)
            ),
            DiskNameError::BadPrefix { prefix } => {
                write!(f, "`{prefix}` is not a disk prefix: expected ")?;
                write_prefixes(f)
            }
        }
    }
}

impl core::error::Error for DiskNameError {}

/// The letters of disk index `index`: `0` is `a`, `25` is `z`, `26` is `aa`.
pub fn letters(index: u32) -> String {
    // Bijective base 26: at most 7 letters for a u32.
    let mut buf = [0u8; 8];
    let mut pos = buf.len();
    let mut n = u64::from(index) + 1;
    while n > 0 {
        n -= 1;
        pos -= 1;
        // `n % 26 < 26`: the cast cannot truncate.
        buf[pos] = b'a' + (n % 26) as u8;
        n /= 26;
    }
    buf[pos..].iter().map(|&b| char::from(b)).collect()
}

/// The index the letters `text` count to; an error when `text` is empty, holds
/// anything but `a`-`z`, or counts past [`MAX_INDEX`].
fn count_letters(text: &str) -> Result<u32, LettersError> {
    if text.is_empty() {
        return Err(LettersError::Bad);
    }
    let mut n: u64 = 0;
    for b in text.bytes() {
        if !b.is_ascii_lowercase() {
            return Err(LettersError::Bad);
        }
        n = n * 26 + u64::from(b - b'a' + 1);
        // Stop before `n` could overflow a u64: past `MAX_INDEX + 1` it only grows.
        if n > u64::from(MAX_INDEX) + 1 {
            // Report a bad letter further on before the overflow.
            return Err(if text.bytes().all(|b| b.is_ascii_lowercase()) {
                LettersError::TooLarge
            } else {
                LettersError::Bad
            });
        }
    }
    u32::try_from(n - 1).map_err(|_| LettersError::TooLarge)
}

enum LettersError {
    Bad,
    TooLarge,
}

/// Splits a disk name into its prefix and index: `sdaa` is `("sd", 26)`.
pub fn parse(name: &str) -> Result<(&'static str, u32), DiskNameError> {
    let Some((prefix, rest)) = PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p).map(|rest| (*p, rest)))
    else {
        return Err(DiskNameError::UnknownPrefix {
            name: String::from(name),
        });
    };
    match count_letters(rest) {
        Ok(i) => Ok((prefix, i)),
        Err(LettersError::Bad) => Err(DiskNameError::BadLetters {
            name: String::from(name),
            prefix,
        }),
        Err(LettersError::TooLarge) => Err(DiskNameError::TooLarge {
            name: String::from(name),
            prefix,
        }),
    }
}

/// The index of a disk name, whatever its prefix: `sda` is 0, `sdz` 25, `sdaa` 26.
pub fn index(name: &str) -> Result<u32, DiskNameError> {
    parse(name).map(|(_, i)| i)
}

/// The disk name with `prefix` (one of [`PREFIXES`]) and `index`: `name("sd", 26)` is
/// `sdaa`.
pub fn name(prefix: &str, index: u32) -> Result<String, DiskNameError> {
    if !PREFIXES.contains(&prefix) {
        return Err(DiskNameError::BadPrefix {
            prefix: String::from(prefix),
        });
    }
    let mut s = String::from(prefix);
    s.push_str(&letters(index));
    Ok(s)
}

/// How disks are laid out on a bus: which drive address `(controller, bus, target,
/// unit)` the disk with index `i` gets.
///
/// | bus | address of disk `i` |
/// | --- | --- |
/// | [`Ide`](DiskBus::Ide) | `(i/4, (i%4)/2, 0, i%2)`: two buses of master and slave per controller |
/// | [`Sata`](DiskBus::Sata) | `(i/6, 0, 0, i%6)`: six ports per AHCI controller |
/// | [`Fdc`](DiskBus::Fdc) | `(i/2, 0, 0, i%2)`: two drives per floppy controller |
/// | [`ScsiNarrow`](DiskBus::ScsiNarrow) | `(i/7, 0, 0, i%7)`: units 0-6, unit 7 is the host adapter |
/// | [`ScsiWide`](DiskBus::ScsiWide) | units `0..units` per controller, skipping unit 7 (the host adapter) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiskBus {
    /// IDE: per controller two buses (primary, secondary) of two units (master, slave).
    Ide,
    /// SATA (AHCI): six units per controller.
    Sata,
    /// Floppy disk controller: two units per controller.
    Fdc,
    /// Narrow SCSI: units 0 to 6 per controller; unit 7 is the host adapter.
    ScsiNarrow,
    /// Wide SCSI: `units` units per controller (16 for a wide bus), of which unit 7 is
    /// the host adapter and never given to a disk.
    ScsiWide {
        /// Units on the bus, the host adapter's included; at least 1.
        units: u32,
    },
}

impl DiskBus {
    /// The bus's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            DiskBus::Ide => "ide",
            DiskBus::Sata => "sata",
            DiskBus::Fdc => "fdc",
            DiskBus::ScsiNarrow => "scsi-narrow",
            DiskBus::ScsiWide { .. } => "scsi-wide",
        }
    }

    /// Disks per controller, or an error for a wide bus of 0 units.
    pub fn disks_per_controller(&self) -> Result<u32, DriveAddressError> {
        match *self {
            DiskBus::Ide => Ok(4),
            DiskBus::Sata => Ok(6),
            DiskBus::Fdc => Ok(2),
            DiskBus::ScsiNarrow => Ok(7),
            DiskBus::ScsiWide { units: 0 } => Err(DriveAddressError::NoUnits),
            DiskBus::ScsiWide { units } if units > HOST_ADAPTER_UNIT => Ok(units - 1),
            DiskBus::ScsiWide { units } => Ok(units),
        }
    }
}

/// The SCSI unit of the host adapter.
const HOST_ADAPTER_UNIT: u32 = 7;

/// A drive address: controller, bus, target and unit, printed `0:1:0:0`.
///
/// ```
/// use addralloc_runtime::disk::{self, DiskBus, Drive};
/// let hdc = disk::drive_address(DiskBus::Ide, disk::index("hdc")?)?;
/// assert_eq!(hdc, Drive { controller: 0, bus: 1, target: 0, unit: 0 });
/// assert_eq!(hdc, Drive::new(0, 1, 0, 0));
/// assert_eq!(hdc.to_string(), "0:1:0:0");
/// assert_eq!(Drive::from((0, 1, 0, 0)), hdc);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Drive {
    /// The controller (0 for the first of its kind).
    pub controller: u32,
    /// The bus on the controller (IDE: 0 primary, 1 secondary).
    pub bus: u32,
    /// The target on the bus (always 0 for the layouts of [`DiskBus`]).
    pub target: u32,
    /// The unit on the target (IDE: 0 master, 1 slave).
    pub unit: u32,
}

impl Drive {
    /// The drive address `controller:bus:target:unit`.
    pub const fn new(controller: u32, bus: u32, target: u32, unit: u32) -> Drive {
        Drive {
            controller,
            bus,
            target,
            unit,
        }
    }
}

impl From<(u32, u32, u32, u32)> for Drive {
    fn from((controller, bus, target, unit): (u32, u32, u32, u32)) -> Drive {
        Drive::new(controller, bus, target, unit)
    }
}

impl From<Drive> for (u32, u32, u32, u32) {
    fn from(d: Drive) -> Self {
        (d.controller, d.bus, d.target, d.unit)
    }
}

impl fmt::Display for Drive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.controller, self.bus, self.target, self.unit
        )
    }
}

/// A drive address that no disk index maps to, or an unusable bus.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriveAddressError {
    /// A wide SCSI bus with 0 units.
    NoUnits,
    /// The address is not one the bus's layout gives a disk.
    NotOnBus {
        /// The bus's name ([`DiskBus::name`]).
        bus: &'static str,
        /// The address given.
        address: Drive,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The address's disk index would be larger than [`MAX_INDEX`].
    TooLarge {
        /// The address given.
        address: Drive,
    },
}

impl fmt::Display for DriveAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveAddressError::NoUnits => {
                f.write_str("a wide scsi bus needs at least 1 unit, found `units = 0`")
            }
            DriveAddressError::NotOnBus {
                bus,
                address,
                reason,
            } => write!(
                f,
                "drive address {address} is not a disk address for bus `{bus}`: {reason}"
            ),
            DriveAddressError::TooLarge { address } => write!(
                f,
                "drive address {address} is past the last disk (index {MAX_INDEX})"
            ),
        }
    }
}

impl core::error::Error for DriveAddressError {}

/// The drive address of disk `index` on `bus`.
///
/// Fails only for [`DiskBus::ScsiWide`] with 0 units.
pub fn drive_address(bus: DiskBus, index: u32) -> Result<Drive, DriveAddressError> {
    let per = bus.disks_per_controller()?;
    let (c, i) = (index / per, index % per);
    Ok(match bus {
        DiskBus::Ide => Drive::new(c, i / 2, 0, i % 2),
        DiskBus::Sata | DiskBus::Fdc | DiskBus::ScsiNarrow => Drive::new(c, 0, 0, i),
        DiskBus::ScsiWide { .. } => {
            Drive::new(c, 0, 0, if i >= HOST_ADAPTER_UNIT { i + 1 } else { i })
        }
    })
}

/// The disk index whose drive address on `bus` is `address`: the inverse of
/// [`drive_address`].
pub fn drive_index(bus: DiskBus, address: Drive) -> Result<u32, DriveAddressError> {
    let per = bus.disks_per_controller()?;
    let Drive {
        controller: c,
        bus: b,
        target: t,
        unit: u,
    } = address;
    let not_on_bus = |reason: String| DriveAddressError::NotOnBus {
        bus: bus.name(),
        address,
        reason,
    };
    if t != 0 {
        return Err(not_on_bus(alloc::format!(
            "the target is always 0, found {t}"
        )));
    }
    let (buses, units) = match bus {
        DiskBus::Ide => (2, 2),
        DiskBus::ScsiWide { units } => (1, units),
        _ => (1, per),
    };
    if b >= buses {
        return Err(not_on_bus(alloc::format!(
            "the bus is {}, found {b}",
            if buses == 1 { "always 0" } else { "0 or 1" }
        )));
    }
    if u >= units {
        return Err(not_on_bus(alloc::format!(
            "the unit is 0..={}, found {u}",
            units - 1
        )));
    }
    let within = match bus {
        DiskBus::ScsiWide { .. } if u == HOST_ADAPTER_UNIT => {
            return Err(not_on_bus(String::from(
                "unit 7 is the host adapter, not a disk",
            )));
        }
        DiskBus::ScsiWide { .. } if u > HOST_ADAPTER_UNIT => u - 1,
        DiskBus::Ide => b * 2 + u,
        _ => u,
    };
    c.checked_mul(per)
        .and_then(|x| x.checked_add(within))
        .ok_or(DriveAddressError::TooLarge { address })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn letters_edges() {
        assert_eq!(letters(0), "a");
        assert_eq!(letters(25), "z");
        assert_eq!(letters(26), "aa");
        assert_eq!(letters(51), "az");
        assert_eq!(letters(52), "ba");
        assert_eq!(letters(701), "zz");
        assert_eq!(letters(702), "aaa");
        assert_eq!(letters(18_277), "zzz");
        assert_eq!(letters(18_278), "aaaa");
        assert_eq!(letters(MAX_INDEX), "mwlqkwv");
    }

    #[test]
    fn parse_every_prefix() {
        for p in PREFIXES {
            for i in [0, 1, 25, 26, 701, 702, MAX_INDEX] {
                let n = name(p, i).unwrap();
                assert_eq!(parse(&n), Ok((*p, i)), "{n}");
            }
        }
        // `xvd` is not read as `x` + `vd`, nor `vda` as `vd` + ...
        assert_eq!(parse("xvda"), Ok(("xvd", 0)));
        assert_eq!(parse("vdxa"), Ok(("vd", 23 * 26 + 26)));
        assert_eq!(parse("ubdc"), Ok(("ubd", 2)));
        assert_eq!(parse("fdb"), Ok(("fd", 1)));
    }

    #[test]
    fn the_last_names() {
        assert_eq!(index("sdmwlqkwv"), Ok(MAX_INDEX));
        assert_eq!(index("sdmwlqkwu"), Ok(MAX_INDEX - 1));
        let e = index("sdmwlqkww").unwrap_err();
        assert!(matches!(e, DiskNameError::TooLarge { .. }), "{e:?}");
        let e = index("sdzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz").unwrap_err();
        assert!(matches!(e, DiskNameError::TooLarge { .. }), "{e:?}");
        // A bad letter after an overflow is reported as a bad letter.
        let e = index("sdzzzzzzzzzzzz1").unwrap_err();
        assert!(matches!(e, DiskNameError::BadLetters { .. }), "{e:?}");
    }

    #[test]
    fn messages() {
        let msg = |s: &str| index(s).unwrap_err().to_string();
        assert_eq!(
            msg("sd"),
            "`sd` is not a disk name: expected letters a-z after `sd`"
        );
        assert_eq!(
            msg("sd1"),
            "`sd1` is not a disk name: expected letters a-z after `sd`"
        );
        assert_eq!(
            msg("sdA"),
            "`sdA` is not a disk name: expected letters a-z after `sd`"
        );
        assert_eq!(
            msg("xyz"),
            "`xyz` is not a disk name: expected a prefix `xvd`, `ubd`, `sd`, `hd`, `vd` or \
             `fd` followed by letters a-z"
        );
        assert_eq!(
            msg(""),
            "an empty text is not a disk name: expected a prefix `xvd`, `ubd`, `sd`, `hd`, \
             `vd` or `fd` followed by letters a-z"
        );
        assert_eq!(
            msg("sdzzzzzzzzzz"),
            "`sdzzzzzzzzzz` is not a disk name: the letters after `sd` count past the last \
             disk `sdmwlqkwv` (index 4294967295)"
        );
        assert_eq!(
            name("nvme", 0).unwrap_err().to_string(),
            "`nvme` is not a disk prefix: expected `xvd`, `ubd`, `sd`, `hd`, `vd` or `fd`"
        );
    }

    #[test]
    fn drive_mappings() {
        let ide: Vec<Drive> = (0..6)
            .map(|i| drive_address(DiskBus::Ide, i).unwrap())
            .collect();
        assert_eq!(
            ide,
            [
                Drive::new(0, 0, 0, 0),
                Drive::new(0, 0, 0, 1),
                Drive::new(0, 1, 0, 0),
                Drive::new(0, 1, 0, 1),
                Drive::new(1, 0, 0, 0),
                Drive::new(1, 0, 0, 1)
            ]
        );
        assert_eq!(drive_address(DiskBus::Sata, 5), Ok(Drive::new(0, 0, 0, 5)));
        assert_eq!(drive_address(DiskBus::Sata, 6), Ok(Drive::new(1, 0, 0, 0)));
        assert_eq!(drive_address(DiskBus::Fdc, 3), Ok(Drive::new(1, 0, 0, 1)));
        assert_eq!(
            drive_address(DiskBus::ScsiNarrow, 6),
            Ok(Drive::new(0, 0, 0, 6))
        );
        assert_eq!(
            drive_address(DiskBus::ScsiNarrow, 7),
            Ok(Drive::new(1, 0, 0, 0))
        );
        let wide = DiskBus::ScsiWide { units: 16 };
        assert_eq!(drive_address(wide, 6), Ok(Drive::new(0, 0, 0, 6)));
        assert_eq!(drive_address(wide, 7), Ok(Drive::new(0, 0, 0, 8)));
        assert_eq!(drive_address(wide, 14), Ok(Drive::new(0, 0, 0, 15)));
        assert_eq!(drive_address(wide, 15), Ok(Drive::new(1, 0, 0, 0)));
        assert_eq!(
            drive_address(DiskBus::ScsiWide { units: 0 }, 0),
            Err(DriveAddressError::NoUnits)
        );
        assert_eq!(
            drive_address(DiskBus::ScsiWide { units: 4 }, 5),
            Ok(Drive::new(1, 0, 0, 1))
        );
    }

    #[test]
    fn drive_index_inverts() {
        let buses = [
            DiskBus::Ide,
            DiskBus::Sata,
            DiskBus::Fdc,
            DiskBus::ScsiNarrow,
            DiskBus::ScsiWide { units: 16 },
            DiskBus::ScsiWide { units: 8 },
            DiskBus::ScsiWide { units: 7 },
            DiskBus::ScsiWide { units: 1 },
            DiskBus::ScsiWide { units: u32::MAX },
        ];
        for bus in buses {
            for i in (0..200).chain([MAX_INDEX - 1, MAX_INDEX]) {
                let a = drive_address(bus, i).unwrap();
                assert_eq!(drive_index(bus, a), Ok(i), "{bus:?} {i} {a:?}");
            }
        }
        let wide = DiskBus::ScsiWide { units: 16 };
        assert!(drive_index(wide, Drive::new(0, 0, 0, 7)).is_err());
        assert!(drive_index(wide, Drive::new(0, 0, 0, 16)).is_err());
        assert!(drive_index(wide, Drive::new(0, 0, 1, 0)).is_err());
        assert!(drive_index(DiskBus::Ide, Drive::new(0, 2, 0, 0)).is_err());
        assert!(drive_index(DiskBus::Ide, Drive::new(0, 0, 0, 2)).is_err());
        assert!(drive_index(DiskBus::Sata, Drive::new(0, 1, 0, 0)).is_err());
        assert_eq!(
            drive_index(DiskBus::Sata, Drive::new(u32::MAX, 0, 0, 0)),
            Err(DriveAddressError::TooLarge {
                address: Drive::new(u32::MAX, 0, 0, 0)
            })
        );
        assert_eq!(
            drive_index(wide, Drive::new(0, 0, 0, 7)).unwrap_err().to_string(),
            "drive address 0:0:0:7 is not a disk address for bus `scsi-wide`: unit 7 is the host adapter, \
             not a disk"
        );
    }
}
