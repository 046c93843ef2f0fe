//! Whether a component fits this host: its imports against what the runtime's linker
//! really provides, its exports against a world's, and the `godwit:plugin` API version it
//! was built for.
//!
//! The list of what the host provides is never written down here: it is whatever
//! [`Runtime::new`] put in the linker (godwit's `host` interface and the WASI p2
//! interfaces wasmtime-wasi links), found by asking that linker. A linker cannot list its
//! definitions, so [`Runtime::inspect`] asks it to pre-instantiate the component, notes
//! the import it names as unsatisfied, stubs that one import in a copy of the linker, and
//! asks again until the component links: every import gets its own verdict, not just the
//! first one that fails.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use godwit_core::value::hex;

use crate::runtime::{Error, Limits, Plugin, Runtime};
use crate::sandbox::State;
use crate::wit::latest::{backfill, data_step, notifier, validator};
use crate::wit::{World, since_v0_1_0};

pub use crate::wit::{API_PACKAGE, API_VERSION, api_versions, check_api_version};

/// What a component is made of, and how each of its imports fares against this host.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inspection {
    /// SHA-256 of the file, lowercase hex.
    pub digest: String,
    /// Bytes.
    pub size: usize,
    /// The world whose exports the component has, all of them.
    pub world: Option<World>,
    /// Versions of [`API_PACKAGE`] named by its imports, e.g. `0.1.0`; usually one.
    pub api_versions: Vec<String>,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
}

/// One import of the component.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Import {
    /// As the component names it, e.g. `wasi:cli/environment@0.2.3`.
    pub name: String,
    /// `instance`, `func`, `resource`…
    pub kind: &'static str,
    #[serde(flatten)]
    pub link: Link,
}

/// Whether this host's linker satisfies an import.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "kebab-case")]
pub enum Link {
    Provided,
    /// Nothing of that name (or, for an interface, some function of it) is linked.
    Missing(String),
    /// Linked, but with a different type.
    Mismatch(String),
}

/// One export of the component.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Export {
    pub name: String,
    pub kind: &'static str,
}

impl Inspection {
    /// Whether every import is provided.
    pub fn links(&self) -> bool {
        self.imports.iter().all(|i| i.link == Link::Provided)
    }

    /// The exports `world` requires that the component lacks.
    pub fn missing_exports(&self, world: World) -> Vec<&'static str> {
        world
            .exports()
            .iter()
            .copied()
            .filter(|name| !self.exports.iter().any(|e| e.name == *name))
            .collect()
    }

    /// The exports beyond what `world` requires; the host never calls them.
    pub fn extra_exports(&self, world: World) -> Vec<&Export> {
        self.exports
            .iter()
            .filter(|e| !world.exports().contains(&e.name.as_str()))
            .collect()
    }
}

impl Runtime {
    /// Compiles `bytes` (or reads it from the cache) and reports its world, API version,
    /// imports and exports, without needing it to link: a component this host cannot run
    /// is inspected all the same, each unsatisfied import named.
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Result<Inspection, Error> {
        let digest = hex(&Sha256::digest(bytes));
        let label = format!("{name} (sha256:{})", &digest[..12]);
        let (component, _) = self.compile(&label, &digest, bytes)?;
        let ty = component.component_type();
        let mut problems = self.unlinked_imports(&component);
        let api_versions = api_versions(&self.engine, &component);
        let imports = ty
            .imports(&self.engine)
            .map(|(name, item)| Import {
                name: name.to_owned(),
                kind: kind(&item.ty),
                link: problems.remove(name).unwrap_or(Link::Provided),
            })
            .collect();
        let exports = ty
            .exports(&self.engine)
            .map(|(name, item)| Export {
                name: name.to_owned(),
                kind: kind(&item.ty),
            })
            .collect();
        Ok(Inspection {
            digest,
            size: bytes.len(),
            world: World::of(&self.engine, &component),
            api_versions,
            imports,
            exports,
        })
    }

    /// Instantiates `plugin` once in a sandbox and loads `world`'s exports with their
    /// types, which is where a `transform` with the wrong signature is caught.
    pub fn check_exports(&self, plugin: &Plugin, world: World) -> Result<(), Error> {
        let limits = Limits::default();
        self.call(plugin, &limits, |store, instance| match world {
            World::Backfill => backfill::Backfill::new(&mut *store, instance).map(drop),
            World::DataStep => data_step::DataStep::new(&mut *store, instance).map(drop),
            World::Validator => validator::Validator::new(&mut *store, instance).map(drop),
            World::Notifier if plugin.api == since_v0_1_0::VERSION => {
                since_v0_1_0::notifier::Notifier::new(&mut *store, instance).map(drop)
            }
            World::Notifier => notifier::Notifier::new(&mut *store, instance).map(drop),
        })
        .map(drop)
    }

    /// The imports this host's linker does not satisfy, each with the linker's reason.
    fn unlinked_imports(&self, component: &Component) -> BTreeMap<String, Link> {
        let ty = component.component_type();
        let items: Vec<(String, ComponentItem)> = ty
            .imports(&self.engine)
            .map(|(name, item)| (name.to_owned(), item.ty))
            .collect();
        let mut probe: Linker<State> = self.linker.clone();
        probe.allow_shadowing(true);
        // Per import: the items the linker lacks, or the first other reason it gave.
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut problems: BTreeMap<String, Link> = BTreeMap::new();
        let mut stubbed: Vec<(String, Vec<String>)> = Vec::new();
        // Each round stubs one more item, so the items of all imports bound the rounds.
        let rounds = items
            .iter()
            .map(|(_, i)| leaves(&self.engine, i))
            .sum::<usize>()
            + 1;
        for _ in 0..rounds {
            let Err(e) = probe.instantiate_pre(component) else {
                break;
            };
            let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
            let Some(name) = unsatisfied_import(&e) else {
                problems.insert("(component)".to_owned(), Link::Mismatch(format!("{e:#}")));
                break;
            };
            let path = export_path(&causes);
            let item = items
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, item)| descend(&self.engine, item, &path));
            let key = (name.clone(), path.clone());
            let repeat = stubbed.contains(&key);
            match describe_failure(&causes) {
                Link::Missing(_) if !path.is_empty() => {
                    missing
                        .entry(name.clone())
                        .or_default()
                        .push(path.join("."));
                }
                link => {
                    problems.entry(name.clone()).or_insert(link);
                }
            }
            let done = match item {
                Some(item) if !repeat => {
                    stub_at(&mut probe, &self.engine, &name, &path, &item).is_ok()
                }
                _ => false,
            };
            if !done {
                // The linker cannot be got past this import: what it would have said about
                // the imports after it is unknown, and nothing is claimed for them.
                let at = items.iter().position(|(n, _)| *n == name).unwrap_or(0);
                for (later, _) in &items[at + 1..] {
                    problems.entry(later.clone()).or_insert_with(|| {
                        Link::Mismatch(format!("not checked: the linker stopped at `{name}`"))
                    });
                }
                break;
            }
            stubbed.push(key);
        }
        for (name, names) in missing {
            problems.entry(name).or_insert_with(|| {
                let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
                let more = names.len().saturating_sub(3);
                Link::Missing(format!(
                    "this host has no {}{} there",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ))
            });
        }
        problems
    }
}

/// The import named by the linker's "component imports instance `NAME`, but a matching
/// implementation was not found in the linker".
fn unsatisfied_import(e: &wasmtime::Error) -> Option<String> {
    let message = e.to_string();
    let rest = message.strip_prefix("component imports ")?;
    let start = rest.find('`')? + 1;
    let end = start + rest[start..].find('`')?;
    Some(rest[start..end].to_owned())
}

/// The exports named by "instance export `X` has the wrong type" causes, outermost first.
fn export_path(causes: &[String]) -> Vec<String> {
    causes
        .iter()
        .filter_map(|c| {
            let rest = c.strip_prefix("instance export `")?;
            rest.split_once('`').map(|(name, _)| name.to_owned())
        })
        .collect()
}

/// Turns the linker's chain of causes ("instance export `open` has the wrong type",
/// "function implementation is missing") into one verdict a person reads.
fn describe_failure(causes: &[String]) -> Link {
    let path = export_path(causes);
    let last = causes.last().map(String::as_str).unwrap_or("");
    match last.strip_suffix(" implementation is missing") {
        Some(kind) if !path.is_empty() => Link::Missing(format!(
            "this host has no {kind} `{}` there",
            path.join(".")
        )),
        Some(kind) => Link::Missing(format!("this host has no such {kind}")),
        None => Link::Mismatch(causes.join(": ")),
    }
}

/// How many functions and resources `item` holds, counting through instances.
fn leaves(engine: &wasmtime::Engine, item: &ComponentItem) -> usize {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .map(|(_, e)| leaves(engine, &e.ty))
            .sum::<usize>()
            .max(1),
        _ => 1,
    }
}

/// The item at `path` inside `item`.
fn descend(
    engine: &wasmtime::Engine,
    item: &ComponentItem,
    path: &[String],
) -> Option<ComponentItem> {
    let Some((first, rest)) = path.split_first() else {
        return Some(item.clone());
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return None;
    };
    let inner = instance
        .exports(engine)
        .find(|(name, _)| name == first)
        .map(|(_, e)| e.ty)?;
    descend(engine, &inner, rest)
}

/// Defines the one item at `name` / `path` in `linker` as a stub that traps, so that the
/// next round of [`Runtime::unlinked_imports`] gets past it.
fn stub_at(
    linker: &mut Linker<State>,
    engine: &wasmtime::Engine,
    name: &str,
    path: &[String],
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    let mut root = linker.root();
    let Some((leaf, parents)) = path.split_last() else {
        return stub(&mut root, engine, name, item);
    };
    let mut instance = root.into_instance(name)?;
    for parent in parents {
        instance = instance.into_instance(parent)?;
    }
    stub(&mut instance, engine, leaf, item)
}

/// Defines `name` in `linker` as functions that trap (and resources of its own).
fn stub(
    linker: &mut LinkerInstance<'_, State>,
    engine: &wasmtime::Engine,
    name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => linker.func_new(name, |_, _, _, _| {
            Err(wasmtime::Error::msg("a stub for inspection only"))
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stub(&mut inner, engine, export, &item.ty)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            struct Stub;
            linker.resource(name, ResourceType::host::<Stub>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}

fn kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "func",
        ComponentItem::CoreFunc(_) => "core func",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linker_causes_read_as_one_sentence() {
        let causes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            describe_failure(&causes(&[
                "instance export `open` has the wrong type",
                "function implementation is missing"
            ])),
            Link::Missing("this host has no function `open` there".into())
        );
        assert_eq!(
            describe_failure(&causes(&[
                "instance export `log` has the wrong type",
                "type mismatch"
            ])),
            Link::Mismatch("instance export `log` has the wrong type: type mismatch".into())
        );
    }

    #[test]
    fn api_versions_within_the_minor_are_compatible() {
        assert!(check_api_version("0.1.0").is_ok());
        assert!(check_api_version("0.1.7").is_ok());
        assert!(check_api_version("0.2.0").is_ok());
        assert!(check_api_version("0.2.3").is_ok());
        let err = check_api_version("0.3.0").unwrap_err();
        assert!(err.contains("supports API 0.1"), "{err}");
        assert!(err.contains("0.2 (godwit:plugin@0.2.x)"), "{err}");
        let err = check_api_version("1.0.0").unwrap_err();
        assert!(err.contains("godwit:plugin@1.0.0"), "{err}");
        assert!(check_api_version("one").is_err());
    }
}
