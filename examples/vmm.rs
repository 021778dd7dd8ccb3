//! A virtual machine monitor's resource manager: MMIO and port-I/O windows (any size,
//! a separate power-of-two alignment, first fit, last fit or an exact address), legacy
//! IRQs and GSIs, PCI BDFs, hot-unplug by the handles the reservations returned, and a
//! snapshot sent to a migration destination and restored there.
//!
//! It does what a VMM does with rust-vmm's vm-allocator (`AddressAllocator` for MMIO and
//! PIO, `IdAllocator` for interrupts), with owners on every reservation, pool tags
//! (32-bit and 64-bit MMIO, legacy and GSI interrupt lines), errors that say what is in
//! the way, and one snapshot format for all of it.
//!
//! `no_std`: the allocator part — [`Allocator`], [`Fit`], [`BlockRange`], the derived
//! address types, [`Snapshot`](addralloc::Snapshot) and restore — is in
//! `addralloc-runtime`, which builds `#![no_std]` with `alloc` when its default `std`
//! feature is off (derived code uses `::core` paths only). This program itself uses
//! `std` for printing and `serde_json` for the migration stream.
//!
//! Run: `cargo run --example vmm`

use std::error::Error;

use addralloc::schemas::PciAddress;
use addralloc::{AddressSpace, Allocator, BlockRange, Fit, Pattern};

/// A guest-physical MMIO address.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "0x{addr:x}")]
pub struct GuestAddr {
    /// The address.
    pub addr: u64,
}

/// An x86 I/O port.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "0x{port:04x}")]
pub struct IoPort {
    /// The port.
    pub port: u16,
}

/// An interrupt line: a legacy IRQ (0 to 15) or a GSI of the I/O APIC.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "{line}")]
pub struct Irq {
    /// The line.
    pub line: u32,
}

/// A BAR: size, alignment and the MMIO pool (`mmio32` or `mmio64`).
type Bar = (u128, u128, &'static str);

const KIB: u128 = 1 << 10;
const MIB: u128 = 1 << 20;

/// Every resource a VM's devices draw from.
struct Resources {
    mmio: Allocator<GuestAddr>,
    pio: Allocator<IoPort>,
    irq: Allocator<Irq>,
    pci: Allocator<PciAddress>,
}

/// What one device was given: the handles that free it exactly.
#[derive(Debug, Default)]
struct Slot {
    bdf: Option<BlockRange<PciAddress>>,
    windows: Vec<BlockRange<GuestAddr>>,
    ports: Option<BlockRange<IoPort>>,
    irq: Option<Irq>,
}

impl Resources {
    /// The machine's layout, as a q35-like x86 VMM sets it up.
    fn new() -> Result<Self, Box<dyn Error>> {
        let mut mmio = Allocator::<GuestAddr>::new();
        // The 32-bit hole below the I/O APIC, and 64-bit space above guest RAM.
        mmio.add_pool_tagged(
            GuestAddr::pattern().addr(0xc000_0000..=0xfebf_ffff),
            &["mmio32"],
        )?;
        mmio.add_pool_tagged(
            GuestAddr::pattern().addr(0x40_0000_0000..=0x7f_ffff_ffff),
            &["mmio64"],
        )?;
        let mut pio = Allocator::<IoPort>::new();
        pio.add_pool(Pattern::any())?;
        let mut irq = Allocator::<Irq>::new();
        irq.add_pool_tagged(Irq::pattern().line(0..=15), &["legacy"])?;
        irq.add_pool_tagged(Irq::pattern().line(16..=23), &["gsi"])?;
        let mut pci = Allocator::<PciAddress>::new();
        pci.add_pool("domain=0, bus=0, slot=0..=31".parse::<Pattern<PciAddress>>()?)?;
        Ok(Resources {
            mmio,
            pio,
            irq,
            pci,
        })
    }

    /// The platform's fixed resources: the host bridge, the PIT, the keyboard
    /// controller and the PIC cascade, the RTC's and the serial port's legacy places.
    fn platform(&mut self) -> Result<Vec<(&'static str, Slot)>, Box<dyn Error>> {
        let mut out = Vec::new();
        let host = self.pci.owned_by("host-bridge").reserve_block(
            PciAddress::pattern().slot(0),
            PciAddress::block().function(8),
        )?;
        out.push((
            "host-bridge",
            Slot {
                bdf: Some(host),
                ..Slot::default()
            },
        ));
        for (line, owner) in [(0, "pit"), (1, "i8042"), (2, "pic-cascade")] {
            self.irq.owned_by(owner).reserve(Irq { line })?;
        }
        for (name, port, ports, line) in [("rtc", 0x70, 2, 8), ("com1", 0x3f8, 8, 4)] {
            let window =
                self.pio
                    .owned_by(name)
                    .reserve_sized(ports, 1, Fit::Exact(IoPort { port }))?;
            let irq = self.irq.owned_by(name).reserve(Irq { line })?;
            out.push((
                name,
                Slot {
                    ports: Some(window),
                    irq: Some(irq),
                    ..Slot::default()
                },
            ));
        }
        Ok(out)
    }

    /// A PCI device: a whole slot, its BARs (size, alignment, 32- or 64-bit), and an
    /// interrupt line from the GSIs. All or nothing: a failure undoes every part.
    fn pci_device(&mut self, name: &str, bars: &[Bar]) -> Result<Slot, Box<dyn Error>> {
        let mut slot = Slot::default();
        let bdf = self
            .pci
            .owned_by(name)
            .reserve_block(PciAddress::pattern(), PciAddress::block().function(8))?;
        slot.bdf = Some(bdf);
        let windows: Result<Vec<_>, _> = self.mmio.transaction(|tx| {
            bars.iter()
                .map(|&(size, align, tag)| {
                    tx.owned_by(name)
                        .requiring(&[tag])
                        .reserve_sized(size, align, Fit::First)
                })
                .collect()
        });
        match windows {
            Ok(w) => slot.windows = w,
            Err(e) => {
                self.pci.release_block(&bdf)?;
                return Err(e.into());
            }
        }
        match self.irq.owned_by(name).requiring(&["gsi"]).reserve_any() {
            Ok(irq) => slot.irq = Some(irq),
            Err(e) => {
                self.unplug(&slot)?;
                return Err(e.into());
            }
        }
        Ok(slot)
    }

    /// Hot-unplug: every part freed by the handle its reservation returned.
    fn unplug(&mut self, slot: &Slot) -> Result<(), Box<dyn Error>> {
        for w in &slot.windows {
            self.mmio.release_block(w)?;
        }
        if let Some(p) = &slot.ports {
            self.pio.release_block(p)?;
        }
        if let Some(irq) = slot.irq {
            self.irq.release(irq)?;
        }
        if let Some(bdf) = &slot.bdf {
            self.pci.release_block(bdf)?;
        }
        Ok(())
    }

    /// The migration stream: one JSON snapshot per allocator.
    fn save(&self) -> Result<String, Box<dyn Error>> {
        Ok(serde_json::to_string(&[
            self.mmio.snapshot(),
            self.pio.snapshot(),
            self.irq.snapshot(),
            self.pci.snapshot(),
        ])?)
    }

    /// The destination: every snapshot validated before anything is built.
    fn load(stream: &str) -> Result<Self, Box<dyn Error>> {
        let [mmio, pio, irq, pci]: [addralloc::Snapshot; 4] = serde_json::from_str(stream)?;
        Ok(Resources {
            mmio: Allocator::restore(&mmio)?,
            pio: Allocator::restore(&pio)?,
            irq: Allocator::restore(&irq)?,
            pci: Allocator::restore(&pci)?,
        })
    }
}

fn print(name: &str, slot: &Slot) {
    let bdf = slot.bdf.map_or(String::new(), |b| b.first().to_string());
    let irq = slot.irq.map_or(String::new(), |i| format!("irq {i}"));
    let mut res: Vec<String> = slot.windows.iter().map(|w| format!("mmio {w}")).collect();
    if let Some(p) = &slot.ports {
        res.push(format!("pio {p}"));
    }
    println!("  {name:<12} {bdf:<13} {irq:<7} {}", res.join(", "));
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut vm = Resources::new()?;
    let mut devices = vm.platform()?;
    // (size, alignment, pool): a 4 KiB BAR on a 2 MiB boundary, 12 KiB at 4 KiB, a
    // 256 MiB prefetchable BAR in 64-bit space.
    let plan: [(&str, &[Bar]); 4] = [
        (
            "virtio-net0",
            &[(4 * KIB, 2 * MIB, "mmio32"), (16 * KIB, 16 * KIB, "mmio64")],
        ),
        ("virtio-blk0", &[(12 * KIB, 4 * KIB, "mmio32")]),
        (
            "gpu0",
            &[
                (16 * MIB, 16 * MIB, "mmio32"),
                (256 * MIB, 256 * MIB, "mmio64"),
            ],
        ),
        ("virtio-rng0", &[(4 * KIB, 4 * KIB, "mmio32")]),
    ];
    for (name, bars) in plan {
        let slot = vm.pci_device(name, bars)?;
        devices.push((name, slot));
    }
    // Firmware tables at a fixed place, from the top of the 32-bit hole (last fit).
    let acpi = vm
        .mmio
        .owned_by("acpi")
        .requiring(&["mmio32"])
        .reserve_sized(64 * KIB, 4 * KIB, Fit::Last)?;
    devices.push((
        "acpi",
        Slot {
            windows: vec![acpi],
            ..Slot::default()
        },
    ));

    println!("placed:");
    for (name, slot) in &devices {
        print(name, slot);
    }

    // A request that breaks its own alignment is told apart from a full space.
    let bad = vm
        .mmio
        .reserve_sized(0x1000, 0x1000, Fit::Exact(GuestAddr { addr: 0xc000_0800 }));
    println!("bad request: {}", bad.unwrap_err());
    let taken = vm
        .mmio
        .reserve_sized(0x1000, 0x1000, Fit::Exact(GuestAddr { addr: 0xc000_0000 }));
    println!("taken:       {}", taken.unwrap_err());

    // Hot-unplug the block device, exactly what it was given.
    let i = devices
        .iter()
        .position(|(n, _)| *n == "virtio-blk0")
        .ok_or("virtio-blk0 was placed")?;
    let (name, slot) = devices.remove(i);
    vm.unplug(&slot)?;
    println!(
        "unplugged {name}: {} MMIO bytes free in all",
        vm.mmio.free_count()
    );

    // Live migration: the state goes with the VM and is checked on arrival.
    let stream = vm.save()?;
    let mut dest = Resources::load(&stream)?;
    println!("migrated: {} bytes of JSON", stream.len());
    assert_eq!(
        dest.mmio.reserved().collect::<Vec<_>>(),
        vm.mmio.reserved().collect::<Vec<_>>()
    );
    // The destination keeps placing where the source would have.
    let here = vm.pci_device("virtio-blk1", &[(12 * KIB, 4 * KIB, "mmio32")])?;
    let there = dest.pci_device("virtio-blk1", &[(12 * KIB, 4 * KIB, "mmio32")])?;
    assert_eq!(
        (here.bdf, &here.windows, here.irq),
        (there.bdf, &there.windows, there.irq)
    );
    println!("on the destination:");
    print("virtio-blk1", &there);
    // And a device from before the migration unplugs there by its old handles.
    let (name, gpu) = devices
        .iter()
        .find(|(n, _)| *n == "gpu0")
        .ok_or("gpu0 was placed")?;
    dest.unplug(gpu)?;
    println!("unplugged {name} on the destination");
    Ok(())
}
