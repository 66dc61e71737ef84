//! The config file may hold passwords: warn when every user on the host can read it. A
//! warning, not an error: some setups (a container with one user) do not care, and refusing
//! to start over file modes would be hostile.

use std::path::Path;

/// Whether a Unix file `mode` lets "others" read the file (pure).
pub fn world_readable(mode: u32) -> bool {
    mode & 0o004 != 0
}

/// The warning for the config at `path` when it holds passwords inline and every user can
/// read it, else `None`. The caller says it (a log line for `run`, the report for `check`).
/// A file that cannot be inspected gives no warning (loading it reports the real problem).
pub fn warn_if_world_readable(path: &Path, holds_passwords: bool) -> Option<String> {
    if !holds_passwords {
        return None;
    }
    let mode = file_mode(path)?;
    if !world_readable(mode) {
        return None;
    }
    let message = format!(
        "{} is readable by every user on this host (mode {:03o}) and holds passwords; run chmod 600 {} (or 640 with the service's group), or move the passwords to password_file",
        path.display(),
        mode & 0o777,
        path.display()
    );
    Some(message)
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_read_bit() {
        let table = [
            (0o600, false),
            (0o640, false),
            (0o644, true),
            (0o604, true),
            (0o100644, true),
            (0o100600, false),
            (0o777, true),
            (0o773, false),
        ];
        assert!(!table.is_empty());
        for (mode, expected) in table {
            assert_eq!(world_readable(mode), expected, "{mode:o}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn warns_for_a_readable_file_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = warn_if_world_readable(&path, true).expect("warned");
        assert!(w.contains("chmod 600") && w.contains("644"), "{w}");
        // Passwords only in *_file: nothing to protect in this file.
        assert_eq!(warn_if_world_readable(&path, false), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(warn_if_world_readable(&path, true), None);
        assert_eq!(
            warn_if_world_readable(&dir.path().join("missing"), true),
            None
        );
    }
}
