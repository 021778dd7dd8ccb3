//! A VM manager's use of the plan library: each VM's devices as a plan built in code,
//! one shared MAC pool for all VMs (scopes), the state kept in a locked file between
//! runs, and hot-plug of one NIC without re-running the whole plan.
//!
//! Run: `cargo run --example vmm_manager`

use std::error::Error;
use std::time::Duration;

use addralloc::plan::{DeviceSpec, Plan, RunOptions, SpaceSpec, StateFile};
use addralloc::schema::Schema;

/// The bundled schemas, loaded at run time (a daemon would read its own).
fn schema(text: &str) -> Result<Schema, String> {
    Schema::from_toml(text).map_err(|d| d.iter().map(|d| d.message.clone()).collect())
}

/// The plan of one VM: a PCI bus of its own, and NICs with MACs from the host's pool.
fn vm_plan(name: &str, nics: usize) -> Result<Plan, Box<dyn Error>> {
    let pci = schema(include_str!("../schemas/pci.toml"))?;
    let mac = schema(include_str!("../schemas/mac.toml"))?;
    let mut plan = Plan::new();
    plan.set_scope(name)?;
    // The PCI space is named per VM: each VM has its own bus.
    let bus = format!("{name}-pci");
    plan.add_space(
        SpaceSpec::new(&bus, pci.types[0].clone()).pool("domain=0, bus=0, slot=1..=31", &[]),
    )?;
    // The MAC space has one name for all VMs: their reservations share it.
    plan.add_space(
        SpaceSpec::new("mac", mac.types[0].clone())
            .pool("a=0x52, b=0x54, c=0, d=0x12, e=0..=255, f=0..=255", &[])
            .policy("next-fit"),
    )?;
    plan.add_device(DeviceSpec::new("disk0", &bus).block("function=8"))?;
    for i in 0..nics {
        plan.add_device(DeviceSpec::new(format!("nic{i}"), &bus))?;
        plan.add_device(DeviceSpec::new(format!("nic{i}-mac"), "mac"))?;
    }
    Ok(plan)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("addralloc-vmm-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let state_path = dir.join("host-state.json");

    for (vm, nics) in [("vm1", 2), ("vm2", 1), ("vm1", 2)] {
        // Locked from the read to the write: other manager processes wait their turn.
        let file = StateFile::open(&state_path, Duration::from_secs(10))?;
        let previous = file.load()?;
        let mut options = RunOptions::default();
        if let Some(state) = &previous {
            options = options.previous(state, state_path.display().to_string());
        }
        let mut placed = vm_plan(vm, nics)?.run(&options)?;
        println!("{vm}:");
        for p in placed.placements() {
            println!(
                "  {:<9} {:<8} {:<28} {}",
                p.device,
                p.space,
                p.address_text(),
                p.kind_text()
            );
        }
        if vm == "vm2" {
            // Hot-plug: one more NIC and its MAC, as a re-run with the device added would.
            let nic = placed
                .add_device(DeviceSpec::new("nic1", "vm2-pci"))?
                .first
                .clone();
            let mac = placed
                .add_device(DeviceSpec::new("nic1-mac", "mac"))?
                .first
                .clone();
            println!("  hot-plugged nic1 at {nic} with MAC {mac}");
        }
        file.save(&placed.state())?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
