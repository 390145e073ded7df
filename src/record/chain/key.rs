//! The station key: 32 random bytes, as hex in `<key dir>/<station>.key`, mode 0600, made on
//! first use and never kept inside the records directory.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::hex;
use crate::record::RecordError;
use crate::record::atomic::sync_dir;
use crate::record::paths::safe_component;

/// Overrides where keys live (tests use a temp dir; a station may keep keys on a token).
pub const KEY_DIR_VAR: &str = "STATION_KEY_DIR";
const KEY_LEN: usize = 32;

pub struct Key([u8; KEY_LEN]);

impl Key {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// `$STATION_KEY_DIR`, else `$XDG_CONFIG_HOME/station/keys`, else `~/.config/station/keys`.
pub fn default_key_dir() -> Result<PathBuf, RecordError> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = set(KEY_DIR_VAR) {
        return Ok(PathBuf::from(dir));
    }
    let home = || {
        set("HOME")
            .or_else(|| set("USERPROFILE"))
            .map(PathBuf::from)
    };
    set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home().map(|home| home.join(".config")))
        .map(|config| config.join("station").join("keys"))
        .ok_or_else(|| RecordError::invalid(format!("no home directory: set {KEY_DIR_VAR}")))
}

/// `<key dir>/<station id, file-name safe>.key`.
pub fn key_path(key_dir: &Path, station: &str) -> PathBuf {
    key_dir.join(format!("{}.key", safe_component(station)))
}

/// The key of an existing chain; `KeyMissing` if this machine does not have it.
pub fn load(key_dir: &Path, station: &str, records: &Path) -> Result<Key, RecordError> {
    let path = key_path(key_dir, station);
    match fs::read(&path) {
        Ok(bytes) => {
            check_outside(key_dir, records)?;
            parse(&path, &bytes)
        }
        Err(err) if err.kind() == ErrorKind::NotFound => Err(RecordError::KeyMissing {
            path,
            records: records.to_path_buf(),
        }),
        Err(err) => Err(RecordError::io(&path, err)),
    }
}

/// The key for a new chain, made (mode 0600) if this station has none yet.
pub fn load_or_create(key_dir: &Path, station: &str, records: &Path) -> Result<Key, RecordError> {
    make_dir(key_dir)?;
    check_outside(key_dir, records)?;
    match load(key_dir, station, records) {
        Err(RecordError::KeyMissing { path, .. }) => create(key_dir, &path),
        other => other,
    }
}

/// A warning when the key file can be read by other users.
pub fn mode_notice(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "key file {} has mode {mode:03o}: other users can read it (chmod 600)",
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn check_outside(key_dir: &Path, records: &Path) -> Result<(), RecordError> {
    let canonical = |path: &Path| fs::canonicalize(path).map_err(|err| RecordError::io(path, err));
    if canonical(key_dir)?.starts_with(canonical(records)?) {
        return Err(RecordError::invalid(format!(
            "the key directory {} is inside the records directory {}: a key kept beside the \
             records protects nothing (set {KEY_DIR_VAR} to a directory outside it)",
            key_dir.display(),
            records.display()
        )));
    }
    Ok(())
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Key, RecordError> {
    let text = std::str::from_utf8(bytes).unwrap_or_default().trim();
    let mut key = [0u8; KEY_LEN];
    let ok = text.len() == 2 * KEY_LEN
        && key.iter_mut().enumerate().all(|(i, byte)| {
            text.get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .map(|value| *byte = value)
                .is_some()
        });
    if ok {
        Ok(Key(key))
    } else {
        Err(RecordError::corrupt(path, "a station key is 64 hex digits"))
    }
}

fn make_dir(dir: &Path) -> Result<(), RecordError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| RecordError::io(dir, err))
}

/// Writes a fresh key beside `path` and hard-links it into place, so a second process
/// making the same key at the same moment loses cleanly and both use the winner's.
fn create(key_dir: &Path, path: &Path) -> Result<Key, RecordError> {
    let text = format!("{}\n", hex(&random_bytes()?));
    let mut temp_name = OsString::from(".");
    temp_name.push(path.file_name().unwrap_or_default());
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = key_dir.join(temp_name);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
    });
    let linked = written.and_then(|()| match fs::hard_link(&temp, path) {
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = fs::remove_file(&temp);
    linked.map_err(|err| RecordError::io(path, err))?;
    sync_dir(key_dir)?;
    let bytes = fs::read(path).map_err(|err| RecordError::io(path, err))?;
    parse(path, &bytes)
}

#[cfg(unix)]
fn random_bytes() -> Result<[u8; KEY_LEN], RecordError> {
    use std::io::Read;
    let source = Path::new("/dev/urandom");
    let mut bytes = [0u8; KEY_LEN];
    fs::File::open(source)
        .and_then(|mut file| file.read_exact(&mut bytes))
        .map_err(|err| RecordError::io(source, err))?;
    Ok(bytes)
}

/// Elsewhere: std's hasher keys, which come from the OS's random source.
#[cfg(not(unix))]
fn random_bytes() -> Result<[u8; KEY_LEN], RecordError> {
    use std::hash::{BuildHasher, RandomState};
    let mut bytes = [0u8; KEY_LEN];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = RandomState::new().hash_one(i);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Ok(bytes)
}
