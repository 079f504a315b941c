//! Secret files (platform token, HMAC secret, pseudonym key, SIM PIN): read them, warn when
//! other users could read them too, and create the pseudonym key on first start.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Reads a secret file, trimmed. Warns (does not fail) when its mode lets others read it, since
/// refusing to start would silence the box in the field over a fixable detail.
pub fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} from {}", path.display()))?;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), "the {what} file can be read by other users; run: chmod 600 {}", path.display());
    }
    let trimmed = text.trim_ascii().to_vec();
    if trimmed.is_empty() {
        anyhow::bail!("the {what} file {} is empty", path.display());
    }
    Ok(trimmed)
}

/// Reads the pseudonym key, creating a random one (mode 0600) if the file does not exist.
pub fn read_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        return read(path, "pseudonym key");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key: [u8; 32] = rand::random();
    let encoded = hex::encode(key);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the pseudonym key {}", path.display()))?;
    f.write_all(encoded.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the pseudonym key {}", path.display()))?;
    tracing::info!(file = %path.display(), "created a new pseudonym key");
    Ok(encoded.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pseudonym.key");
        let a = read_or_create_key(&path).unwrap();
        let b = read_or_create_key(&path).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn empty_or_missing_secret_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        assert!(read(&path, "platform token").is_err());
        std::fs::write(&path, "\n").unwrap();
        let e = read(&path, "platform token").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
