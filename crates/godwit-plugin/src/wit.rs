//! The versions of the `godwit:plugin` WIT package this host runs, laid out the way Zed
//! lays out its extension API: one module per version, named for the release that
//! introduced it (`since_v0_1_0`), and [`latest`] for the one the rest of the host is
//! written against.
//!
//! [`latest::VERSION`] is the one place the API version is written in Rust; everything
//! else in the host refers to [`API_VERSION`]. `wit/godwit-plugin.wit` declares it too
//! (the bindings are generated from that file, and a test holds the two together), and so
//! do the SDKs and the plugin manifests, which a test in `tests/all` checks against it.
//!
//! When the next version starts (say 0.3.0), the latest one freezes, as 0.1.0 did:
//!
//! 1. `wit/godwit-plugin.wit` as it stands is copied to `wit/since_v0.2.0/`, and
//!    `since_v0_2_0`'s bindgen points at that copy, which never changes again;
//! 2. `since_v0_3_0` is generated from `wit/` and becomes [`latest`];
//! 3. `since_v0_2_0` gets its adapter, as [`since_v0_1_0`] has one: it implements its
//!    `host` interface by calling the latest implementation, its `add_to_linker` is
//!    called from `imports::add_to_linker` beside the latest one so that a plugin built
//!    against it still links, and its exports whose shape changed get their own
//!    bindings and a conversion from the latest types;
//! 4. its [`VERSION`](since_v0_2_0::VERSION) stays in [`SUPPORTED`].

pub mod since_v0_1_0;
pub mod since_v0_2_0;

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use godwit_core::value::Value as HostValue;
use latest::types::Value as WitValue;

/// The version the rest of the host is written against.
pub use since_v0_2_0 as latest;

/// The WIT package plugins are written against.
pub const API_PACKAGE: &str = "godwit:plugin";

/// The version of [`API_PACKAGE`] this host implements: the newest it runs.
pub const API_VERSION: ApiVersion = latest::VERSION;

/// Every version whose plugins this host runs, oldest first: one per `since_*` module.
pub const SUPPORTED: &[ApiVersion] = &[since_v0_1_0::VERSION, since_v0_2_0::VERSION];

/// A version of [`API_PACKAGE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ApiVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> ApiVersion {
        ApiVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses a semver version as a component's imports name it (`0.1.0`, `0.1.0-rc.1`);
    /// a pre-release or build suffix is not part of what it is compatible with.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let version = ApiVersion::new(
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        );
        parts.next().is_none().then_some(version)
    }

    /// `major.minor`, as plugin manifests and godwit.lock write it.
    pub fn api(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Whether a plugin built against `self` runs on a host implementing `host`, as
    /// semver has it: the same major version, and no newer minor one (for `0.x`, where
    /// every minor version may break, the same minor).
    pub fn runs_on(self, host: ApiVersion) -> bool {
        self.major == host.major
            && if host.major == 0 {
                self.minor == host.minor
            } else {
                self.minor <= host.minor
            }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl serde::Serialize for ApiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether this host runs plugins built against `version`.
pub fn supports(version: ApiVersion) -> bool {
    SUPPORTED.iter().any(|&host| version.runs_on(host))
}

/// The versions plugins may be built against, `major.minor` each, for messages.
pub fn supported_apis() -> String {
    SUPPORTED
        .iter()
        .map(|v| v.api())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `session` resource as the plugin holds it.
#[derive(Debug)]
pub struct Session {
    pub(crate) read_only: bool,
}

/// The four kinds of plugin, one per WIT world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Backfill,
    DataStep,
    Validator,
    Notifier,
}

impl World {
    pub const ALL: [World; 4] = [
        World::Backfill,
        World::DataStep,
        World::Validator,
        World::Notifier,
    ];

    /// The world's name in the WIT package.
    pub fn name(self) -> &'static str {
        match self {
            World::Backfill => "backfill",
            World::DataStep => "data-step",
            World::Validator => "validator",
            World::Notifier => "notifier",
        }
    }

    /// Parses a world's WIT name.
    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The functions a component of this world exports.
    pub fn exports(self) -> &'static [&'static str] {
        match self {
            World::Backfill => &["describe", "transform"],
            World::DataStep => &["run-batch"],
            World::Validator => &["check-migration", "check-database"],
            World::Notifier => &["notify"],
        }
    }

    /// The world's name with its article, for sentences (`a data-step`).
    pub fn with_article(self) -> &'static str {
        match self {
            World::Backfill => "a backfill",
            World::DataStep => "a data-step",
            World::Validator => "a validator",
            World::Notifier => "a notifier",
        }
    }

    /// The world whose exports `component` has, all of them; `None` if it matches none.
    pub(crate) fn of(engine: &Engine, component: &Component) -> Option<World> {
        let ty = component.component_type();
        let exported: Vec<String> = ty
            .exports(engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
            .map(|(name, _)| name.to_owned())
            .collect();
        World::ALL
            .into_iter()
            .find(|w| w.exports().iter().all(|e| exported.iter().any(|x| x == e)))
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether this host runs plugins built against `version` of [`API_PACKAGE`], as
/// [`ApiVersion::runs_on`] has it. The error says which versions it supports.
pub fn check_api_version(version: &str) -> Result<(), String> {
    let Some(parsed) = ApiVersion::parse(version) else {
        return Err(format!("`{version}` is not a semver version"));
    };
    if supports(parsed) {
        return Ok(());
    }
    let supported = SUPPORTED
        .iter()
        .map(|v| {
            if v.major == 0 {
                format!("{} ({API_PACKAGE}@{}.x)", v.api(), v.api())
            } else {
                format!("{}.x ({API_PACKAGE}@{}.x)", v.major, v.major)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let latest = API_VERSION.api();
    Err(format!(
        "built against {API_PACKAGE}@{version}, but this godwit supports API {supported} only; rebuild it with a godwit-sdk for {latest}, or use a godwit that supports {version}"
    ))
}

/// The versions of [`API_PACKAGE`] a component imports, each once.
pub fn api_versions(engine: &Engine, component: &Component) -> Vec<String> {
    let mut versions = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        if let Some(version) = name
            .strip_prefix(API_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once('@'))
            .map(|(_, version)| version.to_owned())
            && !versions.contains(&version)
        {
            versions.push(version);
        }
    }
    versions
}

// A plugin's values and the host's are the same kinds: the host's
// (`HostValue`) is what the drivers bind and read, the WIT's is what
// crosses into the sandbox.
impl From<WitValue> for HostValue {
    fn from(value: WitValue) -> HostValue {
        match value {
            WitValue::Null => HostValue::Null,
            WitValue::Boolean(b) => HostValue::Bool(b),
            WitValue::Int(i) => HostValue::Int(i),
            WitValue::Float(f) => HostValue::Float(f),
            WitValue::Text(t) => HostValue::Text(t),
            WitValue::Bytes(b) => HostValue::Bytes(b),
            WitValue::Json(j) => HostValue::Json(j),
            WitValue::Timestamp(t) => HostValue::Timestamp(t),
        }
    }
}

impl From<HostValue> for WitValue {
    fn from(value: HostValue) -> WitValue {
        match value {
            HostValue::Null => WitValue::Null,
            HostValue::Bool(b) => WitValue::Boolean(b),
            HostValue::Int(i) => WitValue::Int(i),
            HostValue::Float(f) => WitValue::Float(f),
            HostValue::Text(t) => WitValue::Text(t),
            HostValue::Bytes(b) => WitValue::Bytes(b),
            HostValue::Json(j) => WitValue::Json(j),
            HostValue::Timestamp(t) => WitValue::Timestamp(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_wit_package_version() {
        let wit = include_str!("../wit/godwit-plugin.wit");
        assert!(
            wit.contains(&format!("package {API_PACKAGE}@{API_VERSION};")),
            "latest::VERSION must be the version wit/godwit-plugin.wit declares"
        );
    }

    #[test]
    fn the_latest_version_is_the_newest_supported() {
        assert_eq!(SUPPORTED.iter().max(), Some(&API_VERSION));
        assert!(SUPPORTED.is_sorted(), "oldest first");
    }

    #[test]
    fn versions_parse_as_semver() {
        assert_eq!(ApiVersion::parse("0.1.0"), Some(ApiVersion::new(0, 1, 0)));
        assert_eq!(
            ApiVersion::parse("1.2.3-rc.1+build"),
            Some(ApiVersion::new(1, 2, 3))
        );
        for bad in ["", "0.1", "0.1.0.0", "one.1.0", "0..1"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(ApiVersion::new(0, 1, 7).to_string(), "0.1.7");
        assert_eq!(ApiVersion::new(0, 1, 7).api(), "0.1");
    }

    #[test]
    fn compatibility_follows_semver() {
        let v = ApiVersion::new;
        assert!(v(0, 1, 9).runs_on(v(0, 1, 0)));
        assert!(!v(0, 2, 0).runs_on(v(0, 1, 0)));
        assert!(!v(0, 1, 0).runs_on(v(0, 2, 0)));
        assert!(v(1, 0, 0).runs_on(v(1, 3, 0)));
        assert!(!v(1, 4, 0).runs_on(v(1, 3, 0)));
        assert!(!v(2, 0, 0).runs_on(v(1, 3, 0)));
        assert!(supports(API_VERSION));
    }
}
