//! Bad input, one table: addresses, patterns, blocks, allocator operations, schema
//! files, derive attributes (trybuild UI cases), snapshots, plan files and CLI
//! arguments. Every row names the input and the exact message a person gets, and every
//! check also asserts that nothing changed: the allocator's snapshot for allocator and
//! snapshot rows, the state file's bytes (or its absence) for plan rows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use addralloc::dynamic::{DynAllocator, DynSchema, DynType};
use addralloc::{Address, Allocator, Block, Field, Pattern, Policy, Snapshot};

/// One bad input and the exact message it must produce.
struct Case {
    /// Which front door: `address`, `pattern`, `block`, `allocator`, `schema`,
    /// `derive`, `snapshot`, `plan`, `cli`.
    area: &'static str,
    /// The input; its layout depends on the area (see the runner of each area).
    input: &'static str,
    /// The exact message (for `plan` and `cli`: standard error).
    expected_message: &'static str,
    /// For `plan` and `cli`: the exit status; 0 elsewhere.
    exit: i32,
}

const fn lib(area: &'static str, input: &'static str, expected_message: &'static str) -> Case {
    Case {
        area,
        input,
        expected_message,
        exit: 0,
    }
}

const fn run(
    area: &'static str,
    input: &'static str,
    exit: i32,
    expected_message: &'static str,
) -> Case {
    Case {
        area,
        input,
        expected_message,
        exit,
    }
}

const CASES: &[Case] = &[
    // ----- addresses: "TYPE text" (the text starts after the first space). TYPE is a
    // bundled schema type, `Wide`/`WideHex` (one u128 field) or `Pci` (hand-written);
    // for PciAddress, Ipv4Address and ScsiDiskName the include_schema! type's FromStr
    // must say the same ------------------------------------------------------------
    lib("address", "PciAddress ", "invalid address `` at column 1 (field `domain`): expected a hexadecimal digit, found the end"),
    lib("address", "PciAddress 0000:00:01.0x", "invalid address `0000:00:01.0x` at column 13: unexpected trailing text `x`"),
    lib("address", "PciAddress 0000:00:20.0", "invalid address `0000:00:20.0` at column 9 (field `slot`): `20` is out of range 0x0..=0x1f"),
    lib("address", "PciAddress 0000:00:01.8", "invalid address `0000:00:01.8` at column 12 (field `function`): `8` is out of range 0x0..=0x7"),
    lib("address", "PciAddress 0000-00-01.0", "invalid address `0000-00-01.0` at column 5: expected `:`, found `-`"),
    lib("address", "PciAddress 0000:00:01", "invalid address `0000:00:01` at column 11: expected `.`, found the end"),
    lib("address", "PciAddress 0000:00:1G.0", "invalid address `0000:00:1G.0` at column 10 (field `slot`): expected a hexadecimal digit"),
    lib("address", "PciAddress 10000:00:01.0", "invalid address `10000:00:01.0` at column 1 (field `domain`): `10000` is out of range 0x0..=0xffff"),
    lib("address", "PciAddress  0000:00:01.0", "invalid address ` 0000:00:01.0` at column 1 (field `domain`): expected a hexadecimal digit"),
    lib("address", "Ipv4Address 192.168.1.256", "invalid address `192.168.1.256` at column 11 (field `d`): `256` is out of range 0..=255"),
    lib("address", "Ipv4Address 192.168.1", "invalid address `192.168.1` at column 10: expected `.`, found the end"),
    lib("address", "Ipv4Address 192.168..1", "invalid address `192.168..1` at column 9 (field `c`): expected a decimal digit"),
    lib("address", "Ipv4Address 192.168.1.1.", "invalid address `192.168.1.1.` at column 12: unexpected trailing text `.`"),
    lib("address", "Ipv4Address -1.0.0.0", "invalid address `-1.0.0.0` at column 1 (field `a`): expected a decimal digit"),
    lib("address", "Wide 99999999999999999999999999999999999999999", "invalid address `99999999999999999999999999999999999999999` at column 1 (field `v`): `99999999999999999999999999999999999999999` is out of range 0..=340282366920938463463374607431768211455"),
    lib("address", "WideHex 1ffffffffffffffffffffffffffffffff", "invalid address `1ffffffffffffffffffffffffffffffff` at column 1 (field `v`): `1ffffffffffffffffffffffffffffffff` is out of range 0x0..=0xffffffffffffffffffffffffffffffff"),
    lib("address", "ScsiDiskName sd", "invalid address `sd` at column 3 (field `index`): expected a lower case letter, found the end"),
    lib("address", "ScsiDiskName sdA", "invalid address `sdA` at column 3 (field `index`): expected a lower case letter"),
    lib("address", "ScsiDiskName hda", "invalid address `hda` at column 1: expected `sd`, found `h`"),
    lib("address", "Pci 0000:00:01", "invalid address `0000:00:01` at column 11: expected `.`, found the end"),
    lib("address", "PciAddress 0x00:00:01.0", "invalid address `0x00:00:01.0` at column 2 (field `domain`): expected a hexadecimal digit"),
    lib("address", "PciAddress 0000:00:01.", "invalid address `0000:00:01.` at column 12 (field `function`): expected a hexadecimal digit, found the end"),
    lib("address", "PciAddress é000:00:01.0", "invalid address `é000:00:01.0` at column 1 (field `domain`): expected a hexadecimal digit"),
    lib("address", "PciAddress 0000:00:01.0 ", "invalid address `0000:00:01.0 ` at column 13: unexpected trailing text ` `"),
    // ----- patterns: "TYPE text" ----------------------------------------------------
    lib("pattern", "PciAddress bus=0, slt=1", "invalid pattern `bus=0, slt=1`: unknown field `slt`; did you mean `slot`?"),
    lib("pattern", "PciAddress slot=40", "field `slot` value 40 is out of range 0..=31"),
    lib("pattern", "PciAddress slot=1..=32", "field `slot` value 32 is out of range 0..=31"),
    lib("pattern", "PciAddress bus=0, bus=1", "invalid pattern `bus=0, bus=1`: field `bus` is given twice"),
    lib("pattern", "PciAddress bus:0", "invalid pattern `bus:0`: expected `field=value` or `field=lo..=hi`, found `bus:0`"),
    lib("pattern", "PciAddress bus=", "invalid pattern `bus=`: field `bus`: expected a number, found ``"),
    lib("pattern", "PciAddress bus=0,, slot=1", "invalid pattern `bus=0,, slot=1`: expected `field=value` or `field=lo..=hi`, found ``"),
    lib("pattern", "PciAddress bus=x", "invalid pattern `bus=x`: field `bus`: `x` is not a number (decimal, or hexadecimal after `0x`)"),
    lib("pattern", "PciAddress bus=0 slot=1", "invalid pattern `bus=0 slot=1`: field `bus`: `0 slot=1` is not a number (decimal, or hexadecimal after `0x`)"),
    lib("pattern", "Pci bus=0, slt=1", "invalid pattern `bus=0, slt=1`: unknown field `slt`; did you mean `slot`?"),
    lib("pattern", "PciAddress slot=99999999999999999999999999999999999999999", "invalid pattern `slot=99999999999999999999999999999999999999999`: field `slot`: `99999999999999999999999999999999999999999` is too large"),
    lib("pattern", "PciAddress slot=0x", "invalid pattern `slot=0x`: field `slot`: expected a number, found `0x`"),
    lib("pattern", "PciAddress slot=1..=2..=3", "invalid pattern `slot=1..=2..=3`: field `slot`: `2..=3` is not a number (decimal, or hexadecimal after `0x`)"),
    lib("pattern", "PciAddress bus=-1", "invalid pattern `bus=-1`: field `bus`: `-1` is not a number (decimal, or hexadecimal after `0x`)"),
    lib("pattern", "PciAddress slot=1..=2, *", "invalid pattern `slot=1..=2, *`: expected `field=value` or `field=lo..=hi`, found `*`"),
    lib("pattern", "Ipv4Address a=10, octet=1", "invalid pattern `a=10, octet=1`: unknown field `octet`; the fields are `a`, `b`, `c`, `d`"),
    // linear ranges and prefixes (issue 11)
    lib("pattern", "Ipv4Address 10.20.0.0/33", "invalid pattern `10.20.0.0/33`: the prefix length /33 is longer than the 32 bits of the address"),
    lib("pattern", "Ipv4Address 10.20.0.0/x", "invalid pattern `10.20.0.0/x`: the prefix length `x` is not a number from 0 to 32"),
    lib("pattern", "Ipv4Address 10.20.0.0/", "invalid pattern `10.20.0.0/`: the prefix length `` is not a number from 0 to 32"),
    lib("pattern", "Ipv4Address 10.20.1.0/16", "invalid pattern `10.20.1.0/16`: host bits are set: the bits after the first 16 must be 0; the /16 network is 10.20.0.0/16"),
    lib("pattern", "Ipv4Address 10.20.0.0/-1", "invalid pattern `10.20.0.0/-1`: the prefix length `-1` is not a number from 0 to 32"),
    lib("pattern", "Ipv4Address 10.20.1.5..=10.20.0.250", "invalid pattern `10.20.1.5..=10.20.0.250`: the range is reversed: 10.20.1.5 comes after 10.20.0.250 in address order"),
    lib("pattern", "Ipv4Address 10.20.0.1..10.20.0.5", "invalid pattern `10.20.0.1..10.20.0.5`: a range of addresses is written `first..=last` (both ends included)"),
    lib("pattern", "Ipv4Address 10.20.0.1..=10.20.0.300", "invalid pattern `10.20.0.1..=10.20.0.300`: the range's last address: invalid address `10.20.0.300` at column 9 (field `d`): `300` is out of range 0..=255"),
    lib("pattern", "Ipv4Address 10.20.0.x..=10.20.0.3", "invalid pattern `10.20.0.x..=10.20.0.3`: the range's first address: invalid address `10.20.0.x` at column 9 (field `d`): expected a decimal digit"),
    lib("pattern", "Ipv4Address 10.20.0/16", "invalid pattern `10.20.0/16`: the prefix's address: invalid address `10.20.0` at column 8: expected `.`, found the end"),
    lib("pattern", "UsbPortAddress 0-1/4", "invalid pattern `0-1/4`: a prefix needs fields that form one bit string (each from 0 to a power of two minus 1); the fields `bus`, `port` do not"),
    lib("pattern", "Ipv6Address 2001:db8::1/48", "invalid pattern `2001:db8::1/48`: host bits are set: the bits after the first 48 must be 0; the /48 network is 2001:db8::/48"),
    lib("pattern", "Ipv6Address 2001:db8::/129", "invalid pattern `2001:db8::/129`: the prefix length /129 is longer than the 128 bits of the address"),
    // ----- blocks: "TYPE text" ------------------------------------------------------
    lib("block", "PciAddress function=0", "invalid block extent 0 for field `function`: an extent is at least 1"),
    lib("block", "PciAddress function=16", "invalid block extent 16 for field `function`: the field has only 8 values (0..=7)"),
    lib("block", "Ipv4Address c=0", "invalid block extent 0 for field `c`: an extent is at least 1"),
    lib("block", "Ipv4Address /33", "invalid block `/33`: the prefix length /33 is longer than the 32 bits of the address"),
    lib("block", "Ipv4Address /x", "invalid block `/x`: the prefix length `x` is not a number from 0 to 32"),
    lib("block", "UsbPortAddress /2", "invalid block `/2`: a prefix needs fields that form one bit string (each from 0 to a power of two minus 1); the fields `bus`, `port` do not"),
    lib("block", "PciAddress slot=64", "invalid block extent 64 for field `slot`: the field has only 32 values (0..=31)"),
    lib("block", "Ipv4Address d=512", "invalid block extent 512 for field `d`: the field has only 256 values (0..=255)"),
    lib("block", "Ipv4Address a=1, b=1, c=1, d=257", "invalid block extent 257 for field `d`: the field has only 256 values (0..=255)"),
    // ----- allocator operations: "TYPE [default]; op; op; ..." ------------------------
    // TYPE is a runtime type (DynAllocator), `typed:PciAddress` (the include_schema!
    // type, Allocator<PciAddress>) or `Pci` (hand-written, Allocator<Pci>); `default`
    // starts from the schema's default pools. The last operation must fail, and the
    // snapshot before it must equal the one after. Operations: `pool[tag] PATTERN`,
    // `reserve[owner] ADDR`, `in[tag] ADDR` (reserve requiring the tag),
    // `first PATTERN`, `any`, `need[tag] any`, `block PATTERN / BLOCK`,
    // `release ADDR`, `range FIRST LAST` (DynAllocator only).
    lib(
        "allocator",
        "PciAddress default; reserve[net0] 0000:00:03.0; reserve 0000:00:03.0",
        "address 0000:00:03.0 is already reserved by `net0`",
    ),
    lib(
        "allocator",
        "PciAddress default; reserve 0000:00:03.0; reserve[net1] 0000:00:03.0",
        "address 0000:00:03.0 is already reserved",
    ),
    lib("allocator", "PciAddress default; reserve 0000:01:00.0", "address 0000:01:00.0 is outside every pool"),
    lib("allocator", "PciAddress default; reserve 0000:00:00.0", "address 0000:00:00.0 is outside every pool"),
    lib(
        "allocator",
        "PciAddress; pool slot=1..=2, domain=0, bus=0; any; any; any; any; any; any; any; any; any; any; any; any; any; any; any; any; any",
        "no free address in `*`",
    ),
    lib(
        "allocator",
        "PciAddress default; block bus=0, slot=31 / function=8; block bus=0, slot=31 / function=8",
        "no free block of `function=8` in `bus=0, slot=0x1f`",
    ),
    lib("allocator", "PciAddress default; release 0000:00:05.0", "address 0000:00:05.0 is not reserved"),
    lib("allocator", "PciAddress default; need[hotplug] any", "no pool carries tag `hotplug`"),
    lib(
        "allocator",
        "PciAddress default; pool domain=0, bus=0, slot=30..=31",
        "pool `domain=0, bus=0, slot=30..=31` overlaps pool `domain=0, bus=0, slot=1..=31`",
    ),
    lib("allocator", "PciAddress default; first bus=1", "no free address in `bus=1`"),
    lib(
        "allocator",
        "PciAddress default; reserve[a] 0000:00:02.3; range 0000:00:02.0 0000:00:02.7",
        "address 0000:00:02.3 is already reserved by `a`",
    ),
    lib("allocator", "PciAddress default; reserve 0000:00:03.9", "invalid address `0000:00:03.9` at column 12 (field `function`): `9` is out of range 0x0..=0x7"),
    lib("allocator", "Pci; pool domain=0, bus=0, slot=1..=31; reserve[net0] 0000:00:03.0; reserve 0000:00:03.0", "address 0000:00:03.0 is already reserved by `net0`"),
    lib("allocator", "typed:PciAddress default; reserve[net0] 0000:00:03.0; reserve 0000:00:03.0", "address 0000:00:03.0 is already reserved by `net0`"),
    lib("allocator", "typed:PciAddress default; reserve 0000:00:00.0", "address 0000:00:00.0 is outside every pool"),
    lib("allocator", "typed:PciAddress default; need[hotplug] any", "no pool carries tag `hotplug`"),
    lib("allocator", "typed:PciAddress default; block slot=31 / function=8; block slot=31 / function=8", "no free block of `function=8` in `slot=0x1f`"),
    lib("allocator", "typed:PciAddress default; block slot=31 / function=0", "invalid block extent 0 for field `function`: an extent is at least 1"),
    lib("allocator", "typed:PciAddress default; release 0000:00:07.0", "address 0000:00:07.0 is not reserved"),
    // A release frees one whole reservation; release_range cuts explicitly.
    lib("allocator", "PciAddress default; block[nic] * / function=8; release 0000:00:01.3", "address 0000:00:01.3 is inside the reservation 0000:00:01.0..=0000:00:01.7 of `nic`; release that, or use release_range"),
    lib("allocator", "typed:PciAddress default; block[nic] * / function=8; release 0000:00:01.3", "address 0000:00:01.3 is inside the reservation 0000:00:01.0..=0000:00:01.7 of `nic`; release that, or use release_range"),
    lib("allocator", "PciAddress default; block[nic] * / function=8; block * / function=8; unblock 0000:00:01.4 0000:00:02.7", "0000:00:01.4..=0000:00:02.7 is not one whole reservation: address 0000:00:01.4 is in the reservation 0000:00:01.0..=0000:00:01.7 of `nic`; release that, or use release_range"),
    lib("allocator", "typed:PciAddress default; block[nic] * / function=8; unblock 0000:00:01.0 0000:00:01.3", "0000:00:01.0..=0000:00:01.3 is not one whole reservation: address 0000:00:01.0 is in the reservation 0000:00:01.0..=0000:00:01.7 of `nic`; release that, or use release_range"),
    lib("allocator", "PciAddress default; reserve 0000:00:05.0; cut 0000:00:05.0 0000:00:05.1", "address 0000:00:05.1 is not reserved"),
    lib("allocator", "typed:PciAddress default; cut 0000:01:00.0 0000:01:00.1", "address 0000:01:00.0 is outside every pool"),
    lib("allocator", "PciAddress default; release 0001:00:00.0", "address 0001:00:00.0 is outside every pool"),
    // A block whose rows do not touch is refused by its size, not spelled out.
    lib("allocator", "Ipv6Address; pool a=0x2001; block * / e=65536, f=65536", "block `e=65536, f=65536` is 4294967296 separate runs (its extents leave gaps between them); at most 1048576 are supported"),
    lib("allocator", "typed:PciAddress; pool[hotplug] bus=1; reserve 0000:00:01.0", "address 0000:00:01.0 is outside every pool"),
    lib("allocator", "typed:PciAddress; pool[hotplug] bus=1; pool bus=1, slot=3", "pool `bus=1, slot=3` overlaps pool `bus=1`"),
    lib("allocator", "typed:PciAddress; pool[hotplug] bus=1; pool bus=0; in[hotplug] 0000:00:01.0", "address 0000:00:01.0 is outside every pool tagged `hotplug`"),
    lib("allocator", "PciAddress default; in[pci] 0000:00:00.1", "address 0000:00:00.1 is outside every pool tagged `pci`"),
    // ----- schema files: the TOML text; the message is `line:col: message` per
    // diagnostic, one a line ----------------------------------------------------------
    lib("schema", "[[address]\nname = \"A\"\n", "1:11: invalid TOML: unclosed array table, expected `]`"),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nfromat = \"{x}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n",
        "3:1: unknown key `fromat` in `[[address]]`; did you mean `format`?",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n",
        "8:1: duplicate field `x`",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\nrange = \"5..=3\"\n",
        "7:9: field `x` has an empty range",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\nrange = \"0..=256\"\n",
        "7:9: range 0..=256 of field `x` does not fit in `u8`; the largest `u8` is 255",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\nrange = \"0-7\"\n",
        "7:9: invalid range `0-7`: expected `lo..=hi` or `lo..hi` with decimal or `0x` hexadecimal bounds",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nformat = \"{x:o}.{y}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.field]]\nname = \"y\"\ntype = \"u8\"\n",
        "3:14: unknown format specifier `o` for field `x`; expected `x`, `X`, `a`, a width like `04x` or none",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nformat = \"{x}{y}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.field]]\nname = \"y\"\ntype = \"u8\"\n",
        "3:11: fields `x` and `y` are adjacent and cannot be told apart; put literal text between them",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nformat = \"{x}.{x}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n",
        "3:16: format repeats field `x`",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nformat = \"{x}.{yy}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.field]]\nname = \"y\"\ntype = \"u8\"\n",
        "3:16: format names unknown field `yy`; did you mean `y`?",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\nformat = \"{x\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n",
        "3:11: unclosed `{` in format; write `{{` for a literal brace",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u128\"\n\n[[address.field]]\nname = \"y\"\ntype = \"u8\"\nrange = \"0..=1\"\n",
        "1:1: the fields of `A` need 129 bits together; at most 128 are supported",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"i32\"\n",
        "6:8: unknown field type `i32`; expected `u8`, `u16`, `u32`, `u64` or `u128`",
    ),
    lib(
        "schema",
        "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.pool]]\npattern = \"x=300\"\n",
        "8:1: invalid pool pattern `x=300`: field `x` value 300 is out of range 0..=255",
    ),
    lib("schema", "[[address]]\nname = \"fn\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n", "1:1: type name `fn` is not a valid Rust identifier"),
    lib("schema", "[[address]]\nname = \"A\"\n", "1:1: address type `A` has no fields; add at least one"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u128\"\nrange = \"0..=340282366920938463463374607431768211456\"\n", "7:9: invalid range `0..=340282366920938463463374607431768211456`: `340282366920938463463374607431768211456` is too large"),
    lib("schema", "[[address]]\nname = \"A\"\nformat = \"{}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n", "3:11: format has an empty placeholder; name a field, like `{bus}`\n3:11: format omits field `x`"),
    lib("schema", "[[address]]\nname = \"A\"\nformat = \"x}\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n", "3:12: unmatched `}` in format; write `}}` for a literal brace"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\nrange = 5\n", "7:9: `range` in `[[address.field]]` must be a string like \"0..=31\", found an integer"),
    lib("schema", "address = 1\n", "1:11: `address` must be an array of tables, found an integer; write `[[address]]` sections"),
    lib("schema", "", "1:1: the schema defines no address types; add an `[[address]]` table"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n", "8:1: duplicate address type `A`"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x-y\"\ntype = \"u8\"\n", "4:1: field name `x-y` is not a valid Rust identifier"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.pool]]\npattern = \"x=1..=9\"\n\n[[address.pool]]\npattern = \"x=5\"\n", "11:1: pool `x=5` overlaps pool `x=1..=9`"),
    lib("schema", "[[address]]\nname = \"A\"\n\n[[address.field]]\nname = \"x\"\ntype = \"u8\"\n\n[[address.pool]]\npatern = \"x=1\"\n", "8:1: missing key `pattern` in `[[address.pool]]`\n9:1: unknown key `patern` in `[[address.pool]]`; did you mean `pattern`?"),
    // ----- derive attributes: "tests/ui/PATH.rs" and the first error line of its
    // .stderr (the compile itself is checked by tests/ui.rs) --------------------------
    lib(
        "derive",
        "tests/ui/attr/unknown-key.rs",
        "error: unknown `address` attribute `fromat`; did you mean `format`?",
    ),
    lib(
        "derive",
        "tests/ui/attr/duplicate-key.rs",
        "error: duplicate `address` attribute key `format`",
    ),
    lib(
        "derive",
        "tests/ui/attr/misplaced-key.rs",
        "error: `address` attribute `range` is not allowed on a struct; put it on a field",
    ),
    lib(
        "derive",
        "tests/ui/format/adjacent-fields.rs",
        "error: fields `bus` and `port` are adjacent and cannot be told apart; put literal text between them",
    ),
    lib(
        "derive",
        "tests/ui/format/unknown-specifier.rs",
        "error: unknown format specifier `o` for field `bus`; expected `x`, `X`, `a`, a width like `04x` or none",
    ),
    lib(
        "derive",
        "tests/ui/pool/pool-outside-range.rs",
        "error: invalid pool pattern `bus=0, slot=32`: field `slot` value 32 is out of range 0..=31",
    ),
    lib(
        "derive",
        "tests/ui/range/empty-range.rs",
        "error: field `bus` has an empty range",
    ),
    lib(
        "derive",
        "tests/ui/range/range-beyond-type.rs",
        "error: range 0..=511 of field `bus` does not fit in `u8`; the largest `u8` is 255",
    ),
    lib(
        "derive",
        "tests/ui/shape/unsupported-field-type.rs",
        "error: unsupported field type `i32`; expected `u8`, `u16`, `u32`, `u64` or `u128`",
    ),
    lib(
        "derive",
        "tests/ui/shape/tuple-struct.rs",
        "error: `AddressSpace` cannot be derived for a tuple struct; name the fields",
    ),
    lib(
        "derive",
        "tests/ui/attr/all-errors-at-once.rs",
        "error: unknown `address` attribute `colour` on a struct; expected `format`, `crate`, `pool`",
    ),
    lib(
        "derive",
        "tests/ui/format/omitted-field.rs",
        "error: format omits field `port`",
    ),
    lib(
        "derive",
        "tests/ui/format/repeated-field.rs",
        "error: format repeats field `bus`",
    ),
    lib(
        "derive",
        "tests/ui/format/unknown-field.rs",
        "error: format names unknown field `bux`; did you mean `bus`?",
    ),
    lib(
        "derive",
        "tests/ui/schema/unknown-key.rs",
        "error: tests/ui/schema/unknown-key.toml:3:1: unknown key `fromat` in `[[address]]`; did you mean `format`?",
    ),
    lib(
        "derive",
        "tests/ui/schema/duplicate-field.rs",
        "error: tests/ui/schema/duplicate-field.toml:8:1: duplicate field `bus`",
    ),
    lib(
        "derive",
        "tests/ui/schema/syntax-error.rs",
        "error: tests/ui/schema/syntax-error.toml:5:12: invalid TOML: invalid basic string, expected `\"`",
    ),
    lib(
        "derive",
        "tests/ui/shape/enum.rs",
        "error: `AddressSpace` cannot be derived for an enum; an address type is a struct with named fields",
    ),
    lib(
        "derive",
        "tests/ui/shape/generic-struct.rs",
        "error: `AddressSpace` cannot be derived for a generic struct; address types have no generic parameters",
    ),
    // ----- snapshots: a JSON edit of the snapshot of a PCI allocator with default
    // pools, `vga` on 0000:00:02.0..=0000:00:02.7 and `net0` on 0000:00:03.0:
    // "FIND => REPLACE" applied once to its JSON; restored as DynAllocator,
    // Allocator<PciAddress> (generated) and Allocator<Pci>, which must agree ---------
    lib("snapshot", "\"version\":2 => \"version\":4", "invalid snapshot: unsupported snapshot version 4; this build reads versions 1 to 3"),
    lib(
        "snapshot",
        "domain=0..=65535 => domain=0..=255",
        "invalid snapshot: the snapshot is of address space `domain=0..=255, bus=0..=255, slot=0..=31, function=0..=7`, not `domain=0..=65535, bus=0..=255, slot=0..=31, function=0..=7`",
    ),
    lib("snapshot", "0000:00:03.0 => 0000:00:3.0x", "invalid snapshot: reservation 2: address `0000:00:3.0x`: invalid address `0000:00:3.0x` at column 12: unexpected trailing text `x`"),
    lib(
        "snapshot",
        "{\"first\":\"0000:00:03.0\",\"owner\":\"net0\"} => {\"first\":\"0000:00:03.0\",\"owner\":\"net0\"},{\"first\":\"0000:00:03.0\",\"owner\":\"net1\"}",
        "invalid snapshot: reservation 3 `0000:00:03.0` overlaps an earlier reservation",
    ),
    lib("snapshot", "0000:00:03.0 => 0000:01:03.0", "invalid snapshot: reservation 2 `0000:01:03.0` is not inside the pools"),
    lib("snapshot", "0000:00:03.0 => 0000:00:02.5", "invalid snapshot: reservation 2 `0000:00:02.5` overlaps an earlier reservation"),
    lib("snapshot", "slot=1..=31 => slot=1..=40", "invalid snapshot: pool 1 `domain=0, bus=0, slot=1..=40`: field `slot` value 40 is out of range 0..=31"),
    lib("snapshot", "\"LowestFirst\" => \"Random\"", "unknown variant `Random`, expected one of `LowestFirst`, `NextFit`, `HighestFirst` at line 1 column 99"),
    lib("snapshot", "\"version\":2, => ", "missing field `version` at line 1 column 294"),
    lib("snapshot", "\"last\":\"0000:00:02.7\" => \"last\":\"0000:00:01.7\"", "invalid snapshot: reservation 1 `0000:00:02.0..=0000:00:01.7`: the last address comes before the first"),
    lib("snapshot", "\"policy\":\"LowestFirst\" => \"policy\":\"NextFit\",\"last_choice\":\"zz\"", "invalid snapshot: last choice `zz`: invalid address `zz` at column 1 (field `domain`): expected a hexadecimal digit"),
    // ----- plan files: the plan text, then optionally `\n---state---\n` and the
    // state file's text. The directory holds `pci.toml` and `usb.toml`; the run is
    // `addralloc plan plan.toml --state state.json` ------------------------------------
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\naddress = \"0000:00:03.0\"\n\n[[device]]\nname = \"disk1\"\naddress = \"0000:00:03.0\"\n",
        1,
        "error: address 0000:00:03.0 of `disk1` is already reserved by `net0`\n  --> plan.toml:11:11\n   |\n11 | address = \"0000:00:03.0\"\n   |           ^^^^^^^^^^^^^^\nnote: `net0` reserves it here\n --> plan.toml:7:11\n  |\n7 | address = \"0000:00:03.0\"\n  |           ^^^^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\nspace = \"pcie\"\n",
        1,
        "error: unknown space `pcie`; the spaces are `pci`\n --> plan.toml:7:9\n  |\n7 | space = \"pcie\"\n  |         ^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\naddress = \"0000:00:3g.0\"\n",
        1,
        "error: invalid address `0000:00:3g.0` at column 10 (field `slot`): expected a hexadecimal digit\n --> plan.toml:7:21\n  |\n7 | address = \"0000:00:3g.0\"\n  |                     ^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"nope.toml\"\n",
        1,
        "error: cannot load the schema `nope.toml`: no such file\n --> plan.toml:3:10\n  |\n3 | schema = \"nope.toml\"\n  |          ^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\npolicy = \"best-fit\"\n",
        1,
        "error: unknown policy `best-fit`; did you mean `next-fit`?\n --> plan.toml:4:10\n  |\n4 | policy = \"best-fit\"\n  |          ^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\nblock = \"function=16\"\n",
        1,
        "error: invalid block extent 16 for field `function`: the field has only 8 values (0..=7)\n --> plan.toml:7:9\n  |\n7 | block = \"function=16\"\n  |         ^^^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\n\n[[device]]\nname = \"net0\"\n",
        1,
        "error: `net0` is named twice\n --> plan.toml:9:8\n  |\n9 | name = \"net0\"\n  |        ^^^^^^\nnote: first named here\n --> plan.toml:6:8\n  |\n6 | name = \"net0\"\n  |        ^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nnmae = \"net0\"\n",
        1,
        "error: a `[[device]]` has no `name`\n --> plan.toml:5:1\n  |\n5 | [[device]]\n  | ^^^^^^^^^^\nerror: unknown key `nmae` in a `[[device]]`; did you mean `name`?\n --> plan.toml:6:1\n  |\n6 | nmae = \"net0\"\n  | ^^^^\nerror: the plan `plan.toml` has 2 errors; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\nwithin = \"bus=1\"\n",
        1,
        "error: cannot place `net0` in space `pci`: no free address in `bus=1`\n --> plan.toml:6:8\n  |\n6 | name = \"net0\"\n  |        ^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\ntags = [\"hotplug\"]\n",
        1,
        "error: cannot place `net0` in space `pci`: no pool carries tag `hotplug`\n --> plan.toml:6:8\n  |\n6 | name = \"net0\"\n  |        ^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\nunits = 1.5\n",
        1,
        "error: invalid TOML: `1.5` is not an integer: plan files use no floats or dates\n --> plan.toml:4:9\n  |\n4 | units = 1.5\n  |         ^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\n---state---\n{ not json",
        1,
        "error: the state file `state.json` is unusable: not valid JSON at line 1 column 3: key must be a string at line 1 column 3; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"vga\"\n\n[[device]]\nname = \"net0\"\naddress = \"0000:00:01.0\"\n---state---\n{\n  \"addralloc-plan-state\": 1,\n  \"spaces\": { \"pci\": { \"type\": \"PciAddress\" } },\n  \"assignments\": [\n    { \"device\": \"vga\", \"space\": \"pci\", \"first\": \"0000:00:01.0\", \"last\": \"0000:00:01.0\", \"kind\": \"auto\" }\n  ]\n}\n",
        1,
        "error: address 0000:00:01.0 of `vga` is already reserved by `net0`\n --> plan.toml:6:8\n  |\n6 | name = \"vga\"\n  |        ^^^^^\nnote: `net0` reserves it here\n  --> plan.toml:10:11\n   |\n10 | address = \"0000:00:01.0\"\n   |           ^^^^^^^^^^^^^^\n  = note: `vga` is at 0000:00:01.0 in the state file `state.json`; remove it from the state file to place it again\nerror: the plan `plan.toml` has 1 error; nothing was written\n",
    ),
    run(
        "plan",
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n---state---\n{\n  \"addralloc-plan-state\": 7,\n  \"spaces\": {},\n  \"assignments\": []\n}\n",
        1,
        "error: the state file `state.json` is unusable: state version 7 is not supported; this addralloc reads version 1; nothing was written\n",
    ),
    run("plan", "[[space]]\nname = \"v6\"\nschema = \"ipv6.toml\"\n\n[[space.pool]]\npattern = \"a=0x2001, b=0xdb8\"\n\n[[device]]\nname = \"big\"\nblock = \"e=65536, f=65536\"\n", 1, "error: cannot place `big` in space `v6`: block `e=65536, f=65536` is 4294967296 separate runs (its extents leave gaps between them); at most 1048576 are supported\n --> plan.toml:9:8\n  |\n9 | name = \"big\"\n  |        ^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "scope = \"\"\n[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n", 1, "error: a scope name cannot be empty\n --> plan.toml:1:9\n  |\n1 | scope = \"\"\n  |         ^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\n", 1, "error: a `[[space]]` has no `schema`\n --> plan.toml:1:1\n  |\n1 | [[space]]\n  | ^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"usb\"\nschema = \"usb.toml\"\n", 1, "error: the schema `usb.toml` has several types (`UsbAddress`, `UsbPortAddress`, `UsbHubPortAddress`); say which with `type = \"...\"`\n --> plan.toml:1:1\n  |\n1 | [[space]]\n  | ^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"usb\"\nschema = \"usb.toml\"\ntype = \"Nope\"\n", 1, "error: the schema `usb.toml` has no type `Nope`; its types are `UsbAddress`, `UsbPortAddress`, `UsbHubPortAddress`\n --> plan.toml:4:8\n  |\n4 | type = \"Nope\"\n  |        ^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\ndisk-bus = \"ide\"\n", 1, "error: `disk-bus` needs a drive address type with the fields `controller`, `bus`, `target`, `unit`; `PciAddress` has `domain`, `bus`, `slot`, `function`\n --> plan.toml:4:12\n  |\n4 | disk-bus = \"ide\"\n  |            ^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\nprefer = [\"slot=5\"]\nwithin = \"bus=0\"\n", 1, "error: a device has either `within` or `prefer`, not both; put the constraint into each preference\n --> plan.toml:8:10\n  |\n8 | within = \"bus=0\"\n  |          ^^^^^^^\nnote: the preferences are here\n --> plan.toml:7:11\n  |\n7 | prefer = [\"slot=5\"]\n  |           ^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\naddress = \"0000:00:03.0\"\nblock = \"function=8\"\n\n[[device]]\nname = \"b\"\naddress = \"0000:00:03.5\"\n", 1, "error: address 0000:00:03.5 of `b` is already reserved by `a`\n  --> plan.toml:12:11\n   |\n12 | address = \"0000:00:03.5\"\n   |           ^^^^^^^^^^^^^^\nnote: `a` reserves it here\n --> plan.toml:7:11\n  |\n7 | address = \"0000:00:03.0\"\n  |           ^^^^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[fixed]]\nname = \"host-bridge\"\naddress = \"0000:00:00.0\"\n", 1, "error: cannot place `host-bridge` in space `pci`: address 0000:00:00.0 is outside every pool\n --> plan.toml:7:11\n  |\n7 | address = \"0000:00:00.0\"\n  |           ^^^^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[fixed]]\nname = \"a\"\n", 1, "error: a `[[fixed]]` has no `address`; a fixed reservation is at an address\n --> plan.toml:5:1\n  |\n5 | [[fixed]]\n  | ^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\naddress = \"0000:00:03.3\"\nblock = \"function=8\"\n", 1, "error: the block `function=8` from 0000:00:03.3 runs past the largest `function` (7)\n --> plan.toml:7:11\n  |\n7 | address = \"0000:00:03.3\"\n  |           ^^^^^^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n", 1, "error: space `pci` is defined twice\n --> plan.toml:6:8\n  |\n6 | name = \"pci\"\n  |        ^^^^^\nnote: first defined here\n --> plan.toml:2:8\n  |\n2 | name = \"pci\"\n  |        ^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\ntags = \"pci\"\n", 1, "error: `tags` of a `[[device]]` must be an array of strings, found a string\n --> plan.toml:7:8\n  |\n7 | tags = \"pci\"\n  |        ^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\naddress = \"0000:00:03.0\"\ndisk = \"sda\"\n", 1, "error: a device has either an `address` or a `disk` name, not both\n --> plan.toml:8:8\n  |\n8 | disk = \"sda\"\n  |        ^^^^^\nnote: the address is here\n --> plan.toml:7:11\n  |\n7 | address = \"0000:00:03.0\"\n  |           ^^^^^^^^^^^^^^\nerror: `disk` needs a space with a `disk-bus`; space `pci` has none\n --> plan.toml:8:8\n  |\n8 | disk = \"sda\"\n  |        ^^^^^\nerror: the plan `plan.toml` has 2 errors; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\nprefer = [\"slot=40\"]\n", 1, "error: cannot place `a` in space `pci`: field `slot` value 40 is out of range 0..=31\n --> plan.toml:7:11\n  |\n7 | prefer = [\"slot=40\"]\n  |           ^^^^^^^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    run("plan", "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"a\"\n---state---\n{\"addralloc-plan-state\": 1, \"spaces\": {\"pci\": {\"type\": \"PciAddress\"}}, \"assignments\": [{\"device\": \"a\", \"space\": \"pci\", \"first\": \"zz\", \"last\": \"zz\", \"kind\": \"auto\"}]}\n", 1, "error: the state file `state.json` has an unusable address for `a`: invalid address `zz` at column 1 (field `domain`): expected a hexadecimal digit\n --> plan.toml:6:8\n  |\n6 | name = \"a\"\n  |        ^^^\nerror: the plan `plan.toml` has 1 error; nothing was written\n"),
    // ----- CLI arguments: the arguments, split on spaces, run in the plan directory --
    run("cli", "check /dev/zero", 1, "error: cannot read `/dev/zero`: it is not a regular file (a device, a FIFO or a socket)\nerror: 1 of 1 schema file failed the check\n"),
    run("cli", "plan /dev/null", 1, "error: cannot read `/dev/null`: it is not a regular file (a device, a FIFO or a socket)\n"),
    run("cli", "frobnicate pci.toml", 2, "error: unrecognized subcommand 'frobnicate'\n\nUsage: addralloc <COMMAND>\n\nFor more information, try '--help'.\n"),
    run("cli", "check", 2, "error: the following required arguments were not provided:\n  <FILE>...\n\nUsage: addralloc check <FILE>...\n\nFor more information, try '--help'.\n"),
    run("cli", "describe", 2, "error: the following required arguments were not provided:\n  <FILE>\n\nUsage: addralloc describe <FILE>\n\nFor more information, try '--help'.\n"),
    run("cli", "describe nope.toml", 1, "error: cannot read `nope.toml`: no such file\n"),
    run("cli", "check nope.toml", 1, "error: cannot read `nope.toml`: no such file\nerror: 1 of 1 schema file failed the check\n"),
    run("cli", "plan nope.toml", 1, "error: cannot read `nope.toml`: no such file\n"),
    run("cli", "plan plan.toml --stat s.json", 2, "error: unexpected argument '--stat' found\n\n  tip: a similar argument exists: '--state'\n\nUsage: addralloc plan --state <STATE> <FILE>\n\nFor more information, try '--help'.\n"),
    run("cli", "plan plan.toml --state", 2, "error: a value is required for '--state <STATE>' but none was supplied\n\nFor more information, try '--help'.\n"),
    run("cli", "describe pci.toml extra.toml", 2, "error: unexpected argument 'extra.toml' found\n\nUsage: addralloc describe <FILE>\n\nFor more information, try '--help'.\n"),
    run("cli", "plan --json", 2, "error: the following required arguments were not provided:\n  <FILE>\n\nUsage: addralloc plan --json <FILE>\n\nFor more information, try '--help'.\n"),
    run("cli", "check bad.toml", 1, "error: unknown key `fromat` in `[[address]]`; did you mean `format`?\n --> bad.toml:3:1\n  |\n3 | fromat = \"{port}\"\n  | ^^^^^^\nerror: `bad.toml` has 1 error\nerror: 1 of 1 schema file failed the check\n"),
    run("cli", "describe bad.toml", 1, "error: unknown key `fromat` in `[[address]]`; did you mean `format`?\n --> bad.toml:3:1\n  |\n3 | fromat = \"{port}\"\n  | ^^^^^^\nerror: `bad.toml` has 1 error\n"),
    run("cli", "check .", 1, "error: cannot read `.`: it is a directory\nerror: 1 of 1 schema file failed the check\n"),
    run("cli", "plan pci.toml", 1, "error: unknown key `address` in the plan; the keys are `description`, `scope`, `space`, `fixed`, `device`, `grow`\n --> pci.toml:3:3\n  |\n3 | [[address]]\n  |   ^^^^^^^\nerror: the plan `pci.toml` has 1 error; nothing was written\n"),
    run("cli", "plan plan.toml --state .", 1, "error: cannot read the state file `.`: it is a directory\n"),
];

// ----- the address types --------------------------------------------------------

/// A hand-written PCI address for the typed allocator (as in examples/quickstart.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pci {
    domain: u16,
    bus: u8,
    slot: u8,
    function: u8,
}

impl Address for Pci {
    const FIELDS: &'static [Field] = &[
        Field::new("domain", 0, 0xffff),
        Field::new("bus", 0, 0xff),
        Field::new("slot", 0, 31),
        Field::new("function", 0, 7),
    ];
    fn field(&self, i: usize) -> u128 {
        match i {
            0 => self.domain as u128,
            1 => self.bus as u128,
            2 => self.slot as u128,
            _ => self.function as u128,
        }
    }
    fn from_fields(v: &[u128]) -> Self {
        Pci {
            domain: v[0] as u16,
            bus: v[1] as u8,
            slot: v[2] as u8,
            function: v[3] as u8,
        }
    }
}

impl fmt::Display for Pci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// `0000:00:01.0` as a hand-written `Pci`, through the runtime's parser (the typed
/// pattern and allocator have no parser of their own for a hand-written type).
fn parse_pci(text: &str) -> Result<Pci, addralloc::Error> {
    static PCI: std::sync::OnceLock<Arc<DynType>> = std::sync::OnceLock::new();
    let ty = PCI.get_or_init(|| types()["PciAddress"].clone());
    let a = ty.parse_address(text)?;
    Ok(Pci::from_fields(a.values()))
}

impl std::str::FromStr for Pci {
    type Err = addralloc::Error;
    fn from_str(text: &str) -> Result<Pci, addralloc::Error> {
        parse_pci(text)
    }
}

/// The types `include_schema!` generates: they must say what the runtime says.
mod generated {
    addralloc::include_schema!("../schemas/pci.toml");
    addralloc::include_schema!("../schemas/ipv4.toml");
    addralloc::include_schema!("../schemas/disk-name.toml");
}

/// The message of the generated type's `FromStr`, for the types generated above.
fn generated_parse(ty: &str, text: &str) -> Option<Result<String, String>> {
    fn go<A: std::str::FromStr + fmt::Display>(text: &str) -> Result<String, String>
    where
        A::Err: fmt::Display,
    {
        text.parse::<A>()
            .map(|a| a.to_string())
            .map_err(|e| e.to_string())
    }
    Some(match ty {
        "PciAddress" => go::<generated::PciAddress>(text),
        "Ipv4Address" => go::<generated::Ipv4Address>(text),
        "ScsiDiskName" => go::<generated::ScsiDiskName>(text),
        _ => return None,
    })
}

/// The message of `Pattern<A>::from_str` for the generated types.
fn generated_pattern(ty: &str, text: &str) -> Option<Result<String, String>> {
    fn go<A: Address + std::str::FromStr>(text: &str) -> Result<String, String>
    where
        A::Err: fmt::Display,
    {
        Pattern::<A>::from_text(text)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    }
    Some(match ty {
        "PciAddress" => go::<generated::PciAddress>(text),
        "Ipv4Address" => go::<generated::Ipv4Address>(text),
        _ => return None,
    })
}

const WIDE: &str = "\
[[address]]
name = \"Wide\"
doc = \"One 128-bit field in decimal.\"

[[address.field]]
name = \"v\"
type = \"u128\"
doc = \"The value.\"

[[address]]
name = \"WideHex\"
doc = \"One 128-bit field in hex.\"
format = \"{v:x}\"

[[address.field]]
name = \"v\"
type = \"u128\"
doc = \"The value.\"
";

/// The workspace root (this test lives in the CLI package).
fn root() -> &'static Path {
    match Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        Some(p) => p,
        None => Path::new(".."),
    }
}

/// Every type of the bundled schemas, and `Wide`/`WideHex` (one u128 field).
fn types() -> BTreeMap<String, Arc<DynType>> {
    let mut map = BTreeMap::new();
    let mut texts = vec![WIDE.to_string()];
    for e in std::fs::read_dir(root().join("schemas")).expect("schemas/") {
        let p = e.expect("an entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            texts.push(std::fs::read_to_string(&p).expect("a schema"));
        }
    }
    for text in texts {
        let s = DynSchema::from_toml(&text).expect("a bundled schema loads");
        for t in s.types() {
            map.insert(t.name().to_string(), t.clone());
        }
    }
    map
}

fn split_type(input: &str) -> (&str, &str) {
    input.split_once(' ').unwrap_or((input, ""))
}

/// Collects mismatches so that one run shows all of them.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, case: &Case, actual: &str) {
        if actual != case.expected_message {
            self.0.push(format!(
                "[{}] {:?}\n  expected: {:?}\n  actual:   {:?}",
                case.area, case.input, case.expected_message, actual
            ));
        }
    }
    fn fail(&mut self, case: &Case, why: String) {
        self.0
            .push(format!("[{}] {:?}\n  {why}", case.area, case.input));
    }
    fn finish(self) {
        assert!(self.0.is_empty(), "\n{}\n", self.0.join("\n"));
    }
}

fn rows(area: &str) -> impl Iterator<Item = &'static Case> + '_ {
    CASES.iter().filter(move |c| c.area == area)
}

// ----- the table as a whole -----------------------------------------------------

#[test]
fn the_table_has_at_least_sixty_rows_in_every_area() {
    let mut per_area: BTreeMap<&str, usize> = BTreeMap::new();
    for c in CASES {
        *per_area.entry(c.area).or_default() += 1;
    }
    let areas = [
        "address",
        "pattern",
        "block",
        "allocator",
        "schema",
        "derive",
        "snapshot",
        "plan",
        "cli",
    ];
    for a in areas {
        assert!(
            per_area.get(a).copied().unwrap_or(0) >= 3,
            "{a}: {per_area:?}"
        );
    }
    assert_eq!(per_area.len(), areas.len(), "{per_area:?}");
    assert!(CASES.len() >= 60, "{} rows", CASES.len());
    // No input twice in one area.
    let mut seen = std::collections::BTreeSet::new();
    for c in CASES {
        assert!(
            seen.insert((c.area, c.input)),
            "twice: {} {:?}",
            c.area,
            c.input
        );
    }
}

// ----- addresses, patterns, blocks ----------------------------------------------

#[test]
fn addresses() {
    let types = types();
    let mut r = Report::default();
    for case in rows("address") {
        let (ty, text) = split_type(case.input);
        let result = if ty == "Pci" {
            parse_pci(text).map(|a| a.to_string())
        } else {
            types[ty].parse_address(text).map(|a| a.to_string())
        };
        if let Some(typed) = generated_parse(ty, text) {
            let dynamic = result.clone().map_err(|e| e.to_string());
            if typed != dynamic {
                r.fail(
                    case,
                    format!("generated type: {typed:?}, runtime: {dynamic:?}"),
                );
            }
        }
        match result {
            Ok(a) => r.fail(case, format!("parsed as {a}")),
            Err(e) => r.check(case, &e.to_string()),
        }
    }
    r.finish();
}

#[test]
fn patterns() {
    let types = types();
    let mut r = Report::default();
    for case in rows("pattern") {
        let (ty, text) = split_type(case.input);
        let result = if ty == "Pci" {
            text.parse::<Pattern<Pci>>().map(|p| p.to_string())
        } else {
            types[ty].parse_pattern(text).map(|p| p.to_string())
        };
        if let Some(typed) = generated_pattern(ty, text) {
            let dynamic = result.clone().map_err(|e| e.to_string());
            if typed != dynamic {
                r.fail(
                    case,
                    format!("generated type: {typed:?}, runtime: {dynamic:?}"),
                );
            }
        }
        match result {
            Ok(p) => r.fail(case, format!("parsed as {p}")),
            Err(e) => r.check(case, &e.to_string()),
        }
    }
    r.finish();
}

#[test]
fn blocks() {
    let types = types();
    let mut r = Report::default();
    for case in rows("block") {
        let (ty, text) = split_type(case.input);
        match types[ty].parse_block(text) {
            Ok(b) => r.fail(case, format!("parsed as {:?}", b.extents())),
            Err(e) => r.check(case, &e.to_string()),
        }
    }
    r.finish();
}

// ----- allocator operations -----------------------------------------------------

/// `op[tag] rest` -> (op, tag, rest)
fn op_parts(op: &str) -> (&str, Option<&str>, &str) {
    let (head, rest) = op.split_once(' ').unwrap_or((op, ""));
    match head.split_once('[') {
        Some((name, tag)) => (name, Some(tag.trim_end_matches(']')), rest),
        None => (head, None, rest),
    }
}

fn dyn_op(a: &mut DynAllocator, op: &str) -> Result<(), addralloc::Error> {
    let (name, tag, rest) = op_parts(op);
    let tags: Vec<&str> = tag.into_iter().collect();
    match name {
        "pool" if tags.is_empty() => a.add_pool(rest),
        "pool" => a.add_pool_tagged(rest, &tags),
        "reserve" => match tag {
            Some(owner) => a.owned_by(owner).reserve(rest).map(drop),
            None => a.reserve(rest).map(drop),
        },
        "in" => a.requiring(&tags).reserve(rest).map(drop),
        "first" => a.reserve_first(rest).map(drop),
        "any" => a.reserve_any().map(drop),
        "need" => a.requiring(&tags).reserve_any().map(drop),
        "block" => {
            let (p, b) = rest.split_once(" / ").expect("PATTERN / BLOCK");
            match tag {
                Some(owner) => a.owned_by(owner).reserve_block(p, b).map(drop),
                None => a.reserve_block(p, b).map(drop),
            }
        }
        "release" => a.release(rest),
        "unblock" => {
            let (f, l) = rest.split_once(' ').expect("FIRST LAST");
            let ty = a.ty().clone();
            let block =
                addralloc::dynamic::DynBlockRange::new(ty.parse_address(f)?, ty.parse_address(l)?)
                    .expect("FIRST <= LAST");
            a.release_block(&block)
        }
        "cut" => {
            let (f, l) = rest.split_once(' ').expect("FIRST LAST");
            a.release_range(f, l).map(drop)
        }
        "range" => {
            let (f, l) = rest.split_once(' ').expect("FIRST LAST");
            a.reserve_range(f, l).map(drop)
        }
        _ => panic!("unknown operation {op:?}"),
    }
}

fn typed_op<A>(a: &mut Allocator<A>, op: &str) -> Result<(), addralloc::Error>
where
    A: Address + std::str::FromStr<Err = addralloc::Error>,
{
    let (name, tag, rest) = op_parts(op);
    let tags: Vec<&str> = tag.into_iter().collect();
    match name {
        "pool" if tags.is_empty() => a.add_pool(rest.parse::<Pattern<A>>()?),
        "pool" => a.add_pool_tagged(rest.parse::<Pattern<A>>()?, &tags),
        "reserve" => {
            let addr = rest.parse::<A>()?;
            match tag {
                Some(owner) => a.owned_by(owner).reserve(addr).map(drop),
                None => a.reserve(addr).map(drop),
            }
        }
        "in" => a.requiring(&tags).reserve(rest.parse::<A>()?).map(drop),
        "first" => a.reserve_first(rest.parse::<Pattern<A>>()?).map(drop),
        "any" => a.reserve_any().map(drop),
        "need" => a.requiring(&tags).reserve_any().map(drop),
        "block" => {
            let (p, b) = rest.split_once(" / ").expect("PATTERN / BLOCK");
            let (p, b) = (p.parse::<Pattern<A>>()?, b.parse::<Block<A>>()?);
            match tag {
                Some(owner) => a.owned_by(owner).reserve_block(p, b).map(drop),
                None => a.reserve_block(p, b).map(drop),
            }
        }
        "release" => a.release(rest.parse::<A>()?),
        "unblock" => {
            let (f, l) = rest.split_once(' ').expect("FIRST LAST");
            let block = addralloc::BlockRange::new(f.parse::<A>()?, l.parse::<A>()?)
                .expect("FIRST <= LAST");
            a.release_block(&block)
        }
        "cut" => {
            let (f, l) = rest.split_once(' ').expect("FIRST LAST");
            a.release_range(f.parse::<A>()?, l.parse::<A>()?).map(drop)
        }
        _ => panic!("unknown operation {op:?}"),
    }
}

/// Runs the setup operations, then the last one: its result and the snapshots before
/// and after it.
fn typed_case<A>(
    mut a: Allocator<A>,
    setup: &[&str],
    last: &str,
) -> (Result<(), addralloc::Error>, Snapshot, Snapshot)
where
    A: Address + std::str::FromStr<Err = addralloc::Error>,
{
    for op in setup {
        typed_op(&mut a, op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let before = a.snapshot();
    let result = typed_op(&mut a, last);
    (result, before, a.snapshot())
}

#[test]
fn allocator_operations() {
    let types = types();
    let mut r = Report::default();
    for case in rows("allocator") {
        let mut ops: Vec<&str> = case.input.split("; ").collect();
        let last = ops.pop().expect("an operation");
        let (ty, setup) = split_type(ops.remove(0));
        let outcome = if ty == "Pci" {
            typed_case(Allocator::<Pci>::new(), &ops, last)
        } else if ty == "typed:PciAddress" {
            let a = if setup == "default" {
                generated::PciAddress::default_allocator().expect("pools")
            } else {
                Allocator::new()
            };
            typed_case(a, &ops, last)
        } else {
            let t = types[ty].clone();
            let mut a = if setup == "default" {
                DynAllocator::with_default_pools(t, Policy::LowestFirst).expect("pools")
            } else {
                DynAllocator::new(t, Policy::LowestFirst)
            };
            for op in &ops {
                dyn_op(&mut a, op).unwrap_or_else(|e| panic!("{op}: {e}"));
            }
            let before = a.snapshot();
            let result = dyn_op(&mut a, last);
            (result, before, a.snapshot())
        };
        match outcome {
            (Ok(()), _, _) => r.fail(case, "succeeded".into()),
            (Err(e), before, after) => {
                r.check(case, &e.to_string());
                if before != after {
                    r.fail(
                        case,
                        format!("changed the allocator: {before:?} -> {after:?}"),
                    );
                }
            }
        }
    }
    r.finish();
}

// ----- schema files -------------------------------------------------------------

#[test]
fn schema_files() {
    let mut r = Report::default();
    for case in rows("schema") {
        match DynSchema::from_toml(case.input) {
            Ok(_) => r.fail(case, "loaded".into()),
            Err(diags) => {
                let lines: Vec<String> = diags
                    .iter()
                    .map(|d| match d.line_col(case.input) {
                        Some((l, c)) => format!("{l}:{c}: {}", d.message),
                        None => d.message.clone(),
                    })
                    .collect();
                r.check(case, &lines.join("\n"));
            }
        }
    }
    r.finish();
}

// ----- derive attributes (trybuild UI cases) ------------------------------------

#[test]
fn derive_attributes() {
    let mut r = Report::default();
    for case in rows("derive") {
        let rs = root().join(case.input);
        let stderr = rs.with_extension("stderr");
        if !rs.is_file() {
            r.fail(case, format!("{} does not exist", rs.display()));
            continue;
        }
        match std::fs::read_to_string(&stderr) {
            Ok(text) => {
                let first = text.lines().next().unwrap_or("");
                r.check(case, first);
                if !text.lines().any(|l| l == case.expected_message) {
                    r.fail(case, "not a line of the .stderr".into());
                }
            }
            Err(e) => r.fail(case, format!("{}: {e}", stderr.display())),
        }
    }
    r.finish();
}

// ----- snapshots ----------------------------------------------------------------

#[test]
fn snapshots() {
    let ty = types()["PciAddress"].clone();
    let mut base =
        DynAllocator::with_default_pools(ty.clone(), Policy::LowestFirst).expect("pools");
    base.owned_by("net0")
        .reserve("0000:00:03.0")
        .expect("reserve");
    base.owned_by("vga")
        .reserve_range("0000:00:02.0", "0000:00:02.7")
        .expect("reserve");
    let snap = base.snapshot();
    let json = serde_json::to_string(&snap).expect("json");
    let mut r = Report::default();
    for case in rows("snapshot") {
        let (find, replace) = case.input.split_once(" => ").expect("FIND => REPLACE");
        if !json.contains(find) {
            r.fail(case, format!("{find:?} is not in {json}"));
            continue;
        }
        let bad = json.replacen(find, replace, 1);
        let result = serde_json::from_str::<Snapshot>(&bad)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                // The typed path too: both must say the same.
                let generated = Allocator::<generated::PciAddress>::restore(&s)
                    .map(drop)
                    .map_err(|e| e.to_string());
                let typed = Allocator::<Pci>::restore(&s)
                    .map(drop)
                    .map_err(|e| e.to_string());
                let dynamic = DynAllocator::restore(ty.clone(), &s)
                    .map(drop)
                    .map_err(|e| e.to_string());
                assert_eq!(typed, dynamic, "{}", case.input);
                assert_eq!(generated, dynamic, "{}", case.input);
                dynamic
            });
        match result {
            Ok(()) => r.fail(case, "restored".into()),
            Err(e) => r.check(case, &e),
        }
        if base.snapshot() != snap {
            r.fail(case, "the allocator changed".into());
        }
    }
    r.finish();
}

// ----- plan files and CLI arguments ---------------------------------------------

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("addralloc-bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::copy(root().join("schemas/pci.toml"), dir.join("pci.toml")).expect("pci.toml");
    std::fs::copy(root().join("schemas/usb.toml"), dir.join("usb.toml")).expect("usb.toml");
    std::fs::copy(root().join("schemas/ipv6.toml"), dir.join("ipv6.toml")).expect("ipv6.toml");
    dir
}

fn addralloc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the addralloc binary runs")
}

#[test]
fn plan_files() {
    let mut r = Report::default();
    for (i, case) in rows("plan").enumerate() {
        let dir = scratch(&format!("plan-{i}"));
        let (plan, state) = match case.input.split_once("\n---state---\n") {
            Some((p, s)) => (p, Some(s)),
            None => (case.input, None),
        };
        std::fs::write(dir.join("plan.toml"), plan).expect("plan.toml");
        let state_path = dir.join("state.json");
        if let Some(s) = state {
            std::fs::write(&state_path, s).expect("state.json");
        }
        let o = addralloc(&dir, &["plan", "plan.toml", "--state", "state.json"]);
        r.check(case, &String::from_utf8_lossy(&o.stderr));
        if o.status.code() != Some(case.exit) {
            r.fail(case, format!("exit status {:?}", o.status.code()));
        }
        let after = std::fs::read(&state_path).ok();
        if after.as_deref() != state.map(str::as_bytes) {
            r.fail(case, format!("the state file changed: {after:?}"));
        }
        let files: Vec<String> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        if !o.stdout.is_empty() {
            r.fail(
                case,
                format!("stdout: {:?}", String::from_utf8_lossy(&o.stdout)),
            );
        }
        let expected_files = if state.is_some() { 5 } else { 4 };
        if files.len() != expected_files {
            r.fail(case, format!("files left behind: {files:?}"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    r.finish();
}

#[test]
fn cli_arguments() {
    let dir = scratch("cli");
    std::fs::write(
        dir.join("plan.toml"),
        "[[space]]\nname = \"pci\"\nschema = \"pci.toml\"\n\n[[device]]\nname = \"net0\"\n",
    )
    .expect("plan.toml");
    std::fs::write(
        dir.join("bad.toml"),
        "[[address]]\nname = \"Port\"\nfromat = \"{port}\"\n\n[[address.field]]\nname = \"port\"\ntype = \"u8\"\n",
    )
    .expect("bad.toml");
    let mut r = Report::default();
    for case in rows("cli") {
        let args: Vec<&str> = case.input.split(' ').filter(|a| !a.is_empty()).collect();
        let o = addralloc(&dir, &args);
        r.check(case, &String::from_utf8_lossy(&o.stderr));
        if o.status.code() != Some(case.exit) {
            r.fail(case, format!("exit status {:?}", o.status.code()));
        }
        if !o.stdout.is_empty() {
            r.fail(
                case,
                format!("stdout: {:?}", String::from_utf8_lossy(&o.stdout)),
            );
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let _ = std::fs::remove_dir_all(&dir);
    r.finish();
    assert_eq!(
        files,
        ["bad.toml", "ipv6.toml", "pci.toml", "plan.toml", "usb.toml"],
        "a bad command wrote a file"
    );
}
