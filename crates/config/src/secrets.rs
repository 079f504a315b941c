//! Secret files (platform token, HMAC secret, pseudonym key, SIM PIN): read them, refusing files
//! that other users can read — a leaked signing secret lets anyone forge reports, a leaked
//! pseudonym key lets anyone link pseudonyms back to phone numbers — and create the pseudonym
//! key on first start (only then: a new key gives every reporter a new pseudonym).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read secret file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "secret file {path} can be read by other users (mode {mode:03o}); run: chmod 600 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error(
        "secret file {path} belongs to user id {owner}, not to the user running this command \
         ({user}); run: chown $(id -u) {path}"
    )]
    NotOwned {
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error("secret file {path} is empty")]
    Empty { path: PathBuf },
    #[error("token file {path} is not a single line of printable ASCII")]
    NotAToken { path: PathBuf },
    #[error("PIN file {path} must hold 4 to 8 digits")]
    NotAPin { path: PathBuf },
    #[error(
        "the pseudonym key {path} is missing, but this gateway has already named reporters with a key: \
         restore the file from a backup (chmod 600). A new key would give every reporter a new \
         pseudonym; to start over on purpose, follow \"Rotating the pseudonym key\" in docs/privacy.md"
    )]
    KeyMissing { path: PathBuf },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The file's bytes without trailing whitespace (an editor's or `echo`'s final newline is not
/// part of the secret). The file must not be accessible to group or others.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    let read_error = |source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = std::fs::read(path).map_err(read_error)?;
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// Like `read_secret`, and the file must belong to the user running this process: what the
/// reference receiver asks of its token and secret files, so a file planted by another account
/// cannot become a credential.
pub fn read_owned_secret(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| SecretFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let user = nix::unistd::geteuid().as_raw();
    if meta.uid() != user {
        return Err(SecretFileError::NotOwned {
            path: path.to_path_buf(),
            owner: meta.uid(),
            user,
        });
    }
    read_secret(path)
}

/// A bearer token: like `read_secret`, and it must fit in an HTTP header (visible ASCII).
pub fn read_token(path: &Path) -> Result<String, SecretFileError> {
    let bytes = read_secret(path)?;
    let not_a_token = || SecretFileError::NotAToken {
        path: path.to_path_buf(),
    };
    if !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(not_a_token());
    }
    String::from_utf8(bytes).map_err(|_| not_a_token())
}

/// A SIM PIN: like `read_secret`, and 4 to 8 digits.
pub fn read_pin(path: &Path) -> Result<String, SecretFileError> {
    let bytes = read_secret(path)?;
    if !(4..=8).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(SecretFileError::NotAPin {
            path: path.to_path_buf(),
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads the pseudonym key; when the file does not exist and `first_start` says the box has never
/// named a reporter, creates a random one (mode 0600). A key missing later is an error: a new one
/// would silently change every reporter's pseudonym and break the platform's follow-up.
pub fn read_or_create_key(path: &Path, first_start: bool) -> Result<Vec<u8>, SecretFileError> {
    if path.exists() {
        return read_secret(path);
    }
    if !first_start {
        return Err(SecretFileError::KeyMissing {
            path: path.to_path_buf(),
        });
    }
    let create = |source| SecretFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(create)?;
    }
    let key: [u8; 32] = rand::random();
    let encoded = hex::encode(key);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(create)?;
    f.write_all(encoded.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(create)?;
    tracing::info!(file = %path.display(), "created a new pseudonym key");
    Ok(encoded.into_bytes())
}

/// Writes a secret file readable only by its owner (the demo and tests use it).
pub fn write_secret(path: &Path, content: &[u8]) -> Result<(), SecretFileError> {
    let create = |source| SecretFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(create)?;
    f.write_all(content).map_err(create)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;

    fn write(dir: &Path, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_private_file_is_read_without_its_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "secret", b"s3cret bytes\n", 0o600);
        assert_eq!(read_secret(&path).unwrap(), b"s3cret bytes");
        let path = write(dir.path(), "token", b"abc.DEF-123\r\n", 0o400);
        assert_eq!(read_token(&path).unwrap(), "abc.DEF-123");
    }

    #[test]
    fn a_readable_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "secret", b"x", 0o644);
        let err = read_secret(&path).unwrap_err();
        assert!(matches!(err, SecretFileError::TooOpen { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn missing_empty_and_bad_tokens_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            read_secret(&missing),
            Err(SecretFileError::Read { .. })
        ));
        let empty = write(dir.path(), "empty", b"\n\n", 0o600);
        assert!(matches!(
            read_secret(&empty),
            Err(SecretFileError::Empty { .. })
        ));
        let spaced = write(dir.path(), "spaced", b"two words\n", 0o600);
        assert!(matches!(
            read_token(&spaced),
            Err(SecretFileError::NotAToken { .. })
        ));
    }

    #[test]
    fn key_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pseudonym.key");
        let a = read_or_create_key(&path, true).unwrap();
        let b = read_or_create_key(&path, false).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_key_missing_after_the_first_start_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pseudonym.key");
        let err = read_or_create_key(&path, false).unwrap_err();
        assert!(matches!(err, SecretFileError::KeyMissing { .. }));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(!path.exists(), "no new key in its place");
    }

    #[test]
    fn a_pin_is_four_to_eight_digits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        write_secret(&path, b"1234\n").unwrap();
        assert_eq!(read_pin(&path).unwrap(), "1234");
        write_secret(&path, b"12a4").unwrap();
        assert!(matches!(
            read_pin(&path),
            Err(SecretFileError::NotAPin { .. })
        ));
    }
}
