//! `godwit new`: a new migration in the folder's own layout, with a version no other
//! migration has. Scripts run `godwit new` several times in one second; a timestamp alone
//! would give them all the same version, so the new one goes past the newest there is.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::Version;
use super::layout::{Layout, LayoutSpec, detect, existing_versions};
use crate::Error;

/// What to create.
pub struct NewMigration<'a> {
    /// Already normalised: lower case, words joined by `_`.
    pub name: &'a str,
    /// A plugin step run by this `[plugins.NAME]` instead of SQL.
    pub step: Option<&'a str>,
}

/// Creates the migration's files under `dir`; returns them, as created.
pub fn create(
    dir: &Path,
    spec: &LayoutSpec,
    new: &NewMigration,
    now: NaiveDateTime,
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::source(dir, format!("cannot create the migrations folder: {e}")))?;
    let layout = match (&spec.pattern, spec.layout) {
        (Some(_), _) => None,
        (None, Some(layout)) => Some(layout),
        (None, None) => Some(detect(dir)?),
    };
    if layout == Some(Layout::Drizzle) {
        return Err(Error::Config(
            "Drizzle Kit lists its migrations in meta/_journal.json, which godwit does not write: \
             create the migration with `drizzle-kit generate` (`--custom` for an empty one)"
                .into(),
        ));
    }
    if new.step.is_some() && layout != Some(Layout::Godwit) {
        return Err(Error::Config(format!(
            "plugin steps are migrations in godwit's own layout (a directory with step.toml); {} is read as {}",
            dir.display(),
            layout.map_or("a `pattern`", Layout::name)
        )));
    }
    let existing = existing_versions(dir, spec)?;
    let version = next_version(&existing, layout, now);
    let v = version.as_str();
    let name = new.name;
    let undo = format!("-- Undo {name}.\n\n");
    let up = format!("-- {name}\n-- Directives go here, e.g. -- godwit:no-transaction\n\n");
    let files: Vec<(PathBuf, String)> = match layout {
        None => {
            let pattern = spec.pattern.as_deref().unwrap_or_default();
            let render = |direction: &str| {
                dir.join(
                    pattern
                        .replace("{version}", v)
                        .replace("{name}", name)
                        .replace("{direction}", direction),
                )
            };
            let mut files = vec![(render("up"), up)];
            if pattern.contains("{direction}") {
                files.push((render("down"), undo));
            }
            files
        }
        Some(Layout::Godwit) => {
            let at = dir.join(format!("{v}_{name}"));
            match new.step {
                Some(plugin) => vec![
                    (at.join("step.toml"), step_toml(name, plugin)),
                    (
                        at.join("down.sql"),
                        format!(
                            "-- Undo {name}, or delete this file if the step cannot be undone.\n\n"
                        ),
                    ),
                ],
                None => vec![(at.join("up.sql"), up), (at.join("down.sql"), undo)],
            }
        }
        Some(Layout::Diesel) => {
            let at = dir.join(format!("{}_{name}", diesel_version(v)));
            vec![(at.join("up.sql"), up), (at.join("down.sql"), undo)]
        }
        Some(Layout::Prisma) => vec![(
            dir.join(format!("{v}_{name}/migration.sql")),
            format!("-- {name}\n\n"),
        )],
        Some(Layout::Sqlx | Layout::GolangMigrate | Layout::Popx) => vec![
            (dir.join(format!("{v}_{name}.up.sql")), up),
            (dir.join(format!("{v}_{name}.down.sql")), undo),
        ],
        Some(Layout::Goose) => vec![(
            dir.join(format!("{v}_{name}.sql")),
            "-- +goose Up\n\n-- +goose Down\n".to_string(),
        )],
        Some(Layout::Dbmate) => vec![(
            dir.join(format!("{v}_{name}.sql")),
            "-- migrate:up\n\n-- migrate:down\n".to_string(),
        )],
        Some(Layout::Flyway) => vec![(dir.join(format!("V{v}__{name}.sql")), up)],
        Some(Layout::Drizzle) => unreachable!("refused above"),
    };
    let mut created = Vec::new();
    for (path, text) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::source(parent, format!("cannot create: {e}")))?;
        }
        // Never overwrite: another `godwit new` may have taken this name a moment ago.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::source(&path, format!("cannot create: {e}")))?;
        file.write_all(text.as_bytes())
            .map_err(|e| Error::source(&path, format!("cannot write: {e}")))?;
        created.push(path);
    }
    Ok(created)
}

fn step_toml(name: &str, plugin: &str) -> String {
    format!(
        "# {name}: a plugin step. godwit runs it batch by batch, each batch in its own\n\
         # transaction with its checkpoint, and resumes it where it stopped.\n\
         plugin = \"{plugin}\"   # a [plugins.{plugin}] of godwit.toml\n\n\
         # Settings for the plugin; they override [plugins.{plugin}.config] key by key.\n\
         [config]\n\n\
         [batch]\n\
         # size = 1000          # first batch; later ones adapt to `target`\n\
         # target = \"250ms\"    # how long a batch should take\n\
         # pause = \"0ms\"       # sleep between batches\n\
         # max_rows_per_second = 0\n\
         # max_replication_lag = \"5s\"  # wait while a replica lags more (godwit.toml [throttle])\n\
         # health_query = \"SELECT ...\"  # wait while this returns false\n"
    )
}

/// `20160815133237` → `2016-08-15-133237`, as `diesel migration generate` names them.
/// diesel 2.2 adds four digits: `201608151332370000` → `2016-08-15-133237-0000`.
fn diesel_version(v: &str) -> String {
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return v.to_string();
    }
    match v.len() {
        14 => format!("{}-{}-{}-{}", &v[..4], &v[4..6], &v[6..8], &v[8..]),
        18 => format!(
            "{}-{}-{}-{}-{}",
            &v[..4],
            &v[4..6],
            &v[6..8],
            &v[8..14],
            &v[14..]
        ),
        _ => v.to_string(),
    }
}

/// The version for a migration created at `now`: a timestamp (popx adds six digits), or
/// the next number in a folder numbered 1, 2, 3…; in either case past every version
/// already there, so two migrations created in the same second still differ.
pub fn next_version(existing: &[Version], layout: Option<Layout>, now: NaiveDateTime) -> Version {
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let newest = existing
        .iter()
        .filter(|v| !v.is_repeatable())
        .max()
        .map(|v| v.as_str().split('.').next().unwrap_or("0").to_string());
    // popx adds six digits; diesel 2.2 four, in a folder that has them already.
    let stamp = match layout {
        Some(Layout::Popx) => format!("{stamp}000000"),
        Some(Layout::Diesel) if existing.iter().any(|v| v.as_str().len() == 18) => {
            format!("{stamp}0000")
        }
        _ => stamp,
    };
    let Some(newest) = newest else {
        return Version::parse(&stamp).expect("digits");
    };
    let number = |s: &str| s.parse::<u128>().unwrap_or(u128::MAX);
    // A folder numbered 1, 2, 3 (golang-migrate -seq, Flyway V1, V2) goes on numbering.
    let sequential = newest.len() < 10;
    // Compared as versions are ordered: by time, whatever the precision.
    let as_version = |s: &str| Version::parse(s).expect("digits");
    if !sequential && as_version(&stamp) > as_version(&newest) {
        return as_version(&stamp);
    }
    // A timestamp plus one second stays a timestamp; anything else plus one, same width.
    let next = match NaiveDateTime::parse_from_str(&newest, "%Y%m%d%H%M%S") {
        Ok(t) if newest.len() == 14 => (t + chrono::Duration::seconds(1))
            .format("%Y%m%d%H%M%S")
            .to_string(),
        _ => format!(
            "{:0width$}",
            number(&newest).saturating_add(1),
            width = newest.len()
        ),
    };
    Version::parse(&next).expect("digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").unwrap()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// crates.io mixes diesel's `YYYY-MM-DD-HHMMSS` and 2.2's `…-NNNN`: a new one is
    /// named for now, in the newer form, not the newest version plus one.
    #[test]
    fn diesel_folders_get_a_timestamp_of_their_own_precision() {
        let now = at("20261206021500");
        let diesel = Some(Layout::Diesel);
        let mixed = [v("20260527120000"), v("202607301400000001")];
        let next = next_version(&mixed, diesel, now);
        assert_eq!(next.as_str(), "202612060215000000");
        assert_eq!(diesel_version(next.as_str()), "2026-12-06-021500-0000");
        let old_style = [v("20260527120000")];
        assert_eq!(
            next_version(&old_style, diesel, now).as_str(),
            "20261206021500"
        );
        // Created in the same second as the newest: one past it, same form.
        let same = [v("202612060215000000")];
        assert_eq!(
            next_version(&same, diesel, now).as_str(),
            "202612060215000001"
        );
    }

    #[test]
    fn versions_go_past_the_newest() {
        let now = at("20260101120000");
        let godwit = Some(Layout::Godwit);
        assert_eq!(next_version(&[], godwit, now).as_str(), "20260101120000");
        assert_eq!(
            next_version(&[v("20251231000000")], godwit, now).as_str(),
            "20260101120000"
        );
        // Created a moment ago, in the same second.
        assert_eq!(
            next_version(&[v("20260101120000")], godwit, now).as_str(),
            "20260101120001"
        );
        assert_eq!(
            next_version(&[v("20260101120059")], godwit, now).as_str(),
            "20260101120100",
            "still a timestamp"
        );
        // popx's 20 digits: the last six count steps within one second.
        let popx = Some(Layout::Popx);
        assert_eq!(
            next_version(&[], popx, now).as_str(),
            "20260101120000000000"
        );
        assert_eq!(
            next_version(&[v("20260101120000000000")], popx, now).as_str(),
            "20260101120000000001"
        );
        // Numbered folders go on numbering, with their padding.
        let gm = Some(Layout::GolangMigrate);
        assert_eq!(
            next_version(&[v("000001"), v("000002")], gm, now).as_str(),
            "000003"
        );
        assert_eq!(
            next_version(&[v("9")], Some(Layout::Flyway), now).as_str(),
            "10"
        );
        assert_eq!(
            next_version(&[v("1.1")], Some(Layout::Flyway), now).as_str(),
            "2"
        );
    }

    #[test]
    fn twice_in_one_second_in_every_layout() {
        let now = at("20260101120000");
        let cases: &[(Option<Layout>, Option<&str>)] = &[
            (Some(Layout::Godwit), None),
            (Some(Layout::Diesel), None),
            (Some(Layout::Prisma), None),
            (Some(Layout::Sqlx), None),
            (Some(Layout::GolangMigrate), None),
            (Some(Layout::Goose), None),
            (Some(Layout::Dbmate), None),
            (Some(Layout::Flyway), None),
            (Some(Layout::Popx), None),
            (None, Some("V{version}.{name}.{direction}.sql")),
        ];
        for (layout, pattern) in cases {
            let dir = tempfile::tempdir().unwrap();
            let spec = LayoutSpec {
                layout: *layout,
                pattern: pattern.map(str::to_string),
            };
            for name in ["create_users", "create_posts", "index_posts"] {
                create(dir.path(), &spec, &NewMigration { name, step: None }, now).unwrap();
            }
            for dialect in [crate::Dialect::Postgres, crate::Dialect::Sqlite] {
                let read = super::super::read(dir.path(), &spec, dialect)
                    .unwrap_or_else(|e| panic!("{layout:?} {pattern:?}: {e}"));
                let names: Vec<&str> = read.iter().map(|m| m.name.as_str()).collect();
                assert_eq!(
                    names,
                    vec!["create_users", "create_posts", "index_posts"],
                    "{layout:?} {pattern:?}"
                );
            }
        }
    }

    #[test]
    fn diesel_names_its_directories_with_dashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("00000000000000_diesel_initial_setup")).unwrap();
        std::fs::write(
            dir.path()
                .join("00000000000000_diesel_initial_setup/up.sql"),
            "SELECT 1;",
        )
        .unwrap();
        let made = create(
            dir.path(),
            &LayoutSpec::default(),
            &NewMigration {
                name: "create_users",
                step: None,
            },
            at("20260101120000"),
        )
        .unwrap();
        assert!(
            made[0].ends_with("2026-01-01-120000_create_users/up.sql"),
            "{made:?}"
        );
    }

    #[test]
    fn drizzle_and_steps_elsewhere_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("meta")).unwrap();
        std::fs::write(dir.path().join("meta/_journal.json"), r#"{"entries":[]}"#).unwrap();
        let new = NewMigration {
            name: "create_users",
            step: None,
        };
        let err = create(
            dir.path(),
            &LayoutSpec::default(),
            &new,
            at("20260101120000"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("drizzle-kit generate"), "{err}");
        let sqlx = LayoutSpec {
            layout: Some(Layout::Sqlx),
            pattern: None,
        };
        let step = NewMigration {
            name: "backfill_emails",
            step: Some("column-copy"),
        };
        let err = create(dir.path(), &sqlx, &step, at("20260101120000"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("godwit's own layout"), "{err}");
    }
}
