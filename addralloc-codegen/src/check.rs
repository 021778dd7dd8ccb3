//! Checks the expander relies on beyond the model's [`TypeDef::check`]: reading the
//! (already checked) default pools into field ranges.
//!
//! [`TypeDef::check`]: addralloc_runtime::schema::TypeDef::check

use crate::model::{FieldModel, PoolModel};

/// Reads a pool into per-field ranges.
pub fn pool(
    text: &str,
    tags: Vec<String>,
    fields: &[FieldModel],
) -> Result<PoolModel, Vec<String>> {
    crate::pool::parse(text, fields).map(|ranges| PoolModel {
        text: text.to_string(),
        ranges,
        tags,
    })
}
