//! Plan files with linear ranges and prefixes: `examples/plans/ipam-site.toml`.

use std::path::PathBuf;

use addralloc::plan::{Plan, RunOptions};

fn plans_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plans")
}

#[test]
fn the_ipam_plan_places_ranges_and_prefixes() {
    let text = std::fs::read_to_string(plans_dir().join("ipam-site.toml")).unwrap();
    let plan = Plan::from_toml(&text).unwrap();
    let placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    let got: Vec<(String, String, String)> = placed
        .placements()
        .map(|p| (p.device.clone(), p.first.clone(), p.last.clone()))
        .collect();
    let want = [
        ("router", "10.20.0.1", "10.20.0.1"),
        ("dns", "10.20.4.53", "10.20.4.53"),
        ("web", "10.20.4.10", "10.20.4.10"),
        ("db", "10.20.4.11", "10.20.4.11"),
        ("lease0", "10.20.0.250", "10.20.0.250"),
        ("laptop", "10.20.1.0", "10.20.1.0"),
        ("rack1", "10.20.128.0", "10.20.128.255"),
        ("rack2", "10.20.129.0", "10.20.129.255"),
        ("containers", "10.20.200.0", "10.20.200.7"),
        ("printer", "10.20.6.0", "10.20.6.0"),
        ("rack2-web", "10.20.129.0", "10.20.129.0"),
        ("rack2-db", "10.20.129.1", "10.20.129.1"),
    ];
    for (d, f, l) in want {
        assert!(
            got.iter().any(|(gd, gf, gl)| gd == d && gf == f && gl == l),
            "{d}: {f}..={l} not in {got:?}"
        );
    }
}

#[test]
fn bad_ranges_and_prefixes_in_plans_are_errors() {
    for (pattern, words) in [
        ("10.20.0.0/33", "/33 is longer than the 32 bits"),
        ("10.20.1.0/16", "host bits are set"),
        ("10.20.1.5..=10.20.0.250", "reversed"),
    ] {
        let text = format!(
            "[[space]]\nname = \"lan\"\nschema = \"../../schemas/ipv4.toml\"\n\
             [[space.pool]]\npattern = \"{pattern}\"\n[[device]]\nname = \"x\"\n"
        );
        let err = match Plan::from_toml(&text) {
            Err(e) => format!("{e:?}"),
            Ok(p) => match p.run(&RunOptions::new(plans_dir())) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{pattern} was accepted"),
            },
        };
        assert!(err.contains(words), "{pattern}: {err}");
    }
}

#[test]
fn a_block_providing_a_pool_over_itself_nests_and_keeps() {
    let text = std::fs::read_to_string(plans_dir().join("ipam-site.toml")).unwrap();
    let plan = Plan::from_toml(&text).unwrap();
    let mut placed = plan.run(&RunOptions::new(plans_dir())).unwrap();
    let state = placed.state();

    // A re-run from the state keeps every placement.
    let again = plan
        .run(&RunOptions::new(plans_dir()).previous(&state, "state"))
        .unwrap();
    assert_eq!(again.state(), state);

    // The rack cannot go while it holds hosts, and nothing changes.
    let err = placed.remove_device("rack2").unwrap_err().to_string();
    assert!(
        err.contains("rack2-web") || err.contains("rack2-db"),
        "{err}"
    );
    assert_eq!(placed.state(), state);

    // Hosts go, then the rack.
    placed.remove_device("rack2-web").unwrap();
    placed.remove_device("rack2-db").unwrap();
    placed.remove_device("rack2").unwrap();
    assert!(placed.placements().all(|p| p.device != "rack2"));
}
