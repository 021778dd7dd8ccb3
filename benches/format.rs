//! Generated PCI `FromStr` and `Display` (from `schemas/pci.toml` through
//! `include_schema!`) against a careful hand-written parser and formatter for the same
//! format, `{domain:04x}:{bus:02x}:{slot:02x}.{function:x}`, in one run.
//!
//! `cargo bench --bench format`; `ADDRALLOC_BENCH_QUICK=1` runs it small. Prints
//! `bench <workload> <implementation> ns_per_op=<n>` lines and the ratio
//! generated / hand-written (target: at most 1.2). No timing is asserted.

use std::fmt::{self, Write as _};
use std::hint::black_box;
use std::time::Instant;

addralloc::include_schema!("schemas/pci.toml");

/// The hand-written reference: what a careful VMM author writes for one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HandPci {
    domain: u16,
    bus: u8,
    slot: u8,
    function: u8,
}

impl fmt::Display for HandPci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
struct HandError(&'static str, usize);

fn hex_field(b: &[u8], pos: &mut usize, max_digits: usize, max: u32) -> Result<u32, HandError> {
    let start = *pos;
    let mut v: u32 = 0;
    while *pos < b.len() && *pos - start < max_digits {
        let d = match b[*pos] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => break,
        };
        v = v * 16 + d as u32;
        *pos += 1;
    }
    if *pos == start {
        return Err(HandError("expected a hexadecimal digit", start + 1));
    }
    if v > max {
        return Err(HandError("out of range", start + 1));
    }
    Ok(v)
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Result<(), HandError> {
    if b.get(*pos) == Some(&c) {
        *pos += 1;
        Ok(())
    } else {
        Err(HandError("unexpected character", *pos + 1))
    }
}

impl std::str::FromStr for HandPci {
    type Err = HandError;
    fn from_str(s: &str) -> Result<Self, HandError> {
        let b = s.as_bytes();
        let mut pos = 0;
        let domain = hex_field(b, &mut pos, 4, 0xffff)? as u16;
        expect(b, &mut pos, b':')?;
        let bus = hex_field(b, &mut pos, 2, 0xff)? as u8;
        expect(b, &mut pos, b':')?;
        let slot = hex_field(b, &mut pos, 2, 31)? as u8;
        expect(b, &mut pos, b'.')?;
        let function = hex_field(b, &mut pos, 1, 7)? as u8;
        if pos != b.len() {
            return Err(HandError("trailing text", pos + 1));
        }
        Ok(HandPci {
            domain,
            bus,
            slot,
            function,
        })
    }
}

fn inputs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let h = HandPci {
                domain: (i % 3) as u16,
                bus: (i * 7 % 256) as u8,
                slot: (i % 32) as u8,
                function: (i % 8) as u8,
            };
            h.to_string()
        })
        .collect()
}

fn time(reps: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut best = f64::MAX;
    let mut ops = 0;
    for _ in 0..reps {
        let t = Instant::now();
        ops = black_box(f());
        best = best.min(t.elapsed().as_nanos() as f64);
    }
    best / ops as f64
}

fn main() {
    let quick = std::env::var_os("ADDRALLOC_BENCH_QUICK").is_some();
    let (n, reps) = if quick { (10_000, 1) } else { (1_000_000, 7) };
    let texts = inputs(n);

    // Both sides agree on every input before anything is timed.
    for t in &texts {
        let g: PciAddress = t.parse().expect("generated parses");
        let h: HandPci = t.parse().expect("hand-written parses");
        assert_eq!(g.to_string(), h.to_string());
    }

    let parse_gen = time(reps, || {
        let mut sum = 0u32;
        for t in &texts {
            let a: PciAddress = black_box(t.as_str()).parse().expect("valid");
            sum = sum.wrapping_add(a.function as u32);
        }
        black_box(sum);
        texts.len()
    });
    let parse_hand = time(reps, || {
        let mut sum = 0u32;
        for t in &texts {
            let a: HandPci = black_box(t.as_str()).parse().expect("valid");
            sum = sum.wrapping_add(a.function as u32);
        }
        black_box(sum);
        texts.len()
    });
    let gen_addrs: Vec<PciAddress> = texts.iter().map(|t| t.parse().expect("valid")).collect();
    let hand_addrs: Vec<HandPci> = texts.iter().map(|t| t.parse().expect("valid")).collect();
    let mut buf = String::with_capacity(32);
    let display_gen = time(reps, || {
        for a in &gen_addrs {
            buf.clear();
            write!(buf, "{}", black_box(a)).expect("write to String");
            black_box(&buf);
        }
        gen_addrs.len()
    });
    let display_hand = time(reps, || {
        for a in &hand_addrs {
            buf.clear();
            write!(buf, "{}", black_box(a)).expect("write to String");
            black_box(&buf);
        }
        hand_addrs.len()
    });

    println!("bench pci_from_str generated ns_per_op={parse_gen:.1}");
    println!("bench pci_from_str hand-written ns_per_op={parse_hand:.1}");
    println!("bench pci_display generated ns_per_op={display_gen:.1}");
    println!("bench pci_display hand-written ns_per_op={display_hand:.1}");
    for (what, g, h) in [
        ("FromStr", parse_gen, parse_hand),
        ("Display", display_gen, display_hand),
    ] {
        let ratio = g / h;
        let verdict = if ratio <= 1.2 { "PASS" } else { "MISS" };
        println!("{what:<8} generated/hand-written = {ratio:.2} (target <= 1.2) {verdict}");
    }
}
