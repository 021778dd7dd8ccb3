//! Default pools given as pattern text (`bus=0, slot=1..=31`), parsed at compile time.

use crate::model::FieldModel;
use crate::suggest::suggest;

/// Parses a pool pattern against the fields; `Err` holds every problem.
pub fn parse(text: &str, fields: &[FieldModel]) -> Result<Vec<Option<(u128, u128)>>, Vec<String>> {
    let mut ranges = vec![None; fields.len()];
    let mut problems = Vec::new();
    let t = text.trim();
    if t.is_empty() || t == "*" {
        return Ok(ranges);
    }
    for item in t.split(',') {
        let item = item.trim();
        let Some((name, value)) = item.split_once('=') else {
            problems.push(format!(
                "pool `{text}`: expected `field=value` or `field=lo..=hi`, found `{item}`"
            ));
            continue;
        };
        let name = name.trim();
        let Some(i) = fields.iter().position(|f| f.ident == name) else {
            let names: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
            problems.push(match suggest(name, names.iter().map(String::as_str)) {
                Some(s) => {
                    format!("pool `{text}` names unknown field `{name}`; did you mean `{s}`?")
                }
                None => format!("pool `{text}` names unknown field `{name}`"),
            });
            continue;
        };
        if ranges[i].is_some() {
            problems.push(format!("pool `{text}` gives field `{name}` twice"));
            continue;
        }
        let f = &fields[i];
        match parse_range(value.trim(), f.min, f.max) {
            Err(r) => problems.push(format!("pool `{text}`: field `{name}`: {r}")),
            Ok((lo, hi)) if lo > hi => {
                problems.push(format!("pool `{text}` gives field `{name}` an empty range"))
            }
            Ok((lo, hi)) if lo < f.min || hi > f.max => problems.push(format!(
                "pool `{text}` puts field `{name}` at {}, outside its range {}..={}",
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}..={hi}")
                },
                f.min,
                f.max
            )),
            Ok(r) => ranges[i] = Some(r),
        }
    }
    if problems.is_empty() {
        Ok(ranges)
    } else {
        Err(problems)
    }
}

fn number(s: &str) -> Result<u128, String> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "`{s}` is not a number (decimal, or hexadecimal after `0x`)"
        ));
    }
    u128::from_str_radix(&digits, radix).map_err(|_| format!("`{s}` is too large"))
}

/// `3`, `1..=31`, `1..32`, `8..`, `..=7`, `..7`, `*` resolved against `min..=max`.
fn parse_range(s: &str, min: u128, max: u128) -> Result<(u128, u128), String> {
    if s == "*" || s == ".." {
        return Ok((min, max));
    }
    let Some((a, b)) = s.split_once("..") else {
        let v = number(s)?;
        return Ok((v, v));
    };
    let lo = match a.trim() {
        "" => min,
        a => number(a)?,
    };
    let hi = match b.strip_prefix('=') {
        Some(b) => number(b.trim())?,
        None => match b.trim() {
            "" => max,
            b => match number(b)?.checked_sub(1) {
                Some(h) => h,
                None => return Ok((1, 0)),
            },
        },
    };
    Ok((lo, hi))
}
