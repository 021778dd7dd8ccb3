//! Topology: controllers that provide pools once placed, and growth rules that add
//! controllers when a device finds no room.

use std::ops::Range;

use super::super::model::need_entry;
use super::super::report::Problem;
use super::super::toml::Spanned;
use super::{Entry, Runner};

/// The most rounds of adding controllers ahead of the devices (libvirt's dry run).
const MAX_ROUNDS: usize = 64;

impl Runner {
    /// The entries of device `name`: its first address need and the others after it.
    pub(super) fn parts(&self, name: &str) -> Range<usize> {
        let Some(&i) = self.plan.names.get(name) else {
            return 0..0;
        };
        let mut j = i + 1;
        while let Some(e) = self.plan.entries.get(j) {
            if e.part == 0 || e.name.value != name {
                break;
            }
            j += 1;
        }
        i..j
    }

    /// Once every address of `name` is placed, adds the pools it provides.
    pub(super) fn provide_when_complete(&mut self, name: &str) {
        let parts = self.parts(name);
        let Some(primary) = self.plan.entries.get(parts.start) else {
            return;
        };
        if primary.provides.is_empty() || self.provided.contains_key(name) {
            return;
        }
        let all = parts.clone().all(|i| self.done[i]);
        if !all {
            return;
        }
        let provides = primary.provides.clone();
        let home = primary.space;
        let mut added = Vec::new();
        for p in &provides {
            let pattern = match self.fill(name, home, &p.pattern.value) {
                Ok(x) => x,
                Err(why) => {
                    self.problems.push(Problem::at(
                        format!("`{name}` cannot provide a pool: {why}"),
                        p.pattern.span.clone(),
                    ));
                    continue;
                }
            };
            let tags: Vec<&str> = p.tags.iter().map(|t| t.value.as_str()).collect();
            // A pool that another controller provides already stays that one's (root
            // ports in the functions of one slot: the one at function 0 provides them).
            if self.spaces[p.space].has_pool(&pattern) {
                continue;
            }
            match self.spaces[p.space].add_pool(&pattern, &tags) {
                Ok(()) => added.push((p.space, pattern)),
                Err(e) => self.problems.push(Problem::at(
                    format!(
                        "`{name}` cannot provide the pool `{pattern}` in space `{}`: {e}",
                        self.plan.spaces[p.space].name.value
                    ),
                    p.pattern.span.clone(),
                )),
            }
        }
        self.provided.insert(name.to_string(), added);
    }

    /// A provided pattern with `{space.field}` and `{field}` (a field of the space
    /// `home`) replaced by the device's assigned values, in decimal.
    fn fill(&self, name: &str, home: usize, template: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{template}` has a `{{` without its `}}`"));
            };
            let key = &after[..close];
            let (space, field) = match key.split_once('.') {
                Some((s, f)) => match self.plan.spaces.iter().position(|d| d.name.value == s) {
                    Some(i) => (i, f),
                    None => return Err(format!("`{{{key}}}` names no space of the plan")),
                },
                None => (home, key),
            };
            let Some(fi) = self.spaces[space].field_index(field) else {
                return Err(format!(
                    "`{{{key}}}`: type `{}` has no field `{field}`",
                    self.spaces[space].type_name()
                ));
            };
            let value = self
                .values
                .get(name)
                .and_then(|vs| vs.iter().find(|(s, _)| *s == space))
                .and_then(|(_, v)| v.get(fi));
            match value {
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    return Err(format!(
                        "`{{{key}}}`: `{name}` has no address in space `{}`",
                        self.plan.spaces[space].name.value
                    ))
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Adds the entries of a controller of rule `r` named `name` to the plan; the
    /// index of its first.
    fn instantiate(&mut self, r: usize, name: &str) -> usize {
        let rule = &self.plan.rules[r];
        let text = Spanned {
            value: name.to_string(),
            span: rule.span.clone(),
        };
        let first = self.plan.entries.len();
        let mut entries: Vec<Entry> = rule
            .needs
            .iter()
            .enumerate()
            .map(|(i, n)| need_entry(&text, n.clone(), i, Some(r)))
            .collect();
        if let Some(e) = entries.first_mut() {
            e.provides = rule.provides.clone();
        }
        self.plan
            .entries
            .extend(entries.into_iter().map(std::sync::Arc::new));
        self.done.resize(self.plan.entries.len(), false);
        std::sync::Arc::make_mut(&mut self.plan.names).insert(name.to_string(), first);
        first
    }

    /// The controllers rule `r` has added.
    fn added_by(&self, r: usize) -> impl Iterator<Item = &Entry> + '_ {
        self.plan
            .entries
            .iter()
            .map(|e| &**e)
            .filter(move |e| e.rule == Some(r) && e.part == 0)
    }

    /// The name of rule `r`'s next controller: `{n}` the smallest number from 0 not
    /// yet used.
    fn next_name(&self, r: usize) -> String {
        let template = &self.plan.rules[r].name.value;
        let mut n = 0usize;
        loop {
            let name = template.replace("{n}", &n.to_string());
            if !self.plan.names.contains_key(&name) {
                return name;
            }
            n += 1;
        }
    }

    /// The rule whose name template gives `name`.
    fn rule_named(&self, name: &str) -> Option<usize> {
        self.plan.rules.iter().position(|rule| {
            let Some((pre, post)) = rule.name.value.split_once("{n}") else {
                return false;
            };
            name.len() > pre.len() + post.len()
                && name.starts_with(pre)
                && name.ends_with(post)
                && {
                    let n = &name[pre.len()..name.len() - post.len()];
                    n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
                }
        })
    }

    /// Before phase 2: the controllers earlier runs added come back, to be kept.
    pub(super) fn recreate_added(&mut self, st: &super::State) {
        for a in &st.assignments {
            if a.scope != self.scope || a.kind != "added" {
                continue;
            }
            if self.plan.names.contains_key(&a.device) {
                continue;
            }
            if let Some(r) = self.rule_named(&a.device) {
                self.instantiate(r, &a.device);
            }
        }
    }

    /// Places a new controller of rule `r`; whether all its addresses found room.
    fn add_controller(&mut self, r: usize, depth: usize) -> bool {
        let left = self.growth_budget.get();
        if left == 0 {
            return false;
        }
        self.growth_budget.set(left - 1);
        let name = self.next_name(r);
        self.instantiate(r, &name);
        let before = self.problems.len();
        for i in self.parts(&name) {
            let e = self.plan.entries[i].clone();
            if e.address.is_some() {
                self.place_explicit(i, &e, false);
            } else {
                self.place_auto_at(i, &e, depth + 1);
            }
            if self.problems.len() > before {
                return false;
            }
        }
        true
    }

    /// Entry `order` found no room: adds a controller from the first rule that serves
    /// it and has one to give, and places the entry again. Whether it is placed; if
    /// not, nothing changed.
    pub(super) fn grow_for(&mut self, order: usize, e: &Entry, depth: usize) -> bool {
        let tags: Vec<&str> = e.tags.iter().map(|t| t.value.as_str()).collect();
        for r in 0..self.plan.rules.len() {
            let rule = &self.plan.rules[r];
            if !rule.provides.iter().any(|p| p.space == e.space)
                || !tags
                    .iter()
                    .all(|t| rule.serves.iter().any(|s| s.value == *t))
            {
                continue;
            }
            if rule.limit.is_some_and(|l| self.added_by(r).count() >= l) {
                continue;
            }
            let checkpoint = self.clone();
            if self.add_controller(r, depth) {
                if self.try_auto(order, e).is_ok() {
                    return true;
                }
            } else {
                let mut starved = checkpoint.starved.clone();
                starved[r] = true;
                *self = checkpoint;
                self.starved = starved;
                continue;
            }
            *self = checkpoint;
        }
        false
    }

    /// Phase 3 in rounds: when a growth rule's controller found no room (its parent
    /// full of devices), the run starts phase 3 again with one more controller of that
    /// rule placed ahead of the devices, as libvirt's dry run does; then each rule's
    /// spare controllers. When that one more controller finds no room even ahead of the
    /// devices, its rule is passed over and the next starved rule gets one instead.
    pub(super) fn automatic_rounds(&mut self) {
        if !self.problems.is_empty() || self.plan.rules.is_empty() {
            self.automatic();
            return;
        }
        let start = self.clone();
        let mut ahead = vec![0usize; self.plan.rules.len()];
        // Rules whose one more controller ahead found no room: the next pick is another
        // starved rule (USB: root ports all taken by hubs, the next hub goes on a hub).
        let mut dead = vec![false; self.plan.rules.len()];
        let mut last: Option<usize> = None;
        for _ in 0..MAX_ROUNDS {
            let mut ok = true;
            for (r, &n) in ahead.iter().enumerate() {
                for _ in 0..n {
                    ok &= self.add_controller(r, 0);
                }
            }
            if !ok {
                let Some(r) = last.take() else {
                    return;
                };
                *self = start.clone();
                ahead[r] -= 1;
                dead[r] = true;
                continue;
            }
            self.retry_deferred();
            self.automatic();
            if self.problems.is_empty() {
                self.spares();
                return;
            }
            let pick = (0..self.plan.rules.len()).find(|&r| {
                self.starved[r]
                    && !dead[r]
                    && self.plan.rules[r]
                        .limit
                        .is_none_or(|l| self.added_by(r).count() < l)
            });
            match pick {
                Some(r) => {
                    *self = start.clone();
                    ahead[r] += 1;
                    last = Some(r);
                }
                None => return,
            }
        }
    }

    /// Adds controllers until each rule has its `spare` empty ones (or its limit); a
    /// spare that finds no room is not added.
    pub(super) fn spares(&mut self) {
        for r in 0..self.plan.rules.len() {
            let spare = self.plan.rules[r].spare;
            for _ in 0..=spare {
                let empty = self
                    .added_by(r)
                    .filter(|e| self.is_empty_controller(&e.name.value))
                    .count();
                let at_limit = self.plan.rules[r]
                    .limit
                    .is_some_and(|l| self.added_by(r).count() >= l);
                if empty >= spare || at_limit {
                    break;
                }
                let checkpoint = self.clone();
                if !self.add_controller(r, 0) {
                    *self = checkpoint;
                    break;
                }
            }
        }
    }

    /// Whether nothing but `name` itself holds an address in the pools it provides.
    pub(super) fn is_empty_controller(&self, name: &str) -> bool {
        self.behind(name).is_empty()
    }

    /// The devices holding addresses in the pools `name` provides, in address order
    /// per pool.
    pub(super) fn behind(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (space, pattern) in self.provided.get(name).into_iter().flatten() {
            for o in self.spaces[*space]
                .owners_in(pattern, name)
                .unwrap_or_default()
            {
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
        out
    }
}

/// A pool a placed controller provides: its space and pattern (with the controller's
/// own values filled in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvidedPool {
    /// The space's name.
    pub space: String,
    /// The pool's pattern, `domain=0, bus=1, slot=1..=31, function=0`.
    pub pattern: String,
}

/// One device in the placed topology: the controller it sits behind and the pools it
/// provides, if it is a controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The device's name.
    pub device: String,
    /// The controller one of whose pools holds the device's first address that lies in
    /// such a pool, and that pool; `None` for a device on the spaces' own pools.
    pub parent: Option<(String, ProvidedPool)>,
    /// The pools the device provides, in the order it provided them.
    pub provides: Vec<ProvidedPool>,
}

impl Runner {
    /// Every placed device once, in placement order, with its parent and its pools.
    pub(super) fn topology(&self) -> Vec<Node> {
        let pool = |space: usize, pattern: &str| ProvidedPool {
            space: self.plan.spaces[space].name.value.clone(),
            pattern: pattern.to_string(),
        };
        // Controllers in placement order, so that a device behind two (impossible for
        // one address) gets the first.
        let mut controllers: Vec<(usize, &String)> = Vec::new();
        for (order, row) in &self.rows {
            if self.provided.contains_key(&row.device)
                && !controllers.iter().any(|(_, n)| **n == row.device)
            {
                controllers.push((*order, &row.device));
            }
        }
        let mut parent: std::collections::HashMap<String, (String, ProvidedPool)> =
            std::collections::HashMap::new();
        for (_, c) in &controllers {
            for (space, pattern) in self.provided.get(*c).into_iter().flatten() {
                for owner in self.spaces[*space]
                    .owners_in(pattern, c)
                    .unwrap_or_default()
                {
                    parent
                        .entry(owner)
                        .or_insert_with(|| ((*c).clone(), pool(*space, pattern)));
                }
            }
        }
        let mut out: Vec<Node> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (_, row) in &self.rows {
            if !seen.insert(row.device.as_str()) {
                continue;
            }
            out.push(Node {
                device: row.device.clone(),
                parent: parent.remove(&row.device),
                provides: self
                    .provided
                    .get(&row.device)
                    .into_iter()
                    .flatten()
                    .map(|(s, p)| pool(*s, p))
                    .collect(),
            });
        }
        out
    }
}
