//! Default pools that are linear ranges or prefixes, compiled by the schema compiler
//! (derive and `include_schema!`), agree with the same pools read at run time.

use addralloc::dynamic::DynSchema;
use addralloc::{AddressSpace, Policy};

/// An IPv4-like type whose default pools are a DHCP range across an octet and a /24.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "{a}.{b}.{c}.{d}")]
#[address(pool(pattern = "10.0.0.250..=10.0.1.5", tags = ["dhcp"]))]
#[address(pool = "10.0.2.0/24")]
pub struct Lan {
    pub a: u8,
    pub b: u8,
    pub c: u8,
    pub d: u8,
}

#[test]
fn linear_and_prefix_default_pools_compile() {
    let pools = Lan::default_pools();
    assert_eq!(pools[0].0.to_string(), "10.0.0.250..=10.0.1.5");
    assert!(pools[0].0.is_linear());
    assert_eq!(pools[0].1, ["dhcp"]);
    assert_eq!(pools[1].0.to_string(), "a=10, b=0, c=2");
    let mut a = Lan::default_allocator().unwrap();
    assert_eq!(a.free_count().to_string(), "268");
    let got = a.requiring(&["dhcp"]).reserve_any().unwrap();
    assert_eq!(got.to_string(), "10.0.0.250");

    // The same pools read at run time.
    let schema = DynSchema::from_toml(
        "[[address]]\nname = \"Lan\"\nformat = \"{a}.{b}.{c}.{d}\"\n\
         [[address.field]]\nname = \"a\"\ntype = \"u8\"\n[[address.field]]\nname = \"b\"\ntype = \"u8\"\n\
         [[address.field]]\nname = \"c\"\ntype = \"u8\"\n[[address.field]]\nname = \"d\"\ntype = \"u8\"\n\
         [[address.pool]]\npattern = \"10.0.0.250..=10.0.1.5\"\ntags = [\"dhcp\"]\n\
         [[address.pool]]\npattern = \"10.0.2.0/24\"\n",
    )
    .unwrap();
    let d = addralloc::DynAllocator::with_default_pools(
        schema.get("Lan").unwrap().clone(),
        Policy::LowestFirst,
    )
    .unwrap();
    assert_eq!(d.free_count().to_string(), "268");
    assert_eq!(a.free_count().to_string(), "267");
}
