//! A small VM manager that builds a q35 machine in code: the chipset fixed, an
//! integrated VGA, PCIe devices behind root ports that a growth rule adds (packed into
//! the functions of one slot, one spare kept for hot-plug), a NIC with a PCI address and
//! a MAC. It places the machine, hot-plugs two devices, unplugs one, saves the state to
//! a locked file and reloads it: every address stays.
//!
//! Run: `cargo run --example q35_manager`

use std::error::Error;
use std::time::Duration;

use addralloc::plan::{
    DeviceSpec, GrowSpec, NeedSpec, Placed, Plan, RunOptions, SpaceSpec, StateFile,
};
use addralloc::schema::Schema;

fn schema(text: &str) -> Result<Schema, String> {
    Schema::from_toml(text).map_err(|d| d.iter().map(|d| d.message.clone()).collect())
}

/// The machine: which devices it has is the manager's choice; where they go, the plan's.
fn q35(devices: &[&str]) -> Result<Plan, Box<dyn Error>> {
    let pci = schema(include_str!("../schemas/pci.toml"))?;
    let mac = schema(include_str!("../schemas/mac.toml"))?;
    let index = schema(include_str!("plans/schemas/controller-index.toml"))?;
    let mut plan = Plan::new();
    plan.add_space(
        SpaceSpec::new("pci", pci.types[0].clone())
            .pool("domain=0, bus=0, slot=0", &["chipset"])
            .pool("domain=0, bus=0, slot=31", &["chipset"])
            .pool(
                "domain=0, bus=0, slot=1..=30, function=0",
                &["root", "root-port"],
            ),
    )?;
    plan.add_space(SpaceSpec::new("index", index.types[0].clone()).pool("index=1..=255", &[]))?;
    plan.add_space(
        SpaceSpec::new("mac", mac.types[0].clone())
            .pool("a=0x52, b=0x54, c=0, d=0x12, e=0..=255, f=0..=255", &[]),
    )?;
    for (name, address) in [("mch", "0000:00:00.0"), ("lpc", "0000:00:1f.0")] {
        let mut d = DeviceSpec::new(name, "pci").fixed(address);
        if name == "mch" {
            d = d.block("function=8");
        }
        plan.add_device(d)?;
    }
    plan.add_device(DeviceSpec::new("vga", "pci").tags(&["root"]))?;
    // A pcie-root-port: a function of a root-port slot (or a new slot) and an index; it
    // provides its bus to one endpoint, and the other functions of its slot to root
    // ports only.
    plan.add_grow(
        GrowSpec::new("root-port{n}", "pci")
            .tags(&["root-port"])
            .prefer(&["bus=0, function=1..=7", "bus=0, function=0"])
            .need(NeedSpec::new("index"))
            .provide(
                "pci",
                "domain=0, bus={index.index}, slot=0, function=0",
                &["pcie"],
            )
            .provide(
                "pci",
                "domain=0, bus=0, slot={pci.slot}, function=1..=7",
                &["root-port"],
            )
            .serves(&["pcie"])
            .spare(1)
            .limit(30),
    )?;
    for name in devices {
        let mut d = DeviceSpec::new(*name, "pci").tags(&["pcie"]);
        if name.starts_with("net") {
            d = d.need(NeedSpec::new("mac"));
        }
        plan.add_device(d)?;
    }
    Ok(plan)
}

fn show(title: &str, placed: &Placed) {
    println!("{title}:");
    for p in placed.placements() {
        println!(
            "  {:<12} {:<6} {:<28} {}",
            p.device,
            p.space,
            p.address_text(),
            p.kind_text()
        );
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("addralloc-q35-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let state_path = dir.join("vm.json");

    let devices = ["net0", "disk0", "disk1"];
    let plan = q35(&devices)?;
    let mut placed = plan.run(&RunOptions::default())?;
    show("placed", &placed);

    // Hot-plug: each takes the spare root port's bus, and a new spare is added.
    let nvme = placed
        .add_device(DeviceSpec::new("nvme0", "pci").tags(&["pcie"]))?
        .first
        .clone();
    let net = placed
        .add_device(
            DeviceSpec::new("net1", "pci")
                .tags(&["pcie"])
                .need(NeedSpec::new("mac")),
        )?
        .first
        .clone();
    println!("hot-plugged nvme0 at {nvme}, net1 at {net}");
    // Unplug: the device's addresses (PCI and MAC) are free again.
    let gone = placed.remove_device("disk0")?;
    println!("unplugged disk0 from {}", gone.first);

    // Save, locked from the read to the write.
    {
        let file = StateFile::open(&state_path, Duration::from_secs(10))?;
        file.save(&placed.state())?;
    }
    // Reload: the plan the manager now holds, and the saved state.
    let file = StateFile::open(&state_path, Duration::from_secs(10))?;
    let Some(state) = file.load()? else {
        return Err("the state file is empty".into());
    };
    let now = q35(&["net0", "disk1", "nvme0", "net1"])?;
    let again =
        now.run(&RunOptions::default().previous(&state, state_path.display().to_string()))?;
    show("reloaded", &again);
    let addresses = |p: &Placed| {
        let mut v: Vec<(String, String, String)> = p
            .placements()
            .map(|p| (p.device.clone(), p.space.clone(), p.address_text()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(addresses(&again), addresses(&placed), "every address stays");
    file.save(&again.state())?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
