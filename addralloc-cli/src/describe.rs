//! `addralloc describe FILE`: each address type's fields, widths, ranges, capacity,
//! format and pools.

use std::fmt::Write as _;
use std::path::Path;

use addralloc::dynamic::DynType;
use addralloc::plan::pool_capacities;
use addralloc::schema::TypeDef;
use addralloc::Count;

use crate::output::print;
use crate::Failure;

pub fn run(path: &Path) -> Result<(), Failure> {
    let (_, schema) = crate::load_schema(path)?;
    let mut out = String::new();
    for (i, t) in schema.types.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        describe(&mut out, t);
    }
    print!("{out}");
    Ok(())
}

/// The first paragraph of a doc text, on one line.
fn first_paragraph(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn range_text(min: u128, max: u128) -> String {
    format!("{min}..={max}")
}

fn describe(out: &mut String, t: &TypeDef) {
    let fields = t.field_tuples();
    let format = t.format();
    let _ = writeln!(out, "{}", t.name);
    if let Some(doc) = &t.doc {
        let summary = first_paragraph(doc);
        if !summary.is_empty() {
            let _ = writeln!(out, "  {summary}");
        }
    }
    let mins: Vec<u128> = fields.iter().map(|f| f.1).collect();
    let maxs: Vec<u128> = fields.iter().map(|f| f.2).collect();
    let source = t.format.clone().unwrap_or_else(|| format.source(&fields));
    let _ = writeln!(out, "  format:    {source}");
    let _ = writeln!(
        out,
        "  addresses: {} to {}",
        format.to_string(&mins),
        format.to_string(&maxs)
    );
    let capacity = DynType::from_def(t.clone()).map_or(Count::ZERO, |d| d.capacity());
    let _ = writeln!(
        out,
        "  capacity:  {capacity} addresses ({} bits)",
        t.total_bits()
    );
    let _ = writeln!(out, "  fields:");
    let name_w = t.fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let range_w = t
        .fields
        .iter()
        .map(|f| range_text(f.min, f.max).len())
        .max()
        .unwrap_or(0);
    for f in &t.fields {
        let bits = f.bits();
        let _ = write!(
            out,
            "    {:name_w$}  {:4}  {:range_w$}  {:>3} bit{}",
            f.name,
            f.ty.name(),
            range_text(f.min, f.max),
            bits,
            if bits == 1 { " " } else { "s" },
        );
        if let Some(doc) = &f.doc {
            let _ = write!(out, "  {}", first_paragraph(doc));
        }
        out.push('\n');
    }
    if t.pools.is_empty() {
        let _ = writeln!(out, "  pools:     none");
    } else {
        let _ = writeln!(out, "  pools:");
        let pat_w = t.pools.iter().map(|p| p.pattern.len()).max().unwrap_or(0);
        // The type is checked once, not once per pool.
        let counts = pool_capacities(t);
        for (p, count) in t.pools.iter().zip(counts) {
            let count = count
                .map(|c| format!("  {c} addresses"))
                .unwrap_or_default();
            let tags = if p.tags.is_empty() {
                String::from("untagged")
            } else {
                p.tags
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(out, "    {:pat_w$}  {tags}{count}", p.pattern);
        }
    }
}
