//! The plan library through its public API: single-device changes equal re-runs,
//! scopes sharing a space, bad states, long values in messages, line numbers.

use std::path::PathBuf;

use super::*;

fn plans_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plans")
}

fn bundled(name: &str) -> Plan {
    let text = std::fs::read_to_string(plans_dir().join(format!("{name}.toml"))).unwrap();
    Plan::from_toml(&text).unwrap()
}

const BUNDLED: [&str; 12] = [
    "ipam-site",
    "i440fx",
    "q35",
    "disks",
    "ipam",
    "s390",
    "i440fx-nics",
    "q35-pcie",
    "virtio-serial",
    "scsi-disks",
    "usb",
    "q35-aggregate",
];

/// The first space of a plan (by device), for an added automatic device.
fn first_space(plan: &Plan) -> String {
    plan.model.spaces[0].name.value.clone()
}

#[test]
fn adding_a_device_equals_a_rerun_with_the_state() {
    for name in BUNDLED {
        let plan = bundled(name);
        let opts = RunOptions::new(plans_dir());
        let placed = plan.run(&opts).unwrap();
        let state = placed.state();

        let device = DeviceSpec::new("added", first_space(&plan));
        let mut incremental = plan.run(&opts).unwrap();
        let added = incremental.add_device(device.clone()).unwrap().clone();
        assert_eq!(added.kind, Kind::Auto, "{name}");

        let mut bigger = plan.clone();
        bigger.add_device(device).unwrap();
        let rerun = bigger
            .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
            .unwrap();
        assert_eq!(incremental.state(), rerun.state(), "{name}");
        let again = rerun.placements().find(|p| p.device == "added").unwrap();
        assert_eq!((&again.first, &again.last), (&added.first, &added.last));
    }
}

#[test]
fn removing_a_device_equals_a_rerun_with_the_state() {
    for name in BUNDLED {
        let plan = bundled(name);
        let opts = RunOptions::new(plans_dir());
        let state = plan.run(&opts).unwrap().state();
        let devices: Vec<String> = plan.devices().map(str::to_string).collect();
        for device in &devices {
            let mut incremental = plan.run(&opts).unwrap();
            let mut smaller = plan.clone();
            assert!(smaller.remove_device(device));
            let rerun = smaller.run(&RunOptions::new(plans_dir()).previous(&state, "state"));
            let gone = match incremental.remove_device(device) {
                Ok(gone) => gone,
                Err(_) => {
                    // A controller with devices in its pools: refused, and a re-run
                    // without it fails too (their addresses have no pool).
                    assert_eq!(incremental.state(), state, "{name}: {device}");
                    assert!(rerun.is_err(), "{name}: {device}");
                    continue;
                }
            };
            assert_eq!(gone.kind, Kind::Released);
            assert_eq!(&gone.device, device);
            let rerun = rerun.unwrap();
            assert_eq!(incremental.state(), rerun.state(), "{name}: {device}");
            assert_eq!(rerun.released(), incremental.released(), "{name}: {device}");
            assert_eq!(rerun.released()[0], gone, "{name}: {device}");
        }
    }
}

#[test]
fn a_failed_add_changes_nothing() {
    let plan = bundled("i440fx");
    let mut placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    let before = placed.state();
    // Taken, unknown space, a name used twice, an address that does not parse.
    for d in [
        DeviceSpec::new("x", "pci").address("0000:00:01.0"),
        DeviceSpec::new("x", "nope"),
        DeviceSpec::new("vga", "pci"),
        DeviceSpec::new("x", "pci").address("0000:00:zz.0"),
        DeviceSpec::new("x", "pci").within("slot=40"),
    ] {
        let e = placed.add_device(d.clone()).unwrap_err();
        assert!(
            matches!(&e, PlanError::Problems(p) if !p.is_empty()),
            "{d:?}"
        );
        assert_eq!(placed.state(), before, "{d:?}");
    }
    let e = placed.add_device(DeviceSpec::new("x", "pci").address("0000:00:01.0"));
    assert_eq!(
        e.unwrap_err().to_string(),
        "address 0000:00:01.0 of `x` is already reserved by `isa-bridge`"
    );
    assert!(placed.remove_device("nope").is_err());
    assert_eq!(placed.state(), before);
}

fn shared_plan(scope: &str, devices: &[&str]) -> Plan {
    let mut text = format!(
        "scope = \"{scope}\"\n[[space]]\nname = \"mac\"\nschema = \"../../schemas/mac.toml\"\n\
         [[space.pool]]\npattern = \"a=0x52, b=0x54, c=0, d=0, e=0, f=1..=20\"\n"
    );
    for d in devices {
        text.push_str(&format!("[[device]]\nname = \"{d}\"\n"));
    }
    Plan::from_toml(&text).unwrap()
}

fn addresses(placed: &Placed) -> Vec<(String, String)> {
    placed
        .placements()
        .map(|p| (p.device.clone(), p.first.clone()))
        .collect()
}

#[test]
fn scopes_share_a_space_and_keep_to_their_own_devices() {
    let dir = plans_dir();
    let vm1 = shared_plan("vm1", &["nic0", "nic1"]);
    let s1 = vm1.run(&RunOptions::new(&dir)).unwrap().state();

    // vm2's devices go around vm1's; both are in the state, each with its scope.
    let vm2 = shared_plan("vm2", &["nic0"]);
    let placed2 = vm2.run(&RunOptions::new(&dir).previous(&s1, "s")).unwrap();
    assert_eq!(
        addresses(&placed2),
        [("nic0".to_string(), "52:54:00:00:00:03".to_string())]
    );
    let s2 = placed2.state();
    let scopes: Vec<(Option<&str>, &str, &str)> = s2
        .assignments
        .iter()
        .map(|a| (a.scope.as_deref(), a.device.as_str(), a.first.as_str()))
        .collect();
    assert_eq!(
        scopes,
        [
            (Some("vm1"), "nic0", "52:54:00:00:00:01"),
            (Some("vm1"), "nic1", "52:54:00:00:00:02"),
            (Some("vm2"), "nic0", "52:54:00:00:00:03"),
        ]
    );

    // vm1 drops nic0: only vm1's nic0 is released; vm2's stays, and nic1 keeps its
    // address.
    let vm1_less = shared_plan("vm1", &["nic1"]);
    let placed = vm1_less
        .run(&RunOptions::new(&dir).previous(&s2, "s"))
        .unwrap();
    assert_eq!(placed.released().len(), 1);
    assert_eq!(placed.released()[0].first, "52:54:00:00:00:01");
    let s3 = placed.state();
    assert_eq!(s3.assignments.len(), 2);
    assert!(s3
        .assignments
        .iter()
        .any(|a| a.scope.as_deref() == Some("vm2") && a.first == "52:54:00:00:00:03"));

    // The scope of the options overrides the plan's; JSON keeps scopes.
    let placed = vm1
        .run(&RunOptions::new(&dir).previous(&s3, "s").scope("vm3"))
        .unwrap();
    assert_eq!(placed.scope(), Some("vm3"));
    let firsts: Vec<String> = placed.placements().map(|p| p.first.clone()).collect();
    assert_eq!(firsts, ["52:54:00:00:00:01", "52:54:00:00:00:04"]);
    let s4 = placed.state();
    assert_eq!(State::from_json(&s4.to_json()).unwrap(), s4);

    // An explicit address another scope holds is a conflict naming that device.
    let mut taken = shared_plan("vm4", &[]);
    taken
        .add_device(DeviceSpec::new("nic9", "mac").address("52:54:00:00:00:03"))
        .unwrap();
    let e = taken
        .run(&RunOptions::new(&dir).previous(&s4, "s"))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "address 52:54:00:00:00:03 of `nic9` is already reserved by `vm2/nic0`"
    );
}

#[test]
fn scope_names_are_checked() {
    let e = Plan::from_toml("scope = \"\"\n[[space]]\nname = \"a\"\nschema = \"b\"\n").unwrap_err();
    assert_eq!(e[0].message, "a scope name cannot be empty");
    let mut plan = Plan::new();
    assert!(plan.set_scope("a\nb").is_err());
    assert!(plan.set_scope("x".repeat(129)).is_err());
    plan.set_scope("vm1").unwrap();
    assert_eq!(plan.scope(), Some("vm1"));
}

fn pci_state(last_choice: Option<&str>, first: &str, last: &str) -> String {
    let choice = last_choice
        .map(|c| format!("\"last_choice\": \"{c}\", "))
        .unwrap_or_default();
    format!(
        r#"{{"addralloc-plan-state": 1,
  "spaces": {{"pci": {{"type": "PciAddress", "allocator": {{"version": 1,
    "space": "domain=0..=65535, bus=0..=255, slot=0..=31, function=0..=7",
    "policy": "LowestFirst", {choice}"pools": [{{"pattern": "domain=0, bus=0, slot=1..=31"}}]}}}}}},
  "assignments": [{{"device": "net0", "space": "pci", "first": "{first}", "last": "{last}", "kind": "auto"}}]}}"#
    )
}

#[test]
fn bad_states_are_errors_not_moves() {
    let plan = Plan::from_toml(
        "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n[[device]]\nname = \"net0\"\nblock = \"function=8\"\n",
    )
    .unwrap();
    let dir = plans_dir();
    // A good state keeps the device where it was.
    let good = State::from_json(&pci_state(None, "0000:00:05.0", "0000:00:05.7")).unwrap();
    let placed = plan
        .run(&RunOptions::new(&dir).previous(&good, "s"))
        .unwrap();
    assert_eq!(placed.placements().next().unwrap().kind, Kind::Kept);

    let backwards = State::from_json(&pci_state(None, "0000:00:05.7", "0000:00:05.0")).unwrap();
    let e = plan
        .run(&RunOptions::new(&dir).previous(&backwards, "s"))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "the state file `s` has `last` `0000:00:05.0` before `first` `0000:00:05.7` for `net0`"
    );

    let outside = State::from_json(&pci_state(
        Some("0001:00:01.0"),
        "0000:00:05.0",
        "0000:00:05.7",
    ))
    .unwrap();
    let e = plan
        .run(&RunOptions::new(&dir).previous(&outside, "s"))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "the previous state is unusable: space `pci`: invalid snapshot: the last choice \
         `0001:00:01.0` is outside every pool"
    );
}

#[test]
fn long_values_are_quoted_shortened() {
    let long = "x".repeat(1_000_000);
    let text = format!(
        "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n[[device]]\nname = \"d\"\nwithin = \"{long}\"\n"
    );
    let e = Plan::from_toml(&text)
        .unwrap()
        .run(&RunOptions::new(plans_dir()))
        .err()
        .unwrap();
    let message = e.to_string();
    assert!(
        message.len() < 300,
        "{} bytes: {}",
        message.len(),
        &message[..300]
    );
    assert!(message.contains("(1000000 characters)"), "{message}");
    assert_eq!(quote("short"), "`short`");
    let q = quote(&"a".repeat(100));
    assert_eq!(
        q,
        format!("`{}…{}` (100 characters)", "a".repeat(40), "a".repeat(12))
    );

    // Many preferences: the first 16 are named.
    let prefs: Vec<String> = (0..5000)
        .map(|i| format!("\"bus={}\"", i % 200 + 1))
        .collect();
    let text = format!(
        "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n[[device]]\nname = \"d\"\nprefer = [{}]\n",
        prefs.join(", ")
    );
    let e = Plan::from_toml(&text)
        .unwrap()
        .run(&RunOptions::new(plans_dir()))
        .err()
        .unwrap();
    let message = e.to_string();
    assert!(message.len() < 1000, "{message}");
    assert!(message.contains("more)"), "{message}");
}

#[test]
fn line_numbers_from_an_index_match_counting() {
    let text = "a\n\nbé\r\nlast";
    let source = Source::new(text);
    for at in 0..=text.len() + 2 {
        let naive = {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            (line, text[start..at].chars().count() + 1)
        };
        assert_eq!(source.line_col(at), naive, "{at}");
    }
}

/// Growth of a re-run with the previous state, and of a report of many errors, for
/// doubled inputs (printed, not asserted: `cargo test -p addralloc --lib growth -- --nocapture`).
#[test]
fn growth_for_doubled_inputs() {
    let mut previous = None;
    for n in [2_000usize, 4_000, 8_000] {
        let mut text = String::from(
            "[[space]]\nname = \"ip\"\nschema = \"../../schemas/ipv4.toml\"\n[[space.pool]]\npattern = \"a=10\"\n",
        );
        for i in 0..n {
            text.push_str(&format!(
                "[[device]]\nname = \"host-with-a-long-common-prefix-{i}\"\n"
            ));
        }
        let plan = Plan::from_toml(&text).unwrap();
        let state = plan.run(&RunOptions::new(plans_dir())).unwrap().state();
        let start = std::time::Instant::now();
        let placed = plan
            .run(&RunOptions::new(plans_dir()).previous(&state, "s"))
            .unwrap();
        let rerun = start.elapsed();
        assert_eq!(placed.placements().count(), n);

        let source = Source::new(&text);
        let problems: Vec<Problem> = (0..n)
            .map(|i| Problem::at("m", text.len() * i / n..text.len() * i / n + 1))
            .collect();
        let start = std::time::Instant::now();
        let rendered: usize = problems.iter().map(|p| source.render("f", p).len()).sum();
        let report = start.elapsed();
        assert!(rendered > 0);
        if let Some((r0, p0)) = previous {
            println!(
                "n = {n}: re-run {rerun:?} ({:.1}x), {n} errors rendered {report:?} ({:.1}x)",
                rerun.as_secs_f64() / f64::max(r0, 1e-9),
                report.as_secs_f64() / f64::max(p0, 1e-9)
            );
        }
        previous = Some((rerun.as_secs_f64(), report.as_secs_f64()));
    }
}

#[test]
fn other_scopes_spaces_stay_in_the_state() {
    let dir = plans_dir();
    let plan = |scope: &str| {
        let text = format!(
            "scope = \"{scope}\"\n[[space]]\nname = \"{scope}-pci\"\nschema = \"../../schemas/pci.toml\"\n\
             [[device]]\nname = \"disk0\"\n"
        );
        Plan::from_toml(&text).unwrap()
    };
    let s1 = plan("vm1").run(&RunOptions::new(&dir)).unwrap().state();
    let s2 = plan("vm2")
        .run(&RunOptions::new(&dir).previous(&s1, "s"))
        .unwrap()
        .state();
    let names: Vec<&str> = s2.spaces.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["vm2-pci", "vm1-pci"]);
    let s2 = State::from_json(&s2.to_json()).unwrap();
    let again = plan("vm1")
        .run(&RunOptions::new(&dir).previous(&s2, "s"))
        .unwrap();
    let p = again.placements().next().unwrap();
    assert_eq!((p.kind, p.first.as_str()), (Kind::Kept, "0000:00:01.0"));
    assert!(again.released().is_empty());
}

// Topology: devices with several addresses, controllers, growth.

fn rows(placed: &Placed) -> Vec<(String, String, String, String)> {
    placed
        .placements()
        .map(|p| {
            (
                p.device.clone(),
                p.space.clone(),
                p.address_text(),
                p.kind_text(),
            )
        })
        .collect()
}

fn row(device: &str, space: &str, address: &str, kind: &str) -> (String, String, String, String) {
    (device.into(), space.into(), address.into(), kind.into())
}

#[test]
fn a_device_with_two_addresses_has_a_row_per_space_and_keeps_both() {
    let text = r#"
[[space]]
name = "pci"
schema = "../../schemas/pci.toml"

[[space]]
name = "mac"
schema = "../../schemas/mac.toml"

[[device]]
name = "nic"
space = "pci"

[[device.need]]
space = "mac"

[[device]]
name = "disk"
space = "pci"
"#;
    let plan = Plan::from_toml(text).unwrap();
    let placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    // pci.toml's pool starts at slot 1; mac.toml's at 52:54:00:00:00:00.
    assert_eq!(
        rows(&placed),
        [
            row("nic", "pci", "0000:00:01.0", "auto"),
            row("nic", "mac", "52:54:00:00:00:00", "auto"),
            row("disk", "pci", "0000:00:01.1", "auto"),
        ]
    );
    let state = placed.state();
    let again = plan
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    let kinds: Vec<String> = again.placements().map(|p| p.kind_text()).collect();
    assert_eq!(kinds, ["kept", "kept", "kept"]);
    assert_eq!(again.state(), state);
}

/// A controller built in code: a root port whose index is 5 provides `bus=5, slot=0`
/// tagged for endpoints; an endpoint finds it.
#[test]
fn a_controller_provides_a_pool_from_its_own_values() {
    let pci = crate::schema::Schema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
    let index = crate::schema::Schema::from_toml(include_str!(
        "../../examples/plans/schemas/controller-index.toml"
    ))
    .unwrap();
    let mut plan = Plan::new();
    plan.add_space(
        SpaceSpec::new("pci", pci.types[0].clone()).pool("domain=0, bus=0, slot=1..=31", &[]),
    )
    .unwrap();
    plan.add_space(SpaceSpec::new("index", index.types[0].clone()).pool("index=1..=255", &[]))
        .unwrap();
    plan.add_device(
        DeviceSpec::new("rp", "pci")
            .address("0000:00:02.0")
            .need(NeedSpec::new("index").address("5"))
            .provide(
                "pci",
                "domain=0, bus={index.index}, slot=0, function=0",
                &["pcie"],
            ),
    )
    .unwrap();
    plan.add_device(DeviceSpec::new("nvme", "pci").tags(&["pcie"]))
        .unwrap();
    let mut placed = plan.run(&RunOptions::default()).unwrap();
    assert_eq!(
        rows(&placed),
        [
            row("rp", "pci", "0000:00:02.0", "explicit"),
            row("rp", "index", "5", "explicit"),
            row("nvme", "pci", "0000:05:00.0", "auto"),
        ]
    );
    // The bus takes one endpoint: a second finds no room, and nothing changes.
    let before = placed.state();
    let err = placed
        .add_device(DeviceSpec::new("nvme2", "pci").tags(&["pcie"]))
        .unwrap_err();
    assert!(err.to_string().starts_with("cannot place `nvme2`"), "{err}");
    assert_eq!(placed.state(), before);
}

#[test]
fn removing_a_controller_with_devices_behind_it_is_refused_and_changes_nothing() {
    let plan = bundled("q35-pcie");
    let mut placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    let before = placed.state();
    // root-port0 (00:02.0) provides bus 1, where net0 is, and functions 1-7 of slot 2,
    // where root-port1 to root-port7 are.
    let err = placed.remove_device("root-port0").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove `root-port0`: `net0`, `root-port1`, `root-port2`, `root-port3`, \
         `root-port4`, `root-port5`, `root-port6`, `root-port7` still hold addresses in \
         the pools it provides; remove them first"
    );
    assert_eq!(placed.state(), before);
    assert_eq!(placed.released(), []);
}

#[test]
fn unplugging_the_last_device_then_its_controller_removes_the_pool_and_a_rerun_keeps_the_rest() {
    let plan = bundled("q35-pcie");
    let opts = RunOptions::new(plans_dir());
    let mut placed = plan.run(&opts).unwrap();
    let capacity = |p: &Placed| p.space_counts()[0].capacity.to_u128().unwrap();
    let full = capacity(&placed);
    // nvme1 is alone on bus 12, behind root-port11 (00:03.3, index 12).
    let err = placed.remove_device("root-port11").unwrap_err();
    assert!(err.to_string().contains("`nvme1` still holds"), "{err}");
    placed.remove_device("nvme1").unwrap();
    let gone = placed.remove_device("root-port11").unwrap();
    assert_eq!(
        (gone.space.as_str(), gone.first.as_str(), gone.kind),
        ("pci", "0000:00:03.3", Kind::Released)
    );
    // Bus 12's one address left with its pool; 00:03.3 stays in root-port8's slot group.
    assert_eq!(capacity(&placed), full - 1);
    let state = placed.state();
    assert!(!state.assignments.iter().any(|a| a.device == "root-port11"));

    let mut smaller = plan.clone();
    assert!(smaller.remove_device("nvme1"));
    let rerun = smaller
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    // Every address stays; the spare (root-port12, bus 13) is still empty, so no new
    // root port is added.
    let kept: Vec<(String, String, String)> = rerun
        .placements()
        .map(|p| (p.device.clone(), p.space.clone(), p.address_text()))
        .collect();
    let mut before: Vec<(String, String, String)> = placed
        .placements()
        .map(|p| (p.device.clone(), p.space.clone(), p.address_text()))
        .collect();
    let mut after = kept.clone();
    before.sort();
    after.sort();
    assert_eq!(after, before);
    assert!(rerun
        .placements()
        .all(|p| matches!(p.kind, Kind::Kept | Kind::Fixed)));
    assert_eq!(capacity(&rerun), full - 1);
    assert_eq!(rerun.state(), state);
}

#[test]
fn hot_plug_takes_the_spare_and_a_new_spare_is_added_as_a_rerun_would() {
    let plan = bundled("q35-pcie");
    let opts = RunOptions::new(plans_dir());
    let mut placed = plan.run(&opts).unwrap();
    let state = placed.state();
    let device = DeviceSpec::new("hot0", "pci").tags(&["pcie"]);
    let added = placed.add_device(device.clone()).unwrap().clone();
    // The spare root-port12 has index 13: bus 13.
    assert_eq!(
        (added.first.as_str(), added.kind),
        ("0000:0d:00.0", Kind::Auto)
    );
    let spare: Vec<String> = placed
        .placements()
        .filter(|p| p.device == "root-port13")
        .map(|p| p.address_text())
        .collect();
    assert_eq!(spare, ["0000:00:03.5", "14"]);

    let mut bigger = plan.clone();
    bigger.add_device(device).unwrap();
    let rerun = bigger
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    let addresses = |p: &Placed| {
        let mut v: Vec<(String, String, String)> = p
            .placements()
            .map(|p| (p.device.clone(), p.space.clone(), p.address_text()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(addresses(&rerun), addresses(&placed));
}

#[test]
fn growth_stops_at_the_limit_and_then_nothing_is_placed() {
    let text = std::fs::read_to_string(plans_dir().join("q35-pcie.toml")).unwrap();
    let text = text.replace("limit = 30", "limit = 5");
    let plan = Plan::from_toml(&text).unwrap();
    let Err(PlanError::Problems(problems)) = plan.run(&RunOptions::new(plans_dir())) else {
        panic!("the plan needs 12 root ports")
    };
    let failed: Vec<&str> = problems
        .iter()
        .map(|p| p.message.split('`').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        failed,
        ["disk2", "disk3", "balloon", "rng", "gpu", "nvme0", "nvme1"]
    );
}

#[test]
fn growth_is_deterministic() {
    for name in [
        "i440fx-nics",
        "q35-pcie",
        "virtio-serial",
        "scsi-disks",
        "usb",
    ] {
        let plan = bundled(name);
        let a = plan.run(&RunOptions::new(plans_dir())).unwrap();
        let b = plan.run(&RunOptions::new(plans_dir())).unwrap();
        assert_eq!(rows(&a), rows(&b), "{name}");
        assert_eq!(a.state(), b.state(), "{name}");
    }
}

#[test]
fn pools_are_searched_by_address_or_by_creation() {
    let pci = crate::schema::Schema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
    for (creation, expected) in [(false, "0000:01:00.0"), (true, "0000:05:00.0")] {
        let mut space = SpaceSpec::new("pci", pci.types[0].clone())
            .pool("domain=0, bus=5, slot=0", &[])
            .pool("domain=0, bus=1, slot=0", &[]);
        if creation {
            space = space.creation_order();
        }
        let mut plan = Plan::new();
        plan.add_space(space).unwrap();
        plan.add_device(DeviceSpec::new("dev", "pci")).unwrap();
        let placed = plan.run(&RunOptions::default()).unwrap();
        let first: Vec<String> = placed.placements().map(|p| p.address_text()).collect();
        assert_eq!(first, [expected], "creation order: {creation}");
    }
}

/// Two rules that serve each other's controllers, on a full bus: growth gives up
/// quickly instead of nesting without end, and the plan fails with the device's error.
#[test]
fn rules_that_serve_each_other_end() {
    let text = r#"
[[space]]
name = "pci"
schema = "../../schemas/pci.toml"

[[space.pool]]
pattern = "domain=0, bus=0, slot=1, function=0"

[[space]]
name = "index"
schema = "schemas/controller-index.toml"

[[space.pool]]
pattern = "index=1..=255"

[[device]]
name = "a"
space = "pci"

[[device]]
name = "b"
space = "pci"
"#;
    let mut text = text.to_string();
    for n in ["x", "y", "z"] {
        text.push_str(&format!(
            "\n[[grow]]\nname = \"{n}{{n}}\"\nspace = \"pci\"\nwithin = \"bus=7\"\n\
             [[grow.need]]\nspace = \"index\"\n[[grow.provide]]\nspace = \"pci\"\n\
             pattern = \"domain=0, bus=9, slot={{index.index}}\"\n"
        ));
    }
    let plan = Plan::from_toml(&text).unwrap();
    let start = std::time::Instant::now();
    let Err(PlanError::Problems(problems)) = plan.run(&RunOptions::new(plans_dir())) else {
        panic!("bus 7 has no pool: no controller can be placed")
    };
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("cannot place `b` in space `pci`"),
        "{messages:?}"
    );
}

const USB2: &str = r#"
[[space]]
name = "pci"
schema = "../../schemas/pci.toml"

[[space.pool]]
pattern = "domain=0, bus=0, slot=1..=31"

[[device]]
name = "net0"

# USB2: EHCI at function 7 of a whole free slot, its UHCI companions at 0, 1, 2.
[[device]]
name = "ehci"
block = "function=8"
at = "function=7"

[[device]]
name = "uhci1"
companion-of = "ehci"
offset = "function=0"

[[device]]
name = "uhci2"
companion-of = "ehci"
offset = "function=1"

[[device]]
name = "uhci3"
companion-of = "ehci"
offset = "function=2"

[[device]]
name = "disk0"
within = "slot=2"
"#;

#[test]
fn companions_take_their_offsets_in_their_devices_block() {
    let plan = Plan::from_toml(USB2).unwrap();
    let placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    // Slot 1 has net0 at function 0, so the first whole free slot is 2; functions 3 to
    // 6 are given back, and disk0 takes the first of them.
    assert_eq!(
        rows(&placed),
        [
            row("net0", "pci", "0000:00:01.0", "auto"),
            row("ehci", "pci", "0000:00:02.7", "auto"),
            row("uhci1", "pci", "0000:00:02.0", "auto"),
            row("uhci2", "pci", "0000:00:02.1", "auto"),
            row("uhci3", "pci", "0000:00:02.2", "auto"),
            row("disk0", "pci", "0000:00:02.3", "auto"),
        ]
    );
    let state = placed.state();
    let again = plan
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    let kinds: Vec<String> = again.placements().map(|p| p.kind_text()).collect();
    assert_eq!(kinds, ["kept"; 6]);
    assert_eq!(again.state(), state);
}

#[test]
fn companion_mistakes_are_reported() {
    for (from, to, message) in [
        (
            "offset = \"function=2\"",
            "offset = \"function=1\"",
            "`uhci2` and `uhci3` have the same place 0000:00:02.1 in the block of `ehci`",
        ),
        (
            "offset = \"function=2\"",
            "offset = \"slot=3\"",
            "the offset `slot=3` of `uhci3` is 0000:00:03.0, outside the block \
             0000:00:02.0..=0000:00:02.7 of `ehci`",
        ),
        (
            "offset = \"function=2\"",
            "offset = \"function=2..=3\"",
            "`function=2..=3` gives `function` a range; a place in a block needs one value per field",
        ),
        (
            "companion-of = \"ehci\"\noffset = \"function=2\"",
            "companion-of = \"echi\"\noffset = \"function=2\"",
            "`uhci3` is a companion of `echi`, which the plan does not have",
        ),
    ] {
        let text = USB2.replace(from, to);
        let plan = Plan::from_toml(&text).unwrap();
        let Err(PlanError::Problems(problems)) = plan.run(&RunOptions::new(plans_dir())) else {
            panic!("{to}: the plan must fail")
        };
        // The first problem is the companion's (disk0 may then find slot 2 taken).
        assert_eq!(problems[0].message, message, "{to}");
    }
    let text = USB2.replace("at = \"function=7\"\n", "");
    let plan = Plan::from_toml(&text.replace("block = \"function=8\"\n", "")).unwrap();
    assert!(plan.run(&RunOptions::new(plans_dir())).is_err());
    let problems = Plan::from_toml(&USB2.replace("block = \"function=8\"\n", "")).unwrap_err();
    assert_eq!(
        problems[0].message,
        "`at` is the address a device keeps of its `block`; this device has no `block`"
    );
}

/// libvirt's aggregate slots: a user device at 00:02.0 pushes the root ports to 00:03.0,
/// not 00:02.1, because the other functions of a slot go to root ports only when a root
/// port holds function 0 (a pool it provides to its class).
#[test]
fn a_user_device_in_a_slot_pushes_root_ports_to_the_next_slot() {
    let text = std::fs::read_to_string(plans_dir().join("q35-pcie.toml")).unwrap();
    let text = text.replacen(
        "# An integrated device",
        "[[device]]\nname = \"sound\"\nspace = \"pci\"\naddress = \"0000:00:02.0\"\n\
         tags = [\"root\"]\n\n# An integrated device",
        1,
    );
    let plan = Plan::from_toml(&text).unwrap();
    let placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    let at = |device: &str| {
        placed
            .placements()
            .find(|p| p.device == device && p.space == "pci")
            .map(|p| p.address_text())
            .unwrap()
    };
    assert_eq!(at("sound"), "0000:00:02.0");
    assert_eq!(at("vga"), "0000:00:01.0");
    assert_eq!(at("root-port0"), "0000:00:03.0");
    assert_eq!(at("root-port1"), "0000:00:03.1");
    assert_eq!(at("root-port7"), "0000:00:03.7");
    assert_eq!(at("root-port8"), "0000:00:04.0");
    // Nothing but sound is in slot 2.
    let slot2: Vec<&str> = placed
        .placements()
        .filter(|p| p.first.starts_with("0000:00:02."))
        .map(|p| p.device.as_str())
        .collect();
    assert_eq!(slot2, ["sound"]);
}

/// The topology plans cut short anywhere, or with their numbers changed, never panic:
/// they run or report problems.
#[test]
fn mangled_topology_plans_do_not_panic() {
    for name in [
        "i440fx-nics",
        "q35-pcie",
        "virtio-serial",
        "scsi-disks",
        "usb",
    ] {
        let text = std::fs::read_to_string(plans_dir().join(format!("{name}.toml"))).unwrap();
        let mut variants: Vec<String> = (0..text.len())
            .step_by(97)
            .filter(|&i| text.is_char_boundary(i))
            .map(|i| text[..i].to_string())
            .collect();
        for (from, to) in [
            ("{index.index}", "{index.nope}"),
            ("{index.index}", "{nope.index}"),
            ("{index.index}", "{index.index"),
            ("{n}", "{m}"),
            ("limit = ", "limit = -"),
            ("spare = 1", "spare = 99"),
            ("slot=0", "slot=0..=40"),
            ("index=1..=255", "index=1..=2"),
            ("index=0..=15", "index=0..=0"),
            ("index=0..=7", "index=9..=7"),
        ] {
            variants.push(text.replace(from, to));
        }
        for v in variants {
            if let Ok(plan) = Plan::from_toml(&v) {
                if let Ok(placed) = plan.run(&RunOptions::new(plans_dir())) {
                    let state = placed.state();
                    let _ = plan.run(&RunOptions::new(plans_dir()).previous(&state, "state"));
                }
            }
        }
    }
}

#[test]
fn topology_keys_are_checked() {
    let base = "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n";
    for (extra, message) in [
        (
            "order = \"random\"\n",
            "unknown pool order `random`; the orders are `address`, `creation`, `depth-first`",
        ),
        (
            "[[grow]]\nname = \"bridge\"\n[[grow.provide]]\npattern = \"bus=1\"\n",
            "the `name` of a `[[grow]]` needs `{n}`, the number of each controller it adds",
        ),
        (
            "[[grow]]\nname = \"bridge{n}\"\n",
            "a `[[grow]]` provides no pool: add a `[[grow.provide]]`",
        ),
        (
            "[[grow]]\nname = \"b{n}\"\nlimit = \"2\"\n[[grow.provide]]\npattern = \"bus=1\"\n",
            "`limit` of a `[[grow]]` must be an integer, found a string",
        ),
        (
            "[[device]]\nname = \"d\"\n[[device.provide]]\nspace = \"usb\"\npattern = \"bus=1\"\n",
            "unknown space `usb`; the spaces are `pci`",
        ),
        (
            "[[device]]\nname = \"d\"\n[[device.need]]\nspace = \"pci\"\nwithin = \"bus=0\"\nprefer = [\"bus=1\"]\n",
            "a need has either `within` or `prefer`, not both; put the constraint into each preference",
        ),
        (
            "[[device]]\nname = \"d\"\noffset = \"function=1\"\n",
            "`offset` is for a companion; add `companion-of`",
        ),
    ] {
        let text = format!("{base}{extra}");
        let problems = Plan::from_toml(&text).unwrap_err();
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages, [message], "{extra}");
    }
}

#[test]
fn removing_a_device_with_two_addresses_from_a_plan_removes_both() {
    let mut plan = Plan::from_toml(
        "[[space]]\nname = \"pci\"\nschema = \"../../schemas/pci.toml\"\n\
         [[space]]\nname = \"mac\"\nschema = \"../../schemas/mac.toml\"\n\
         [[device]]\nname = \"nic\"\nspace = \"pci\"\n[[device.need]]\nspace = \"mac\"\n\
         [[device]]\nname = \"disk\"\nspace = \"pci\"\n",
    )
    .unwrap();
    assert_eq!(plan.devices().collect::<Vec<_>>(), ["nic", "disk"]);
    assert!(plan.remove_device("nic"));
    assert_eq!(plan.devices().collect::<Vec<_>>(), ["disk"]);
    let placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    assert_eq!(rows(&placed), [row("disk", "pci", "0000:00:01.0", "auto")]);
}

/// The bundled USB plan with its root hub narrowed to `ports` (`p1=1..=2`) and its first
/// `devices` devices, searched in `order`.
fn usb_variant(ports: &str, devices: usize, order: &str) -> Plan {
    let text = std::fs::read_to_string(plans_dir().join("usb.toml")).unwrap();
    let mut text = text
        .replace("p1=1..=4, p2=0", &format!("p1={ports}, p2=0"))
        .replace("order = \"depth-first\"", &format!("order = \"{order}\""));
    if let Some(cut) = text.find(&format!("[[device]]\nname = \"input{devices}\"")) {
        text.truncate(cut);
    }
    Plan::from_toml(&text).unwrap()
}

fn address_of(placed: &Placed, device: &str) -> String {
    placed
        .placements()
        .find(|p| p.device == device)
        .map(|p| p.address_text())
        .unwrap_or_else(|| panic!("`{device}` is placed"))
}

/// 20 devices on 4 root ports: libvirt adds ceil((20 - 4 + 1) / 7) = 3 hubs, which take
/// root ports 1 to 3 before any device (qemuDomainUSBAddressAddHubs, then
/// virDomainUSBAddressFindFreePort for each device): one device on root port 4, then
/// the hubs' ports in port order.
#[test]
fn usb_hubs_are_added_and_ports_taken_as_libvirt_does() {
    let placed = bundled("usb").run(&RunOptions::new(plans_dir())).unwrap();
    let mut expected = vec![("input0".to_string(), "0-4".to_string())];
    let ports = (1..=8)
        .map(|p| format!("0-1.{p}"))
        .chain((1..=8).map(|p| format!("0-2.{p}")))
        .chain((1..=3).map(|p| format!("0-3.{p}")));
    for (i, port) in ports.enumerate() {
        expected.push((format!("input{}", i + 1), port));
    }
    for (hub, port) in [("hub0", "0-1"), ("hub1", "0-2"), ("hub2", "0-3")] {
        expected.push((hub.to_string(), port.to_string()));
    }
    let got: Vec<(String, String)> = placed
        .placements()
        .map(|p| (p.device.clone(), p.address_text()))
        .collect();
    assert_eq!(got, expected);
    assert!(placed.placements().all(|p| p.kind
        == if p.device.starts_with("hub") {
            Kind::Added
        } else {
            Kind::Auto
        }));
}

/// Two root ports and 20 devices: libvirt's 3 hubs go on root ports 1 and 2 and on the
/// first hub's port 1 (0-1.1); devices then fill the first hub (0-1.2 to 0-1.8), the hub
/// on it (0-1.1.1 to 0-1.1.8) and only then the second hub (0-2.1 to 0-2.5): a hub's
/// sub-hubs are searched right after it. `order = "creation"` searches the second hub,
/// made earlier, first.
#[test]
fn depth_first_order_searches_a_hubs_sub_hubs_before_the_next_hub() {
    let opts = RunOptions::new(plans_dir());
    let placed = usb_variant("1..=2", 20, "depth-first").run(&opts).unwrap();
    for (device, port) in [
        ("hub0", "0-1"),
        ("hub1", "0-2"),
        ("hub-l2-0", "0-1.1"),
        ("input0", "0-1.2"),
        ("input6", "0-1.8"),
        ("input7", "0-1.1.1"),
        ("input14", "0-1.1.8"),
        ("input15", "0-2.1"),
        ("input19", "0-2.5"),
    ] {
        assert_eq!(address_of(&placed, device), port, "{device}");
    }
    let creation = usb_variant("1..=2", 20, "creation").run(&opts).unwrap();
    assert_eq!(address_of(&creation, "hub-l2-0"), "0-1.1");
    assert_eq!(address_of(&creation, "input7"), "0-2.1");
    assert_eq!(address_of(&creation, "input15"), "0-1.1.1");
}

/// One root port: the first hub takes it, and the next hub goes on that hub's port 1
/// (the rule for hubs on hub ports, once no root port is left for another hub ahead of
/// the devices), as libvirt places 12 devices on one port.
#[test]
fn a_hub_goes_on_a_hub_when_the_root_ports_are_taken() {
    let placed = usb_variant("1", 12, "depth-first")
        .run(&RunOptions::new(plans_dir()))
        .unwrap();
    let got: Vec<(String, String)> = placed
        .placements()
        .map(|p| (p.device.clone(), p.address_text()))
        .collect();
    let mut expected: Vec<(String, String)> = (0..7)
        .map(|i| (format!("input{i}"), format!("0-1.{}", i + 2)))
        .collect();
    expected.extend((7..12).map(|i| (format!("input{i}"), format!("0-1.1.{}", i - 6))));
    expected.push(("hub0".into(), "0-1".into()));
    expected.push(("hub-l2-0".into(), "0-1.1".into()));
    assert_eq!(got, expected);
}

/// Removing a hub with devices on its ports is refused, naming them, and changes
/// nothing; once they are unplugged, the hub goes with its ports, and a re-run with the
/// state keeps every other address.
#[test]
fn a_hub_with_devices_behind_it_cannot_be_removed() {
    let plan = bundled("usb");
    let opts = RunOptions::new(plans_dir());
    let mut placed = plan.run(&opts).unwrap();
    let before = placed.state();
    let err = placed.remove_device("hub2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove `hub2`: `input17`, `input18`, `input19` still hold addresses in the \
         pools it provides; remove them first"
    );
    assert_eq!(placed.state(), before);

    let capacity = |p: &Placed| p.space_counts()[0].capacity.to_u128().unwrap();
    let full = capacity(&placed);
    let mut smaller = plan.clone();
    for d in ["input17", "input18", "input19"] {
        placed.remove_device(d).unwrap();
        assert!(smaller.remove_device(d));
    }
    let gone = placed.remove_device("hub2").unwrap();
    assert_eq!((gone.first.as_str(), gone.kind), ("0-3", Kind::Released));
    assert_eq!(
        capacity(&placed),
        full - 8,
        "the hub's 8 ports went with it"
    );

    // The re-run without the three devices keeps every address; the hub the state no
    // longer has is not added again (nothing needs it).
    let state = placed.state();
    let rerun = smaller
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    let mut a: Vec<(String, String)> = rerun
        .placements()
        .map(|p| (p.device.clone(), p.address_text()))
        .collect();
    let mut b: Vec<(String, String)> = placed
        .placements()
        .map(|p| (p.device.clone(), p.address_text()))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(rerun.placements().all(|p| p.kind == Kind::Kept));
}

/// The three pool orders on one space: by address (the lowest free address of all
/// pools), by creation, and depth-first (by each pool's first address).
#[test]
fn pools_are_searched_by_address_by_creation_or_depth_first() {
    let pci = crate::schema::Schema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
    for (order, expected) in [
        ("address", "0000:01:00.1"),
        ("creation", "0000:01:00.1"),
        ("depth-first", "0000:01:01.0"),
    ] {
        // Created first, first address 01:00.1; then 01:00.0 and 01:01.0 (first
        // address 01:00.0, taken by `fixed`).
        let mut space = SpaceSpec::new("pci", pci.types[0].clone())
            .pool("domain=0, bus=1, slot=0, function=1..=7", &[])
            .pool("domain=0, bus=1, slot=0..=1, function=0", &[]);
        space = match order {
            "creation" => space.creation_order(),
            "depth-first" => space.depth_first_order(),
            _ => space,
        };
        let mut plan = Plan::new();
        plan.add_space(space).unwrap();
        plan.add_device(DeviceSpec::new("fixed", "pci").address("0000:01:00.0"))
            .unwrap();
        plan.add_device(DeviceSpec::new("dev", "pci")).unwrap();
        let placed = plan.run(&RunOptions::default()).unwrap();
        assert_eq!(address_of(&placed, "dev"), expected, "{order}");
    }
}

/// The GPU of `q35-aggregate.toml` provides functions 1 to 7 of its slot to its own
/// functions: its audio takes 00:02.1, the root ports start at 00:03.0, and the GPU
/// cannot be removed while its audio function is there.
#[test]
fn a_multi_function_device_keeps_its_slot_from_root_ports() {
    let plan = bundled("q35-aggregate");
    let mut placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    assert_eq!(address_of(&placed, "gpu-audio"), "0000:00:02.1");
    assert_eq!(address_of(&placed, "root-port0"), "0000:00:03.0");
    assert_eq!(address_of(&placed, "root-port4"), "0000:00:03.4");
    let slot2: Vec<&str> = placed
        .placements()
        .filter(|p| p.first.starts_with("0000:00:02."))
        .map(|p| p.device.as_str())
        .collect();
    assert_eq!(slot2, ["gpu", "gpu-audio"]);
    let before = placed.state();
    let err = placed.remove_device("gpu").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove `gpu`: `gpu-audio` still holds addresses in the pools it provides; \
         remove it first"
    );
    assert_eq!(placed.state(), before);
}
