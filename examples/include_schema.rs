//! `include_schema!`: address types from the bundled TOML schemas, with their default
//! pools.
//!
//! Run: `cargo run --example include_schema`

use addralloc::Error;

addralloc::include_schema!("schemas/pci.toml");
addralloc::include_schema!("schemas/virtio-serial.toml");
addralloc::include_schema!("schemas/disk-name.toml");
addralloc::include_schema!("schemas/drive.toml");

fn main() -> Result<(), Error> {
    // PCI: the schema's default pool is bus 0, slots 1 to 31, tagged `pci`.
    let mut pci = PciAddress::default_allocator()?;
    let nic = pci.owned_by("net0").reserve_any()?;
    println!("net0     {nic}");
    let slot = pci.reserve_block(PciAddress::pattern(), PciAddress::block().function(8))?;
    println!("gpu0     {}..={}", slot.first(), slot.last());

    // virtio-serial: port 0 is the console pool, ports 1 to 30 the serial pool.
    let mut serial = VirtioSerialAddress::default_allocator()?;
    let console = serial.requiring(&["console"]).reserve_any()?;
    let channel = serial.requiring(&["serial"]).reserve_any()?;
    println!("console  {console}");
    println!("channel  {channel}");

    // Disk names in bijective base-26 letters.
    let mut disks = ScsiDiskName::default_allocator()?;
    for _ in 0..3 {
        print!("{} ", disks.reserve_any()?);
    }
    println!("... {}", ScsiDiskName::new(26)?);
    println!("sdzz is index {}", "sdzz".parse::<ScsiDiskName>()?.index);

    // Drive addresses have no default pools: add one for an IDE controller.
    let mut drives = addralloc::Allocator::<DriveAddress>::new();
    drives.add_pool(
        DriveAddress::pattern()
            .controller(0)
            .bus(0..=1)
            .target(0)
            .unit(0..=1),
    )?;
    let hda = drives.reserve_any()?;
    let hdc = drives.reserve_first(DriveAddress::pattern().bus(1))?;
    println!("hda      {hda}");
    println!("hdc      {hdc}");
    println!(
        "rejected {}",
        "0:0:0:16384".parse::<DriveAddress>().unwrap_err()
    );
    Ok(())
}
