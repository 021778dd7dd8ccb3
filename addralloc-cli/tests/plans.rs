//! The bundled plans in `examples/plans/`: each one's exact table, its JSON, and a
//! state file carried from one run to the next.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where `examples/` and `schemas/` are.
fn root() -> &'static Path {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.parent().unwrap_or(cli)
}

fn addralloc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_addralloc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the addralloc binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `plan` on a bundled plan and checks the exact table.
fn table(plan: &str, expected: &str) {
    let o = addralloc(&["plan", &format!("examples/plans/{plan}.toml")]);
    assert_eq!(stderr(&o), "", "{plan}");
    assert_eq!(o.status.code(), Some(0), "{plan}");
    assert_eq!(stdout(&o), expected, "{plan}");
}

#[test]
fn i440fx_table() {
    table(
        "i440fx",
        "\
DEVICE       SPACE  ADDRESS                      KIND\n\
host-bridge  pci    0000:00:00.0..=0000:00:00.7  fixed\n\
isa-bridge   pci    0000:00:01.0                 fixed\n\
ide          pci    0000:00:01.1                 fixed\n\
usb          pci    0000:00:01.2                 fixed\n\
acpi         pci    0000:00:01.3                 fixed\n\
vga          pci    0000:00:02.0..=0000:00:02.7  auto\n\
net0         pci    0000:00:03.0..=0000:00:03.7  explicit\n\
disk0        pci    0000:00:04.0..=0000:00:04.7  auto\n\
disk1        pci    0000:00:05.0..=0000:00:05.7  auto\n\
balloon      pci    0000:00:06.0..=0000:00:06.7  auto\n\
rng          pci    0000:00:1f.0..=0000:00:1f.7  preferred #1\n",
    );
}

#[test]
fn q35_table() {
    table(
        "q35",
        "\
DEVICE      SPACE  ADDRESS                      KIND\n\
mch         pci    0000:00:00.0..=0000:00:00.7  fixed\n\
lpc         pci    0000:00:1f.0                 fixed\n\
sata        pci    0000:00:1f.2                 fixed\n\
smbus       pci    0000:00:1f.3                 fixed\n\
vga         pci    0000:00:01.0..=0000:00:01.7  auto\n\
root-port1  pci    0000:00:02.0                 auto\n\
root-port2  pci    0000:00:02.1                 auto\n\
root-port3  pci    0000:00:02.2                 auto\n\
root-port4  pci    0000:00:02.3                 auto\n\
root-port5  pci    0000:00:02.4                 auto\n\
root-port6  pci    0000:00:02.5                 auto\n\
root-port7  pci    0000:00:02.6                 auto\n\
root-port8  pci    0000:00:02.7                 auto\n\
net0        pci    0000:01:00.0                 auto\n\
disk0       pci    0000:02:00.0                 auto\n\
disk1       pci    0000:06:00.0                 preferred #1\n\
net1        pci    0000:04:00.0                 explicit\n\
balloon     pci    0000:03:00.0                 auto\n\
usb         pci    0000:00:03.0                 auto\n",
    );
}

#[test]
fn disks_table() {
    table(
        "disks",
        "\
DEVICE             SPACE  ADDRESS  KIND\n\
scsi-host-adapter  scsi   0:0:0:7  fixed\n\
sda                scsi   0:0:0:0  disk\n\
sdb                scsi   0:0:0:1  disk\n\
sdh                scsi   0:0:0:8  disk\n\
hda                ide    0:0:0:0  disk\n\
hdc                ide    0:1:0:0  disk\n\
sdi                sata   1:0:0:2  disk\n\
scratch            sata   0:0:0:0  auto\n",
    );
}

#[test]
fn s390_table() {
    table(
        "s390",
        "\
DEVICE          SPACE   ADDRESS    KIND\n\
net0            ccw     fe.0.0000  auto\n\
disk0           ccw     fe.0.0001  auto\n\
virtio-serial0  ccw     fe.0.0002  auto\n\
boot            ccw     fe.0.0100  explicit\n\
disk1           ccw     fe.0.0003  auto\n\
console         serial  0:0:0      fixed\n\
guest-agent     serial  0:0:1      auto\n\
spice-agent     serial  0:0:2      auto\n",
    );
}

#[test]
fn ipam_table() {
    table(
        "ipam",
        "\
DEVICE      SPACE  ADDRESS                     KIND\n\
router      lan    192.168.1.254               fixed\n\
dns         lan    192.168.1.53                explicit\n\
web         lan    192.168.1.2                 auto\n\
db          lan    192.168.1.3                 auto\n\
cache       lan    192.168.1.4                 auto\n\
containers  lan    192.168.1.8..=192.168.1.15  auto\n\
printer     lan    192.168.1.200               preferred #1\n",
    );
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("plans-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A bundled plan, copied into `dir` with its schema paths made absolute.
fn copy_plan(plan: &str, dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join(format!("examples/plans/{plan}.toml")))
        .expect("a bundled plan");
    let schemas = root().join("schemas");
    let text = text.replace("../../schemas", &schemas.display().to_string());
    // The plans' own helper schemas (controller indexes).
    let local = root().join("examples/plans/schemas");
    let text = text.replace("\"schemas/", &format!("\"{}/", local.display()));
    let path = dir.join(format!("{plan}.toml"));
    std::fs::write(&path, edit(text)).expect("a plan copy");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn json_output() {
    let o = addralloc(&["plan", "examples/plans/i440fx.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let rows = v["assignments"].as_array().expect("assignments");
    assert_eq!(rows.len(), 11);
    assert_eq!(
        rows[5],
        serde_json::json!({
            "device": "vga", "space": "pci", "first": "0000:00:02.0",
            "last": "0000:00:02.7", "kind": "auto"
        })
    );
    assert_eq!(rows[10]["kind"], "preferred");
    assert_eq!(rows[10]["preference"], 1);
    assert_eq!(
        v["spaces"],
        serde_json::json!([{
            "space": "pci", "type": "PciAddress",
            // Bus 0: 32 slots of 8 functions; 5 whole slots and 4 + 8 functions used.
            "capacity": "256", "free": "196"
        }])
    );

    let o = addralloc(&["plan", "examples/plans/disks.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["assignments"][3]["disk"], "sdh");
    assert_eq!(v["assignments"][3]["first"], "0:0:0:8");
}

#[test]
fn every_bundled_plan_as_json_matches_its_table() {
    for plan in [
        "i440fx",
        "q35",
        "disks",
        "s390",
        "ipam",
        "i440fx-nics",
        "q35-pcie",
        "virtio-serial",
        "scsi-disks",
        "usb",
        "q35-aggregate",
    ] {
        let path = format!("examples/plans/{plan}.toml");
        let table = stdout(&addralloc(&["plan", &path]));
        let o = addralloc(&["plan", &path, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
        let rows = v["assignments"].as_array().expect("assignments");
        assert_eq!(rows.len() + 1, table.lines().count(), "{plan}");
        for (row, line) in rows.iter().zip(table.lines().skip(1)) {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(row["device"], words[0], "{plan}");
            assert_eq!(row["space"], words[1], "{plan}");
            assert_eq!(row["kind"], words[3], "{plan}");
            let first = row["first"].as_str().unwrap_or_default();
            assert!(words[2].starts_with(first), "{plan}: {line}");
        }
    }
}

#[test]
fn state_carries_over() {
    let dir = scratch("state-carries-over");
    let state = dir.join("leases.json");
    let plan = copy_plan("ipam", &dir, |t| t);
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("a state file"))
            .expect("JSON");
    assert_eq!(first["addralloc-plan-state"], 1);
    assert_eq!(first["spaces"]["lan"]["type"], "Ipv4Address");
    assert_eq!(first["assignments"].as_array().map(Vec::len), Some(7));
    // Only the state file is left: the temporary file was renamed over it.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the scratch directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["ipam.toml", "leases.json"]);

    // `web` leaves, `new` arrives before `db`: `db` and `cache` keep their addresses,
    // `new` takes the first free one, which is `web`'s.
    let plan = copy_plan("ipam", &dir, |t| {
        t.replace(
            "name = \"web\"\ntags = [\"hosts\"]",
            "name = \"new\"\ntags = [\"hosts\"]",
        )
    });
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "\
DEVICE      SPACE  ADDRESS                     KIND\n\
router      lan    192.168.1.254               fixed\n\
dns         lan    192.168.1.53                explicit\n\
new         lan    192.168.1.2                 auto\n\
db          lan    192.168.1.3                 kept\n\
cache       lan    192.168.1.4                 kept\n\
containers  lan    192.168.1.8..=192.168.1.15  kept\n\
printer     lan    192.168.1.200               kept\n\
web         lan    192.168.1.2                 released\n"
    );
    // The state keeps the kinds of the first run.
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("a state file"))
            .expect("JSON");
    let kinds: Vec<&str> = second["assignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .map(|a| a["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "fixed",
            "explicit",
            "auto",
            "auto",
            "auto",
            "auto",
            "preferred"
        ]
    );

    // A third run changes nothing.
    let before = std::fs::read_to_string(&state).expect("a state file");
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("new         lan    192.168.1.2                 kept\n"));
    assert_eq!(
        std::fs::read_to_string(&state).expect("a state file"),
        before
    );
}

#[test]
fn a_new_explicit_address_on_a_kept_device_is_a_conflict() {
    let dir = scratch("kept-conflict");
    let state = dir.join("state.json");
    let plan = copy_plan("ipam", &dir, |t| t);
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = std::fs::read_to_string(&state).expect("a state file");

    // `dns` moves onto `db`'s address from the first run.
    let plan = copy_plan("ipam", &dir, |t| t.replace("192.168.1.53", "192.168.1.3"));
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.starts_with("error: address 192.168.1.3 of `db` is already reserved by `dns`\n"),
        "{err}"
    );
    assert!(err.contains("note: `dns` reserves it here\n"), "{err}");
    assert!(
        err.contains("= note: `db` is at 192.168.1.3 in the state file"),
        "{err}"
    );
    assert!(err.ends_with("; nothing was written\n"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&state).expect("a state file"),
        before
    );
}

#[test]
fn a_failed_plan_writes_no_state() {
    let dir = scratch("failed-plan");
    let state = dir.join("state.json");
    let plan = copy_plan("i440fx", &dir, |t| {
        t.replace("0000:00:03.0", "0000:00:01.0")
    });
    let o = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!state.exists());
    assert_eq!(
        std::fs::read_dir(&dir)
            .expect("the scratch directory")
            .count(),
        1,
        "only the plan"
    );
}

#[test]
fn an_unusable_state_file_is_left_alone() {
    let dir = scratch("bad-state");
    let state = dir.join("state.json");
    for (text, reason) in [
        ("{", "not valid JSON at line 1 column 1"),
        (
            "{\"addralloc-plan-state\": 2}",
            "state version 2 is not supported",
        ),
        ("[1, 2]", "expected a JSON object"),
    ] {
        std::fs::write(&state, text).expect("a state file");
        let o = addralloc(&["plan", "examples/plans/ipam.toml", "--state", s(&state)]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let err = stderr(&o);
        assert!(err.starts_with("error: the state file `"), "{err}");
        assert!(err.contains(reason), "{err}");
        assert!(err.ends_with("; nothing was written\n"), "{err}");
        assert_eq!(std::fs::read_to_string(&state).expect("a state file"), text);
    }
}

/// With `next-fit`, the state file carries the allocator's position: an address given
/// back in one run is not handed straight to a new device in the next.
#[test]
fn next_fit_continues_across_runs() {
    let dir = scratch("next-fit");
    let state = dir.join("state.json");
    let plan = dir.join("plan.toml");
    let write_plan = |devices: &[&str]| {
        let mut text = format!(
            "[[space]]\nname = \"lan\"\nschema = \"{}\"\npolicy = \"next-fit\"\n\
             [[space.pool]]\npattern = \"a=10, b=0, c=0, d=1..=20\"\n",
            root().join("schemas/ipv4.toml").display()
        );
        for d in devices {
            text.push_str(&format!("[[device]]\nname = \"{d}\"\n"));
        }
        std::fs::write(&plan, text).expect("a plan");
    };
    let run = |state: &Path| {
        let o = addralloc(&["plan", s(&plan), "--state", s(state)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };

    write_plan(&["a", "b", "c"]);
    assert_eq!(
        run(&state),
        "\
DEVICE  SPACE  ADDRESS   KIND\n\
a       lan    10.0.0.1  auto\n\
b       lan    10.0.0.2  auto\n\
c       lan    10.0.0.3  auto\n"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("a state file"))
            .expect("JSON");
    let allocator = &saved["spaces"]["lan"]["allocator"];
    assert_eq!(allocator["policy"], "NextFit");
    assert_eq!(allocator["last_choice"], "10.0.0.3");
    assert_eq!(allocator["reservations"][2]["owner"], "c");

    // `c` leaves and `d` arrives: `d` does not get `c`'s address back.
    write_plan(&["a", "b", "d"]);
    let old_state = std::fs::read_to_string(&state).expect("a state file");
    assert_eq!(
        run(&state),
        "\
DEVICE  SPACE  ADDRESS   KIND\n\
a       lan    10.0.0.1  kept\n\
b       lan    10.0.0.2  kept\n\
d       lan    10.0.0.4  auto\n\
c       lan    10.0.0.3  released\n"
    );
    // And across a second run: `d` leaves, `e` takes neither `c`'s nor `d`'s address.
    write_plan(&["a", "b", "e"]);
    assert!(
        run(&state).contains("e       lan    10.0.0.5  auto\n"),
        "{}",
        std::fs::read_to_string(&state).unwrap_or_default()
    );

    // A state file without the allocator (of an earlier addralloc) starts over from
    // the first free address.
    let mut bare: serde_json::Value = serde_json::from_str(&old_state).expect("JSON");
    bare["spaces"]["lan"]
        .as_object_mut()
        .expect("a space")
        .remove("allocator");
    let bare_state = dir.join("bare.json");
    std::fs::write(&bare_state, bare.to_string()).expect("a state file");
    write_plan(&["a", "b", "d"]);
    assert!(run(&bare_state).contains("d       lan    10.0.0.3  auto\n"));
}

#[test]
fn a_state_whose_allocator_fails_its_checks_is_refused() {
    let dir = scratch("bad-allocator");
    let state = dir.join("state.json");
    let o = addralloc(&["plan", "examples/plans/ipam.toml", "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("a state file"))
            .expect("JSON");
    // `lan` is lowest-first, which keeps no next-fit position; give it one to spoil.
    good["spaces"]["lan"]["allocator"]["last_choice"] = "192.168.1.2".into();
    let cases: [(&str, serde_json::Value, &str); 4] = [
        (
            "/spaces/lan/allocator/last_choice",
            "192.168.300.1".into(),
            "space `lan`: invalid snapshot: last choice `192.168.300.1`",
        ),
        (
            "/spaces/lan/allocator/space",
            "a=0..=7, b=0..=255, c=0..=255, d=0..=255".into(),
            "the snapshot is of address space `a=0..=7,",
        ),
        (
            // The router's reservation, outside the pools.
            "/spaces/lan/allocator/reservations/6/first",
            "192.168.1.250".into(),
            "reservation 7 `192.168.1.250` is not inside the pools",
        ),
        (
            "/spaces/lan/allocator/version",
            "one".into(),
            "the `allocator` of space `lan` is not an allocator snapshot",
        ),
    ];
    for (pointer, value, reason) in cases {
        let mut v = good.clone();
        *v.pointer_mut(pointer).expect(pointer) = value;
        let text = v.to_string();
        std::fs::write(&state, &text).expect("a state file");
        let o = addralloc(&["plan", "examples/plans/ipam.toml", "--state", s(&state)]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert_eq!(stdout(&o), "");
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!(
                "error: the state file `{}` is unusable: ",
                s(&state)
            )),
            "{err}"
        );
        assert!(err.contains(reason), "{reason}: {err}");
        assert!(err.ends_with("; nothing was written\n"), "{err}");
        assert_eq!(std::fs::read_to_string(&state).expect("a state file"), text);
    }
}

#[test]
fn a_state_of_another_type_is_refused() {
    let dir = scratch("state-type");
    let state = dir.join("state.json");
    std::fs::write(
        &state,
        r#"{"addralloc-plan-state": 1, "spaces": {"lan": {"type": "MacAddress"}}, "assignments": []}"#,
    )
    .expect("a state file");
    let o = addralloc(&["plan", "examples/plans/ipam.toml", "--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds space `lan` of type `MacAddress`, but the plan's space `lan` has type `Ipv4Address`; use a new state file"),
        "{}",
        stderr(&o)
    );
}

/// 40 NICs on an i440fx: bus 0 has slots 3 to 31 for them, so a pci-bridge is added; it
/// is placed ahead of the NICs (00:03.0, index 1, so bus 1), the NICs fill slots 4 to 31
/// of bus 0 (28 NICs) and then slots 1 to 12 of bus 1.
#[test]
fn i440fx_nics_table() {
    table(
        "i440fx-nics",
        "\
DEVICE       SPACE  ADDRESS                      KIND\n\
host-bridge  pci    0000:00:00.0..=0000:00:00.7  fixed\n\
isa-bridge   pci    0000:00:01.0                 fixed\n\
ide          pci    0000:00:01.1                 fixed\n\
usb          pci    0000:00:01.2                 fixed\n\
acpi         pci    0000:00:01.3                 fixed\n\
vga          pci    0000:00:02.0                 fixed\n\
net0         pci    0000:00:04.0                 auto\n\
net1         pci    0000:00:05.0                 auto\n\
net2         pci    0000:00:06.0                 auto\n\
net3         pci    0000:00:07.0                 auto\n\
net4         pci    0000:00:08.0                 auto\n\
net5         pci    0000:00:09.0                 auto\n\
net6         pci    0000:00:0a.0                 auto\n\
net7         pci    0000:00:0b.0                 auto\n\
net8         pci    0000:00:0c.0                 auto\n\
net9         pci    0000:00:0d.0                 auto\n\
net10        pci    0000:00:0e.0                 auto\n\
net11        pci    0000:00:0f.0                 auto\n\
net12        pci    0000:00:10.0                 auto\n\
net13        pci    0000:00:11.0                 auto\n\
net14        pci    0000:00:12.0                 auto\n\
net15        pci    0000:00:13.0                 auto\n\
net16        pci    0000:00:14.0                 auto\n\
net17        pci    0000:00:15.0                 auto\n\
net18        pci    0000:00:16.0                 auto\n\
net19        pci    0000:00:17.0                 auto\n\
net20        pci    0000:00:18.0                 auto\n\
net21        pci    0000:00:19.0                 auto\n\
net22        pci    0000:00:1a.0                 auto\n\
net23        pci    0000:00:1b.0                 auto\n\
net24        pci    0000:00:1c.0                 auto\n\
net25        pci    0000:00:1d.0                 auto\n\
net26        pci    0000:00:1e.0                 auto\n\
net27        pci    0000:00:1f.0                 auto\n\
net28        pci    0000:01:01.0                 auto\n\
net29        pci    0000:01:02.0                 auto\n\
net30        pci    0000:01:03.0                 auto\n\
net31        pci    0000:01:04.0                 auto\n\
net32        pci    0000:01:05.0                 auto\n\
net33        pci    0000:01:06.0                 auto\n\
net34        pci    0000:01:07.0                 auto\n\
net35        pci    0000:01:08.0                 auto\n\
net36        pci    0000:01:09.0                 auto\n\
net37        pci    0000:01:0a.0                 auto\n\
net38        pci    0000:01:0b.0                 auto\n\
net39        pci    0000:01:0c.0                 auto\n\
pci-bridge0  pci    0000:00:03.0                 added\n\
pci-bridge0  index  1                            added\n\
",
    );
}

/// A second run with the state keeps every address, the added bridge's too, and writes
/// the same state again.
#[test]
fn topology_plans_rerun_keeps_everything() {
    for name in [
        "i440fx-nics",
        "q35-pcie",
        "virtio-serial",
        "scsi-disks",
        "usb",
    ] {
        rerun_keeps_everything(name);
    }
}

fn rerun_keeps_everything(name: &str) {
    let dir = scratch(&format!("{name}-rerun"));
    let state = dir.join("state.json");
    let plan = copy_plan(name, &dir, |t| t);
    let first = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let saved = std::fs::read_to_string(&state).expect("a state file");
    let second = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let (a, b) = (stdout(&first), stdout(&second));
    assert_eq!(a.lines().count(), b.lines().count());
    for (x, y) in a.lines().zip(b.lines()).skip(1) {
        let (x, y): (Vec<&str>, Vec<&str>) = (
            x.split_whitespace().collect(),
            y.split_whitespace().collect(),
        );
        assert_eq!(x[..3], y[..3], "the same device, space and address");
        let kept = if matches!(x[3], "fixed" | "explicit") {
            x[3]
        } else {
            "kept"
        };
        assert_eq!(y[3], kept, "{y:?}");
    }
    assert_eq!(
        std::fs::read_to_string(&state).expect("a state file"),
        saved
    );
}

/// A dozen PCIe devices on q35 and no root port in the plan: each device gets a root
/// port (index N provides bus N), the root ports fill the functions of slot 2 and then
/// of slot 3 (only root ports: VGA's slot 1 keeps its free functions), and one spare
/// root port stays empty.
#[test]
fn q35_pcie_table() {
    table(
        "q35-pcie",
        "\
DEVICE       SPACE  ADDRESS                      KIND\n\
mch          pci    0000:00:00.0..=0000:00:00.7  fixed\n\
lpc          pci    0000:00:1f.0                 fixed\n\
sata         pci    0000:00:1f.2                 fixed\n\
smbus        pci    0000:00:1f.3                 fixed\n\
vga          pci    0000:00:01.0                 auto\n\
net0         pci    0000:01:00.0                 auto\n\
net1         pci    0000:02:00.0                 auto\n\
net2         pci    0000:03:00.0                 auto\n\
disk0        pci    0000:04:00.0                 auto\n\
disk1        pci    0000:05:00.0                 auto\n\
disk2        pci    0000:06:00.0                 auto\n\
disk3        pci    0000:07:00.0                 auto\n\
balloon      pci    0000:08:00.0                 auto\n\
rng          pci    0000:09:00.0                 auto\n\
gpu          pci    0000:0a:00.0                 auto\n\
nvme0        pci    0000:0b:00.0                 auto\n\
nvme1        pci    0000:0c:00.0                 auto\n\
root-port0   pci    0000:00:02.0                 added\n\
root-port0   index  1                            added\n\
root-port1   pci    0000:00:02.1                 added\n\
root-port1   index  2                            added\n\
root-port2   pci    0000:00:02.2                 added\n\
root-port2   index  3                            added\n\
root-port3   pci    0000:00:02.3                 added\n\
root-port3   index  4                            added\n\
root-port4   pci    0000:00:02.4                 added\n\
root-port4   index  5                            added\n\
root-port5   pci    0000:00:02.5                 added\n\
root-port5   index  6                            added\n\
root-port6   pci    0000:00:02.6                 added\n\
root-port6   index  7                            added\n\
root-port7   pci    0000:00:02.7                 added\n\
root-port7   index  8                            added\n\
root-port8   pci    0000:00:03.0                 added\n\
root-port8   index  9                            added\n\
root-port9   pci    0000:00:03.1                 added\n\
root-port9   index  10                           added\n\
root-port10  pci    0000:00:03.2                 added\n\
root-port10  index  11                           added\n\
root-port11  pci    0000:00:03.3                 added\n\
root-port11  index  12                           added\n\
root-port12  pci    0000:00:03.4                 added\n\
root-port12  index  13                           added\n\
",
    );
}

/// 70 channels: 30 ports (1 to 30) on the written controller 0, then controllers 1 and 2
/// are added (slots 4 and 5, indexes 1 and 2) and take 30 and 10.
#[test]
fn virtio_serial_table() {
    table(
        "virtio-serial",
        "\
DEVICE          SPACE   ADDRESS                      KIND\n\
host-bridge     pci     0000:00:00.0..=0000:00:00.7  fixed\n\
isa-bridge      pci     0000:00:01.0                 fixed\n\
vga             pci     0000:00:02.0                 fixed\n\
virtio-serial0  pci     0000:00:03.0                 auto\n\
virtio-serial0  index   0                            explicit\n\
channel0        serial  0:0:1                        auto\n\
channel1        serial  0:0:2                        auto\n\
channel2        serial  0:0:3                        auto\n\
channel3        serial  0:0:4                        auto\n\
channel4        serial  0:0:5                        auto\n\
channel5        serial  0:0:6                        auto\n\
channel6        serial  0:0:7                        auto\n\
channel7        serial  0:0:8                        auto\n\
channel8        serial  0:0:9                        auto\n\
channel9        serial  0:0:10                       auto\n\
channel10       serial  0:0:11                       auto\n\
channel11       serial  0:0:12                       auto\n\
channel12       serial  0:0:13                       auto\n\
channel13       serial  0:0:14                       auto\n\
channel14       serial  0:0:15                       auto\n\
channel15       serial  0:0:16                       auto\n\
channel16       serial  0:0:17                       auto\n\
channel17       serial  0:0:18                       auto\n\
channel18       serial  0:0:19                       auto\n\
channel19       serial  0:0:20                       auto\n\
channel20       serial  0:0:21                       auto\n\
channel21       serial  0:0:22                       auto\n\
channel22       serial  0:0:23                       auto\n\
channel23       serial  0:0:24                       auto\n\
channel24       serial  0:0:25                       auto\n\
channel25       serial  0:0:26                       auto\n\
channel26       serial  0:0:27                       auto\n\
channel27       serial  0:0:28                       auto\n\
channel28       serial  0:0:29                       auto\n\
channel29       serial  0:0:30                       auto\n\
channel30       serial  1:0:1                        auto\n\
channel31       serial  1:0:2                        auto\n\
channel32       serial  1:0:3                        auto\n\
channel33       serial  1:0:4                        auto\n\
channel34       serial  1:0:5                        auto\n\
channel35       serial  1:0:6                        auto\n\
channel36       serial  1:0:7                        auto\n\
channel37       serial  1:0:8                        auto\n\
channel38       serial  1:0:9                        auto\n\
channel39       serial  1:0:10                       auto\n\
channel40       serial  1:0:11                       auto\n\
channel41       serial  1:0:12                       auto\n\
channel42       serial  1:0:13                       auto\n\
channel43       serial  1:0:14                       auto\n\
channel44       serial  1:0:15                       auto\n\
channel45       serial  1:0:16                       auto\n\
channel46       serial  1:0:17                       auto\n\
channel47       serial  1:0:18                       auto\n\
channel48       serial  1:0:19                       auto\n\
channel49       serial  1:0:20                       auto\n\
channel50       serial  1:0:21                       auto\n\
channel51       serial  1:0:22                       auto\n\
channel52       serial  1:0:23                       auto\n\
channel53       serial  1:0:24                       auto\n\
channel54       serial  1:0:25                       auto\n\
channel55       serial  1:0:26                       auto\n\
channel56       serial  1:0:27                       auto\n\
channel57       serial  1:0:28                       auto\n\
channel58       serial  1:0:29                       auto\n\
channel59       serial  1:0:30                       auto\n\
channel60       serial  2:0:1                        auto\n\
channel61       serial  2:0:2                        auto\n\
channel62       serial  2:0:3                        auto\n\
channel63       serial  2:0:4                        auto\n\
channel64       serial  2:0:5                        auto\n\
channel65       serial  2:0:6                        auto\n\
channel66       serial  2:0:7                        auto\n\
channel67       serial  2:0:8                        auto\n\
channel68       serial  2:0:9                        auto\n\
channel69       serial  2:0:10                       auto\n\
virtio-serial1  pci     0000:00:04.0                 added\n\
virtio-serial1  index   1                            added\n\
virtio-serial2  pci     0000:00:05.0                 added\n\
virtio-serial2  index   2                            added\n\
",
    );
}

/// 20 disks on narrow SCSI buses of units 0 to 6: controllers 0, 1, 2 are added (slots
/// 3, 4, 5) and take 7, 7 and 6 disks.
#[test]
fn scsi_disks_table() {
    table(
        "scsi-disks",
        "\
DEVICE       SPACE  ADDRESS                      KIND\n\
host-bridge  pci    0000:00:00.0..=0000:00:00.7  fixed\n\
isa-bridge   pci    0000:00:01.0                 fixed\n\
vga          pci    0000:00:02.0                 fixed\n\
sda          scsi   0:0:0:0                      auto\n\
sdb          scsi   0:0:0:1                      auto\n\
sdc          scsi   0:0:0:2                      auto\n\
sdd          scsi   0:0:0:3                      auto\n\
sde          scsi   0:0:0:4                      auto\n\
sdf          scsi   0:0:0:5                      auto\n\
sdg          scsi   0:0:0:6                      auto\n\
sdh          scsi   1:0:0:0                      auto\n\
sdi          scsi   1:0:0:1                      auto\n\
sdj          scsi   1:0:0:2                      auto\n\
sdk          scsi   1:0:0:3                      auto\n\
sdl          scsi   1:0:0:4                      auto\n\
sdm          scsi   1:0:0:5                      auto\n\
sdn          scsi   1:0:0:6                      auto\n\
sdo          scsi   2:0:0:0                      auto\n\
sdp          scsi   2:0:0:1                      auto\n\
sdq          scsi   2:0:0:2                      auto\n\
sdr          scsi   2:0:0:3                      auto\n\
sds          scsi   2:0:0:4                      auto\n\
sdt          scsi   2:0:0:5                      auto\n\
scsi0        pci    0000:00:03.0                 added\n\
scsi0        index  0                            added\n\
scsi1        pci    0000:00:04.0                 added\n\
scsi1        index  1                            added\n\
scsi2        pci    0000:00:05.0                 added\n\
scsi2        index  2                            added\n\
",
    );
}

/// `--tree` draws each added SCSI controller with the units it provides and the disks
/// in them; the chipset sits on the space's own pools, at the root.
#[test]
fn scsi_disks_tree() {
    let o = addralloc(&["plan", "examples/plans/scsi-disks.toml", "--tree"]);
    assert_eq!(stderr(&o), "");
    assert_eq!(
        stdout(&o),
        concat!(
            "host-bridge  pci 0000:00:00.0..=0000:00:00.7  fixed\n",
            "isa-bridge  pci 0000:00:01.0  fixed\n",
            "vga  pci 0000:00:02.0  fixed\n",
            "scsi0  pci 0000:00:03.0, index 0  added\n",
            "└── scsi: controller=0, bus=0, target=0, unit=0..=6\n",
            "    ├── sda  scsi 0:0:0:0  auto\n",
            "    ├── sdb  scsi 0:0:0:1  auto\n",
            "    ├── sdc  scsi 0:0:0:2  auto\n",
            "    ├── sdd  scsi 0:0:0:3  auto\n",
            "    ├── sde  scsi 0:0:0:4  auto\n",
            "    ├── sdf  scsi 0:0:0:5  auto\n",
            "    └── sdg  scsi 0:0:0:6  auto\n",
            "scsi1  pci 0000:00:04.0, index 1  added\n",
            "└── scsi: controller=1, bus=0, target=0, unit=0..=6\n",
            "    ├── sdh  scsi 1:0:0:0  auto\n",
            "    ├── sdi  scsi 1:0:0:1  auto\n",
            "    ├── sdj  scsi 1:0:0:2  auto\n",
            "    ├── sdk  scsi 1:0:0:3  auto\n",
            "    ├── sdl  scsi 1:0:0:4  auto\n",
            "    ├── sdm  scsi 1:0:0:5  auto\n",
            "    └── sdn  scsi 1:0:0:6  auto\n",
            "scsi2  pci 0000:00:05.0, index 2  added\n",
            "└── scsi: controller=2, bus=0, target=0, unit=0..=6\n",
            "    ├── sdo  scsi 2:0:0:0  auto\n",
            "    ├── sdp  scsi 2:0:0:1  auto\n",
            "    ├── sdq  scsi 2:0:0:2  auto\n",
            "    ├── sdr  scsi 2:0:0:3  auto\n",
            "    ├── sds  scsi 2:0:0:4  auto\n",
            "    └── sdt  scsi 2:0:0:5  auto\n",
        )
    );
}

/// `--json` carries the links: a device names the controller and pool it is in, a
/// controller lists the pools it provides.
#[test]
fn q35_pcie_json_links() {
    let o = addralloc(&["plan", "examples/plans/q35-pcie.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let rows = v["assignments"].as_array().expect("assignments");
    let find = |device: &str, space: &str| {
        rows.iter()
            .find(|r| r["device"] == device && r["space"] == space)
            .unwrap_or_else(|| panic!("{device} in {space}"))
    };
    assert_eq!(
        find("net0", "pci")["parent"],
        serde_json::json!({
            "device": "root-port0",
            "space": "pci",
            "pool": "domain=0, bus=1, slot=0, function=0"
        })
    );
    // root-port1 sits in the functions of slot 2 that root-port0 provides to root ports.
    assert_eq!(
        find("root-port1", "pci")["parent"]["pool"],
        "domain=0, bus=0, slot=2, function=1..=7"
    );
    assert_eq!(
        find("root-port0", "index")["provides"],
        serde_json::json!([
            { "space": "pci", "pattern": "domain=0, bus=1, slot=0, function=0" },
            { "space": "pci", "pattern": "domain=0, bus=0, slot=2, function=1..=7" }
        ])
    );
    assert!(find("vga", "pci").get("parent").is_none());
    // The spare root port provides a bus that nobody is in.
    assert!(!rows
        .iter()
        .any(|r| r["parent"]["pool"] == "domain=0, bus=13, slot=0, function=0"));
}

/// Unplugging a device from the plan file: a re-run with the state releases it, keeps
/// every other address (the added controllers' too, its own now empty), and adds no
/// controller.
#[test]
fn unplugging_from_the_plan_file_keeps_the_rest() {
    let dir = scratch("q35-pcie-unplug");
    let state = dir.join("state.json");
    let plan = copy_plan("q35-pcie", &dir, |t| t);
    let first = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let plan = copy_plan("q35-pcie", &dir, |t| {
        t.replace(
            "[[device]]\nname = \"disk1\"\nspace = \"pci\"\ntags = [\"pcie\"]\n",
            "",
        )
    });
    let second = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let (a, b) = (stdout(&first), stdout(&second));
    let before: Vec<&str> = a.lines().skip(1).collect();
    let after: Vec<&str> = b.lines().skip(1).collect();
    assert_eq!(after.len(), before.len());
    for line in &after {
        let w: Vec<&str> = line.split_whitespace().collect();
        let was = before
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<&str>>())
            .find(|x| x[0] == w[0] && x[1] == w[1])
            .unwrap_or_else(|| panic!("{line}: a new row"));
        assert_eq!(was[2], w[2], "{line}");
        let kind = match (w[0], was[3]) {
            ("disk1", _) => "released",
            (_, "fixed") => "fixed",
            _ => "kept",
        };
        assert_eq!(w[3], kind, "{line}");
    }
}

/// 20 USB input devices on a 4-port root hub and no hub written down: three usb-hubs
/// added (libvirt: ceil((20 - 4 + 1) / 7)), on root ports 1 to 3 ahead of the devices;
/// the first device on root port 4, the others on the hubs' ports depth-first in port
/// order, as libvirt's virDomainUSBAddressFindFreePort takes them.
#[test]
fn usb_table() {
    table(
        "usb",
        "\
DEVICE   SPACE  ADDRESS  KIND\n\
input0   usb    0-4      auto\n\
input1   usb    0-1.1    auto\n\
input2   usb    0-1.2    auto\n\
input3   usb    0-1.3    auto\n\
input4   usb    0-1.4    auto\n\
input5   usb    0-1.5    auto\n\
input6   usb    0-1.6    auto\n\
input7   usb    0-1.7    auto\n\
input8   usb    0-1.8    auto\n\
input9   usb    0-2.1    auto\n\
input10  usb    0-2.2    auto\n\
input11  usb    0-2.3    auto\n\
input12  usb    0-2.4    auto\n\
input13  usb    0-2.5    auto\n\
input14  usb    0-2.6    auto\n\
input15  usb    0-2.7    auto\n\
input16  usb    0-2.8    auto\n\
input17  usb    0-3.1    auto\n\
input18  usb    0-3.2    auto\n\
input19  usb    0-3.3    auto\n\
hub0     usb    0-1      added\n\
hub1     usb    0-2      added\n\
hub2     usb    0-3      added\n",
    );
}

#[test]
fn usb_tree() {
    let o = addralloc(&["plan", "examples/plans/usb.toml", "--tree"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let hub2: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("hub2")).collect();
    assert_eq!(
        hub2,
        [
            "hub2  usb 0-3  added",
            "└── usb: bus=0, p1=3, p2=1..=8, p3=0, p4=0",
            "    ├── input17  usb 0-3.1  auto",
            "    ├── input18  usb 0-3.2  auto",
            "    └── input19  usb 0-3.3  auto",
        ]
    );
}

/// Shared slots by class: the user's GPU at 00:02.0 with its audio at 00:02.1 pushes the
/// root ports to slot 3 (00:03.0, then packed into 00:03.1-4), not to 00:02.2: the GPU
/// provides its slot's other functions to its own functions, as a root port provides
/// its slot's to root ports.
#[test]
fn q35_aggregate_table() {
    table(
        "q35-aggregate",
        "\
DEVICE      SPACE  ADDRESS                      KIND\n\
mch         pci    0000:00:00.0..=0000:00:00.7  fixed\n\
lpc         pci    0000:00:1f.0                 fixed\n\
sata        pci    0000:00:1f.2                 fixed\n\
smbus       pci    0000:00:1f.3                 fixed\n\
vga         pci    0000:00:01.0                 auto\n\
gpu         pci    0000:00:02.0                 explicit\n\
gpu-audio   pci    0000:00:02.1                 auto\n\
net0        pci    0000:01:00.0                 auto\n\
disk0       pci    0000:02:00.0                 auto\n\
disk1       pci    0000:03:00.0                 auto\n\
nvme0       pci    0000:04:00.0                 auto\n\
root-port0  pci    0000:00:03.0                 added\n\
root-port0  index  1                            added\n\
root-port1  pci    0000:00:03.1                 added\n\
root-port1  index  2                            added\n\
root-port2  pci    0000:00:03.2                 added\n\
root-port2  index  3                            added\n\
root-port3  pci    0000:00:03.3                 added\n\
root-port3  index  4                            added\n\
root-port4  pci    0000:00:03.4                 added\n\
root-port4  index  5                            added\n",
    );
}

/// Unplugging USB devices from the plan file: a re-run with the state releases them and
/// keeps every other address, the hubs' too (the emptied hub stays, as a hub in a
/// domain's XML does); plugging a new device in takes the first free port depth-first,
/// with no new hub.
#[test]
fn usb_unplug_and_plug_keep_the_hubs() {
    let dir = scratch("usb-unplug");
    let state = dir.join("state.json");
    let plan = copy_plan("usb", &dir, |t| t);
    let first = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let unplugged = |t: String| {
        let mut t = t;
        for d in ["input5", "input17", "input18", "input19"] {
            t = t.replace(
                &format!("[[device]]\nname = \"{d}\"\nspace = \"usb\"\ntags = [\"usb\"]\n"),
                "",
            );
        }
        t
    };
    let plan = copy_plan("usb", &dir, unplugged);
    let second = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let rows = |o: &Output| -> Vec<Vec<String>> {
        stdout(o)
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    let (before, after) = (rows(&first), rows(&second));
    assert_eq!(after.len(), before.len());
    for w in &after {
        let was = before
            .iter()
            .find(|x| x[0] == w[0])
            .expect("the same devices");
        assert_eq!(was[2], w[2], "{w:?}");
        let kind = if ["input5", "input17", "input18", "input19"].contains(&w[0].as_str()) {
            "released"
        } else {
            "kept"
        };
        assert_eq!(w[3], kind, "{w:?}");
    }
    let plan = copy_plan("usb", &dir, |t| {
        unplugged(t) + "\n[[device]]\nname = \"mouse\"\nspace = \"usb\"\ntags = [\"usb\"]\n"
    });
    let third = addralloc(&["plan", s(&plan), "--state", s(&state)]);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let rows = rows(&third);
    let mouse = rows.iter().find(|r| r[0] == "mouse").expect("mouse placed");
    assert_eq!((mouse[2].as_str(), mouse[3].as_str()), ("0-1.5", "auto"));
    assert!(!rows.iter().any(|r| r[0] == "hub3"), "no new hub");
}
