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
//! There is one version today, so there is no adapter yet. When the next one starts
//! (say 0.2.0), 0.1.0 freezes:
//!
//! 1. `wit/godwit-plugin.wit` as it stands is copied to `wit/since_v0.1.0/`, and
//!    `since_v0_1_0`'s bindgen points at that copy, which never changes again;
//! 2. `since_v0_2_0` is generated from `wit/` and becomes [`latest`];
//! 3. `since_v0_1_0` gets its adapter: it implements its `host` interface by converting
//!    to and from the latest types and calling the latest implementation, and its
//!    `add_to_linker` is called from `add_to_linker` beside the latest one, so that a
//!    plugin built against 0.1 still links;
//! 4. its [`VERSION`](since_v0_1_0::VERSION) stays in [`SUPPORTED`].

pub mod since_v0_1_0;

use std::fmt;

use wasmtime::component::{HasSelf, Linker};

use super::sandbox::State;

/// The version the rest of the host is written against.
pub use since_v0_1_0 as latest;

/// The WIT package plugins are written against.
pub const API_PACKAGE: &str = "godwit:plugin";

/// The version of [`API_PACKAGE`] this host implements: the newest it runs.
pub const API_VERSION: ApiVersion = latest::VERSION;

/// Every version whose plugins this host runs, oldest first: one per `since_*` module.
pub const SUPPORTED: &[ApiVersion] = &[since_v0_1_0::VERSION];

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

/// Adds the `host` interface of every supported version to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    latest::host::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_wit_package_version() {
        let wit = include_str!("../../wit/godwit-plugin.wit");
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
