//! The packed index of an address: its position in address order, field by field
//! (the first field most significant), as the database's ranges use it.

use addralloc::dynamic::DynType;

use crate::Error;

/// The index of the address with field values `values`.
pub(crate) fn index(ty: &DynType, values: &[u128]) -> Result<u128, Error> {
    let mut idx: u128 = 0;
    for (f, &v) in ty.fields().iter().zip(values) {
        let too_big = || {
            Error::Input(format!(
                "the addresses of type `{}` are too many to index in 128 bits",
                ty.name()
            ))
        };
        let size = (f.max - f.min).checked_add(1).ok_or_else(too_big)?;
        idx = idx
            .checked_mul(size)
            .and_then(|i| i.checked_add(v.saturating_sub(f.min)))
            .ok_or_else(too_big)?;
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use addralloc::dynamic::DynSchema;

    #[test]
    fn indexes_follow_address_order() {
        let s = DynSchema::from_toml(include_str!("../../schemas/pci.toml")).unwrap();
        let ty = s.get("PciAddress").unwrap();
        let a = |t: &str| index(ty, ty.parse_address(t).unwrap().values()).unwrap();
        assert_eq!(a("0000:00:00.0"), 0);
        assert_eq!(a("0000:00:00.7"), 7);
        assert_eq!(a("0000:00:01.0"), 8);
        assert_eq!(a("0000:01:00.0"), 256);
        let s = DynSchema::from_toml(include_str!("../../schemas/ipv6.toml")).unwrap();
        let ty = &s.types()[0];
        let last = ty
            .parse_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
            .unwrap();
        assert_eq!(index(ty, last.values()).unwrap(), u128::MAX);
    }
}
