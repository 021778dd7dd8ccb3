//! The `addralloc` command-line tool: every command with good and bad input, checking
//! the output and the exit status. The bundled plans' tables are in `tests/plans.rs`.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use addralloc::dynamic::{DynAllocator, DynSchema};
use addralloc::schema::Schema;
use addralloc::Policy;

/// The workspace root, where `examples/` and `schemas/` are.
fn root() -> &'static Path {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent().unwrap_or(cli)
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the addralloc binary runs")
}

fn addralloc(args: &[&str]) -> Output {
    run_in(root(), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory holding `files`, with `pci.toml` (the bundled PCI schema).
fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::copy(root().join("schemas/pci.toml"), dir.join("pci.toml")).expect("pci.toml");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("a scratch file");
    }
    dir
}

fn bundled_schemas() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("schemas"))
        .expect("schemas/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

// ----- the bundled schemas -------------------------------------------------------

#[test]
fn every_bundled_schema_loads_documented_with_usable_pools() {
    let files = bundled_schemas();
    assert!(files.len() >= 7, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a schema");
        let schema =
            Schema::from_toml(&text).unwrap_or_else(|e| panic!("{}: {:?}", path.display(), e));
        for t in &schema.types {
            let what = format!("{}: {}", path.display(), t.name);
            assert!(
                t.doc.as_deref().is_some_and(|d| !d.is_empty()),
                "{what}: no doc"
            );
            for f in &t.fields {
                assert!(
                    f.doc.as_deref().is_some_and(|d| !d.is_empty()),
                    "{what}.{}: no doc",
                    f.name
                );
            }
        }
        let dynamic = DynSchema::from_toml(&text).expect("loads at run time");
        for ty in dynamic.types() {
            let alloc = DynAllocator::with_default_pools(ty.clone(), Policy::LowestFirst);
            assert!(alloc.is_ok(), "{}: {:?}", ty.name(), alloc.err());
        }
    }
}

#[test]
fn bundled_schemas_print_and_parse_their_examples() {
    for (file, ty, text) in [
        ("pci.toml", "PciAddress", "0000:00:1f.7"),
        ("drive.toml", "DriveAddress", "0:0:0:1"),
        ("virtio-serial.toml", "VirtioSerialAddress", "0:0:1"),
        ("ccw.toml", "CcwAddress", "fe.0.0001"),
        ("ipv4.toml", "Ipv4Address", "192.168.1.254"),
        ("ipv6.toml", "Ipv6Address", "fe80::1"),
        ("mac.toml", "MacAddress", "52:54:00:12:34:56"),
        ("usb.toml", "UsbAddress", "0-1.2.3"),
        ("usb.toml", "UsbPortAddress", "0-1"),
        ("usb.toml", "UsbHubPortAddress", "0-1.3"),
        ("spapr-vio.toml", "SpaprVioAddress", "0x30000000"),
        ("dimm.toml", "DimmSlotAddress", "0"),
        ("disk-name.toml", "ScsiDiskName", "sdaa"),
        ("disk-name.toml", "IdeDiskName", "hdc"),
        ("disk-name.toml", "VirtioDiskName", "vdb"),
        ("disk-name.toml", "XenDiskName", "xvda"),
        ("vlan.toml", "VlanId", "100"),
        ("vlan.toml", "VxlanVni", "4096"),
    ] {
        let text_of = std::fs::read_to_string(root().join("schemas").join(file)).expect(file);
        let schema = DynSchema::from_toml(&text_of).expect(file);
        let t = schema.get(ty).expect(ty);
        let addr = t
            .parse_address(text)
            .unwrap_or_else(|e| panic!("{ty} {text}: {e}"));
        assert_eq!(addr.to_string(), text, "{ty}");
    }
    // The disk-name types count like `addralloc::disk`.
    let text = std::fs::read_to_string(root().join("schemas/disk-name.toml")).expect("schema");
    let schema = DynSchema::from_toml(&text).expect("schema");
    let sd = schema.get("ScsiDiskName").expect("ScsiDiskName");
    for i in [0u32, 25, 26, 701, 702, 100_000] {
        let name = addralloc::disk::name("sd", i).expect("a disk name");
        assert_eq!(
            sd.parse_address(&name).expect("parses").values(),
            [u128::from(i)]
        );
    }
    // IPv6 reads RFC 4291 text and the format's full form (`text = "ipv6"`).
    let text = std::fs::read_to_string(root().join("schemas/ipv6.toml")).expect("schema");
    let schema = DynSchema::from_toml(&text).expect("schema");
    assert!(schema
        .get("Ipv6Address")
        .expect("ipv6")
        .parse_address("fe80:0:0:0:0:0:0:1")
        .is_ok());
}

// ----- check ---------------------------------------------------------------------

#[test]
fn check_every_bundled_schema() {
    let files: Vec<String> = bundled_schemas()
        .iter()
        .map(|p| {
            format!(
                "schemas/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let o = addralloc(&args);
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), files.len());
    assert!(out.contains("ok: schemas/pci.toml (PciAddress)\n"), "{out}");
    assert!(
        out.contains("ok: schemas/usb.toml (UsbAddress, UsbPortAddress, UsbHubPortAddress)\n"),
        "{out}"
    );
}

#[test]
fn check_shows_file_line_column_and_caret() {
    let bad = "[[address]]\nname = \"Port\"\nformat = \"{bus}:{prot}\"\n\n\
               [[address.field]]\nname = \"bus\"\ntype = \"u8\"\nrange = \"0..=300\"\n\n\
               [[address.field]]\nname = \"port\"\ntype = \"u8\"\n";
    let dir = scratch("check-bad", &[("bad.toml", bad)]);
    let o = run_in(&dir, &["check", "pci.toml", "bad.toml", "missing.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "ok: pci.toml (PciAddress)\n");
    assert_eq!(
        stderr(&o),
        "\
error: format names unknown field `prot`; did you mean `port`?
 --> bad.toml:3:18
  |
3 | format = \"{bus}:{prot}\"
  |                  ^^^^
error: range 0..=300 of field `bus` does not fit in `u8`; the largest `u8` is 255
 --> bad.toml:8:9
  |
8 | range = \"0..=300\"
  |         ^^^^^^^^^
error: `bad.toml` has 2 errors
error: cannot read `missing.toml`: no such file
error: 2 of 3 schema files failed the check
"
    );
}

#[test]
fn check_reports_toml_syntax_and_non_text() {
    let dir = scratch("check-syntax", &[("syntax.toml", "x = \n")]);
    std::fs::write(dir.join("binary.toml"), [0xff, 0xfe, 0x00, 0x41]).expect("a file");
    let o = run_in(&dir, &["check", "syntax.toml", "binary.toml", "."]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: invalid TOML: "), "{err}");
    assert!(err.contains(" --> syntax.toml:1:5\n"), "{err}");
    assert!(
        err.contains("error: cannot read `binary.toml`: the file is not valid UTF-8 text\n"),
        "{err}"
    );
    assert!(err.contains("error: cannot read `.`: "), "{err}");
    assert!(
        err.ends_with("error: 3 of 3 schema files failed the check\n"),
        "{err}"
    );
}

#[test]
fn check_needs_a_file() {
    let o = addralloc(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("<FILE>..."), "{}", stderr(&o));
}

// ----- describe ------------------------------------------------------------------

#[test]
fn describe_pci() {
    let o = addralloc(&["describe", "schemas/pci.toml"]);
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "\
PciAddress
  A PCI address: `domain:bus:slot.function`, printed `0000:00:1f.7`.
  format:    {domain:04x}:{bus:02x}:{slot:02x}.{function:x}
  addresses: 0000:00:00.0 to ffff:ff:1f.7
  capacity:  4294967296 addresses (32 bits)
  fields:
    domain    u16   0..=65535   16 bits  PCI domain (segment group), `0000` on most machines.
    bus       u8    0..=255      8 bits  Bus number within the domain; bus 0 is the root bus.
    slot      u8    0..=31       5 bits  Slot (device number) on the bus, 0 to 31.
    function  u8    0..=7        3 bits  Function of a multifunction device, 0 to 7.
  pools:
    domain=0, bus=0, slot=1..=31  `pci`  248 addresses
"
    );
}

#[test]
fn describe_several_types_and_128_bits() {
    let o = addralloc(&["describe", "schemas/vlan.toml"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("VlanId\n"), "{out}");
    assert!(out.contains("\n\nVxlanVni\n"), "{out}");
    assert!(
        out.contains("    id=2..=4094  `vlan`  4093 addresses\n"),
        "{out}"
    );

    let o = addralloc(&["describe", "schemas/ipv6.toml"]);
    let out = stdout(&o);
    assert!(
        out.contains("  capacity:  340282366920938463463374607431768211456 addresses (128 bits)\n"),
        "{out}"
    );
    assert!(out.contains("  pools:     none\n"), "{out}");
    assert!(
        out.contains("  addresses: 0:0:0:0:0:0:0:0 to ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"),
        "{out}"
    );
}

#[test]
fn describe_bad_input() {
    let o = addralloc(&["describe", "schemas/nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        "error: cannot read `schemas/nope.toml`: no such file\n"
    );

    let dir = scratch("describe-bad", &[("empty.toml", "")]);
    let o = run_in(&dir, &["describe", "empty.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(
            "error: the schema defines no address types; add an `[[address]]` table\n"
        ),
        "{}",
        stderr(&o)
    );
}

// ----- gen -----------------------------------------------------------------------

const GEN_HEADER: &str = "// The code that `include_schema!(\"schemas/pci.toml\")` generates \
                          (`addralloc gen schemas/pci.toml`).\n\n";

fn rustfmt_on_path() -> bool {
    Command::new("rustfmt")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn gen_prints_formatted_rust() {
    let o = addralloc(&["gen", "schemas/pci.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(GEN_HEADER), "{out}");
    assert!(out.contains("pub struct PciAddress {"), "{out}");
    assert!(
        out.contains("impl ::addralloc::Address for PciAddress {"),
        "{out}"
    );
    if !rustfmt_on_path() {
        assert!(stderr(&o).starts_with("note: "), "{}", stderr(&o));
        return;
    }
    assert_eq!(stderr(&o), "");
    // Doc attributes are doc comments, and rustfmt has nothing left to change.
    assert!(
        out.contains("\n/// A PCI address: `domain:bus:slot.function`"),
        "{out}"
    );
    assert!(!out.contains("#[doc = \" A PCI address"), "{out}");
    let mut check = Command::new("rustfmt")
        .args(["--edition", "2021", "--check"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    {
        use std::io::Write as _;
        let mut stdin = check.stdin.take().expect("stdin");
        stdin.write_all(out.as_bytes()).expect("rustfmt reads");
    }
    let checked = check.wait_with_output().expect("rustfmt ends");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

/// Without rustfmt, the code is printed as the generator made it: the tokens that
/// `include_schema!` expands to.
#[test]
fn gen_without_rustfmt() {
    let o = Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(["gen", "schemas/pci.toml"])
        .current_dir(root())
        .env("PATH", root().join("no-such-directory"))
        .output()
        .expect("the addralloc binary runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "note: `rustfmt` is not on PATH; the code is printed unformatted\n"
    );
    let out = stdout(&o);
    assert!(out.starts_with(GEN_HEADER), "{out}");
    // The same tokens; the compiler spaces them differently.
    {
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(
            squeeze(&out[GEN_HEADER.len()..]),
            squeeze(addralloc::__expand_schema!("../schemas/pci.toml"))
        );
    }
}

/// A broken schema: the errors of `check`, exit status 1, nothing on standard output.
#[test]
fn gen_reports_schema_errors_as_check_does() {
    let bad = "[[address]]\nname = \"X\"\nformat = \"{a}\"\n[[address.field]]\nname = \"a\"\ntype = \"u8\"\nrange = \"0..=300\"\n";
    let dir = scratch("gen-bad", &[("bad.toml", bad), ("syntax.toml", "x = \n")]);
    for file in ["bad.toml", "syntax.toml"] {
        let o = run_in(&dir, &["gen", file]);
        assert_eq!(o.status.code(), Some(1), "{file}");
        assert_eq!(stdout(&o), "", "{file}");
        let checked = run_in(&dir, &["check", file]);
        let summary = "error: 1 of 1 schema file failed the check\n";
        assert_eq!(
            format!("{}{summary}", stderr(&o)),
            stderr(&checked),
            "{file}"
        );
        assert!(
            stderr(&o).contains(&format!(" --> {file}:")),
            "{}",
            stderr(&o)
        );
    }
    let o = addralloc(&["gen", "schemas/nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: cannot read `schemas/nope.toml`: no such file\n"
    );
}

// ----- plan: errors --------------------------------------------------------------

const CONFLICT: &str = r#"[[space]]
name = "pci"
schema = "pci.toml"

[[device]]
name = "net0"
address = "0000:00:03.0"
block = "function=8"

[[device]]
name = "disk1"
address = "0000:00:03.2"

[[device]]
name = "typo"
address = "0000:00:3g.0"
"#;

#[test]
fn plan_conflict_names_both_devices_and_the_address() {
    let dir = scratch("plan-conflict", &[("plan.toml", CONFLICT)]);
    let o = run_in(&dir, &["plan", "plan.toml", "--state", "state.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        "\
error: address 0000:00:03.2 of `disk1` is already reserved by `net0`
  --> plan.toml:12:11
   |
12 | address = \"0000:00:03.2\"
   |           ^^^^^^^^^^^^^^
note: `net0` reserves it here
 --> plan.toml:7:11
  |
7 | address = \"0000:00:03.0\"
  |           ^^^^^^^^^^^^^^
error: invalid address `0000:00:3g.0` at column 10 (field `slot`): expected a hexadecimal digit
  --> plan.toml:16:21
   |
16 | address = \"0000:00:3g.0\"
   |                     ^
error: the plan `plan.toml` has 2 errors; nothing was written
"
    );
    assert!(!dir.join("state.json").exists());
}

#[test]
fn plan_reports_every_key_problem() {
    let plan = r#"[[space]]
name = "pci"
schema = "pci.toml"
polcy = "next-fit"

[[device]]
name = "a"
space = "pcx"

[[device]]
nam = "b"

[[device]]
name = "c"
address = "0000:00:05.0"
within = "slot=4"
"#;
    let dir = scratch("plan-keys", &[("plan.toml", plan)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for (message, at) in [
        (
            "unknown key `polcy` in a `[[space]]`; did you mean `policy`?",
            "plan.toml:4:1",
        ),
        ("unknown space `pcx`; the spaces are `pci`", "plan.toml:8:9"),
        ("a `[[device]]` has no `name`", "plan.toml:10:1"),
        (
            "unknown key `nam` in a `[[device]]`; did you mean `name`?",
            "plan.toml:11:1",
        ),
        (
            "`within` is for automatic placement; this device has a fixed address",
            "plan.toml:16:10",
        ),
    ] {
        assert!(
            err.contains(&format!("error: {message}\n")),
            "{message}\n{err}"
        );
        assert!(err.contains(&format!("--> {at}\n")), "{at}\n{err}");
    }
    assert!(err.ends_with("error: the plan `plan.toml` has 5 errors; nothing was written\n"));
}

#[test]
fn plan_automatic_failures() {
    let plan = r#"[[space]]
name = "pci"
schema = "pci.toml"

[[device]]
name = "hot"
tags = ["hotplug"]

[[device]]
name = "typo"
within = "slto=3"

[[device]]
name = "picky"
prefer = ["slot=1", "slot=0"]

[[device]]
name = "too-big"
block = "function=9"
"#;
    let dir = scratch("plan-auto", &[("plan.toml", plan)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for message in [
        "cannot place `hot` in space `pci`: no pool carries tag `hotplug`",
        "cannot place `typo` in space `pci`: invalid pattern `slto=3`: unknown field `slto`; did you mean `slot`?",
        "invalid block extent 9 for field `function`: the field has only 8 values (0..=7)",
    ] {
        assert!(err.contains(&format!("error: {message}\n")), "{message}\n{err}");
    }
    // `slot=0` is outside the schema's default pool (slots 1-31), `slot=1` is free:
    // `picky` gets it.
    assert!(!err.contains("`picky`"), "{err}");
}

#[test]
fn plan_exhausted_preferences() {
    let plan = r#"[[space]]
name = "pci"
schema = "pci.toml"

[[space.pool]]
pattern = "domain=0, bus=0, slot=1..=2"

[[device]]
name = "a"
block = "function=8"

[[device]]
name = "b"
block = "function=8"
prefer = ["slot=1", "slot=2"]
"#;
    let dir = scratch("plan-exhausted", &[("plan.toml", plan)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
DEVICE  SPACE  ADDRESS                      KIND
a       pci    0000:00:01.0..=0000:00:01.7  auto
b       pci    0000:00:02.0..=0000:00:02.7  preferred #2
"
    );
    let full = plan.replace("slot=1..=2", "slot=1");
    let dir = scratch("plan-exhausted-full", &[("plan.toml", &full)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(
            "error: cannot place `b` in space `pci`: no free block of `function=8` in any of \
             `slot=1`, `slot=2`\n"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plan_schema_problems() {
    let cases = [
        (
            "[[space]]\nname = \"x\"\nschema = \"nope.toml\"\n",
            "error: cannot load the schema `nope.toml`: no such file\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"pci.toml\"\ntype = \"Pci\"\n",
            "error: the schema `pci.toml` has no type `Pci`; its types are `PciAddress`\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"usb.toml\"\n",
            "error: the schema `usb.toml` has several types (`UsbAddress`, `UsbPortAddress`, \
             `UsbHubPortAddress`); say which with `type = \"...\"`\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"usb.toml\"\ntype = \"UsbPortAddress\"\n",
            "error: space `x` has no pools, and type `UsbPortAddress` has no default pools: \
             add a `[[space.pool]]` with a `pattern`\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"pci.toml\"\ndisk-bus = \"sata\"\n",
            "error: `disk-bus` needs a drive address type with the fields `controller`, `bus`, \
             `target`, `unit`; `PciAddress` has `domain`, `bus`, `slot`, `function`\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"pci.toml\"\n[[space.pool]]\npattern = \"slot=1..=40\"\n",
            "error: field `slot` value 40 is out of range 0..=31\n",
        ),
        (
            "[[space]]\nname = \"x\"\nschema = \"pci.toml\"\n[[space.pool]]\npattern = \"bus=0\"\n\
             [[space.pool]]\npattern = \"bus=0, slot=3\"\n",
            "error: pool `bus=0, slot=3` overlaps pool `bus=0`\n",
        ),
        ("", "error: the plan defines no address space: add a `[[space]]` with a `name` and a `schema`\n"),
        ("a = \"x\n", "error: invalid TOML: invalid basic string, expected `\"`\n --> plan.toml:1:7\n"),
        ("n = 1.5\n", "error: invalid TOML: `1.5` is not an integer: plan files use no floats or dates\n"),
    ];
    for (i, (plan, first_line)) in cases.iter().enumerate() {
        let dir = scratch(&format!("plan-schema-{i}"), &[("plan.toml", plan)]);
        std::fs::copy(root().join("schemas/usb.toml"), dir.join("usb.toml")).expect("usb.toml");
        let o = run_in(&dir, &["plan", "plan.toml"]);
        assert_eq!(o.status.code(), Some(1), "{plan}");
        assert_eq!(stdout(&o), "", "{plan}");
        assert!(stderr(&o).starts_with(first_line), "{plan}\n{}", stderr(&o));
        assert!(
            stderr(&o).ends_with("; nothing was written\n"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn plan_disk_names() {
    let plan = r#"[[space]]
name = "ide"
schema = "drive.toml"
disk-bus = "ide"

[[space.pool]]
pattern = "controller=0, bus=0..=1, target=0, unit=0..=1"

[[device]]
disk = "hdc"

[[device]]
name = "cdrom"
disk = "hdc"

[[device]]
disk = "hd1"

[[device]]
disk = "hde"
"#;
    let dir = scratch("plan-disks", &[("plan.toml", plan)]);
    std::fs::copy(root().join("schemas/drive.toml"), dir.join("drive.toml")).expect("drive");
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for message in [
        "address 0:1:0:0 of `cdrom` is already reserved by `hdc`",
        "`hd1` is not a disk name: expected letters a-z after `hd`",
        "cannot place `hde` in space `ide`: address 1:0:0:0 is outside every pool",
    ] {
        assert!(
            err.contains(&format!("error: {message}\n")),
            "{message}\n{err}"
        );
    }
}

#[test]
fn plan_usage_errors() {
    for args in [
        &["plan"][..],
        &["plan", "a.toml", "b.toml"],
        &["plan", "--frob", "a"],
        &["frob"],
    ] {
        let o = addralloc(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with("error: "), "{args:?}");
    }
    let o = addralloc(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    for cmd in ["check", "describe", "gen", "plan"] {
        assert!(stdout(&o).contains(cmd), "{cmd}");
    }
}

/// No input makes the tool panic (exit status 101): every prefix of a bundled plan, and
/// garbage.
#[test]
fn plan_never_panics() {
    let text = std::fs::read_to_string(root().join("examples/plans/disks.toml"))
        .expect("a bundled plan")
        .replace("../../schemas/", "");
    let dir = scratch("plan-fuzz", &[]);
    std::fs::copy(root().join("schemas/drive.toml"), dir.join("drive.toml")).expect("drive");
    let mut inputs: Vec<Vec<u8>> = (0..text.len())
        .step_by(23)
        .map(|n| text.as_bytes()[..n].to_vec())
        .collect();
    inputs.push(b"[[[\n".to_vec());
    inputs.push(b"[[space]]\nname = {a = [1, [2, {b = \"\\u00e9\"}]]}\n".to_vec());
    inputs.push(b"a = \"\\uD800\"\n".to_vec());
    inputs.push(b"a.b.c = 1\na.b = 2\n".to_vec());
    inputs.push(b"[a]\nb = 1\n[a.b]\n".to_vec());
    inputs.push(b"x = 0x\ny = -0\nz = 99999999999999999999999999999999999999999\n".to_vec());
    inputs.push(vec![0xc3, 0x28, b'\n']);
    inputs.push(
        "device = \"é\"\n[[device]]\r\nname = \"é\"\r\n"
            .as_bytes()
            .to_vec(),
    );
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(dir.join("plan.toml"), input).expect("a plan");
        let o = run_in(&dir, &["plan", "plan.toml"]);
        let code = o.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "input {i} {:?}: {code:?}\n{}",
            String::from_utf8_lossy(input),
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "input {i}");
    }
}

#[test]
fn plan_policies() {
    let plan = r#"[[space]]
name = "pci"
schema = "pci.toml"
policy = "highest-first"

[[device]]
name = "a"

[[device]]
name = "b"
block = "function=8"

[[device]]
name = "c"
within = "slot=3"
"#;
    let dir = scratch("plan-policy", &[("plan.toml", plan)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
DEVICE  SPACE  ADDRESS                      KIND
a       pci    0000:00:1f.7                 auto
b       pci    0000:00:1e.0..=0000:00:1e.7  auto
c       pci    0000:00:03.7                 auto
"
    );
    let next_fit = plan.replace("highest-first", "next-fit");
    let dir = scratch("plan-policy-next-fit", &[("plan.toml", &next_fit)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("a       pci    0000:00:01.0 "),
        "{}",
        stdout(&o)
    );

    let bad = plan.replace("highest-first", "random");
    let dir = scratch("plan-policy-bad", &[("plan.toml", &bad)]);
    let o = run_in(&dir, &["plan", "plan.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with(
        "error: unknown policy `random`; the policies are `lowest-first`, `next-fit`, `highest-first`\n"
    ));
}

#[test]
fn plan_over_128_bits() {
    let plan = r#"[[space]]
name = "v6"
schema = "ipv6.toml"

[[space.pool]]
pattern = "a=0xfd00, b=0, c=0, d=0"

[[space.pool]]
pattern = "a=0xfe80"
tags = ["link-local"]

[[device]]
name = "gw"
address = "fd00:0:0:0:0:0:0:1"

[[device]]
name = "host"

[[device]]
name = "subnet"
block = "g=1, h=256"

[[device]]
name = "ll"
tags = ["link-local"]
"#;
    let dir = scratch("plan-ipv6", &[("plan.toml", plan)]);
    std::fs::copy(root().join("schemas/ipv6.toml"), dir.join("ipv6.toml")).expect("ipv6");
    let o = run_in(&dir, &["plan", "plan.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let firsts: Vec<&str> = v["assignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .map(|a| a["first"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        firsts,
        [
            // RFC 5952 text: the schema's `text = "ipv6"`.
            "fd00::1",
            "fd00::",
            "fd00::100",
            "fe80::"
        ]
    );
    assert_eq!(v["assignments"][2]["last"], "fd00::1ff");
    // 2^64 + 2^112 addresses in the pools.
    assert_eq!(
        v["spaces"][0]["capacity"],
        (1u128 << 64).wrapping_add(1u128 << 112).to_string()
    );
}

#[test]
fn describe_a_full_128_bit_field() {
    let schema = "[[address]]\nname = \"Big\"\ndoc = \"a whole u128\"\n\
                  [[address.field]]\nname = \"x\"\ntype = \"u128\"\ndoc = \"x\"\n\
                  [[address.pool]]\npattern = \"*\"\n";
    let dir = scratch("describe-big", &[("big.toml", schema)]);
    let o = run_in(&dir, &["describe", "big.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  capacity:  340282366920938463463374607431768211456 addresses (128 bits)\n"),
        "{out}"
    );
    assert!(
        out.contains("    *  untagged  340282366920938463463374607431768211456 addresses\n"),
        "{out}"
    );
}

#[test]
fn plan_errors_as_json() {
    let dir = scratch("plan-json-errors", &[("plan.toml", CONFLICT)]);
    let o = run_in(&dir, &["plan", "plan.toml", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(
        v,
        serde_json::json!({ "errors": [
            {
                "message": "address 0000:00:03.2 of `disk1` is already reserved by `net0`",
                "file": "plan.toml", "line": 12, "column": 11
            },
            {
                "message": "invalid address `0000:00:3g.0` at column 10 (field `slot`): expected a hexadecimal digit",
                "file": "plan.toml", "line": 16, "column": 21
            }
        ]})
    );
    assert!(stderr(&o).contains("error: address 0000:00:03.2 of `disk1`"));
}
