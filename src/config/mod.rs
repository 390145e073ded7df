//! Station and profile configuration: TOML files parsed with serde, unknown keys rejected, and
//! every error located at file, line, column and key.

pub mod check;
mod policy;
mod profile;
mod sim_fixture;
mod station;
pub mod unit_data;

pub use check::{CheckReport, CheckedImages, check_station};
pub use profile::{
    BootFrom, BorLevel, ConsoleTest, Core, DfuMode, DfuSettings, EraseStrategy, ImageRole,
    ImageSpec, Limit, MemoryMap, OptionBytesSpec, Profile, Region, Slot, StepPolicy,
};
pub use station::{
    Fixture, FixtureBackend, FixtureSpans, GeneratedBootloader, GoldenPolicy, Initial, LinesSpec,
    OperatorPolicy, PowerSpec, ReworkPolicy, SimSpec, Station, StationMode, UsbIdentitySpec,
    load_station,
};

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// The largest station or profile file read: a config is a few KiB; a device file or a
/// mistaken path (`/dev/zero`) must not exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The largest image file read (an ELF with debug information included).
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Read at most `limit` bytes of `path`; a longer file is an error, found without reading it
/// all.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "it is larger than {limit} bytes"
        )));
    }
    Ok(bytes)
}

/// A configuration error, located so that a person can go straight to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `fixtures[1].probe`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A list of config errors, shown one per line.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

/// A parsed TOML file with what is needed to locate things in it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn read(
        path: &Path,
        referenced_from: Option<(&SourceFile, std::ops::Range<usize>, &str)>,
    ) -> Result<Self, ConfigError> {
        let failed = |message: String| match referenced_from {
            Some((src, span, key)) => src.error_at(
                span,
                key,
                format!("cannot read {}: {message}", path.display()),
            ),
            None => ConfigError {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!("cannot read the file: {message}"),
            },
        };
        let bytes = read_bounded(path, MAX_CONFIG_BYTES).map_err(|e| failed(e.to_string()))?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => {
                // Locate the first byte that is not UTF-8, as any other error in the file.
                let at = e.utf8_error().valid_up_to();
                let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let partial = Self {
                    path: path.to_path_buf(),
                    text: valid,
                };
                let (line, column) = partial.line_col(at);
                Err(ConfigError {
                    file: path.to_path_buf(),
                    line,
                    column,
                    key: String::new(),
                    message: format!(
                        "byte {:#04x} is not UTF-8: expected a UTF-8 text file",
                        e.as_bytes()[at]
                    ),
                })
            }
        }
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    pub fn error_at(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub fn sha256(&self) -> String {
        crate::image::sha256_hex(self.text.as_bytes())
    }

    /// Deserialize the whole file, locating any error and naming its key path.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let deserializer =
            toml::Deserializer::parse(&self.text).map_err(|e| self.toml_error(&e, ""))?;
        serde_path_to_error::deserialize(deserializer)
            .map_err(|e| self.toml_error(e.inner(), &key_path(e.path())))
    }

    fn toml_error(&self, e: &toml::de::Error, key: &str) -> ConfigError {
        let (line, column) = e.span().map_or((0, 0), |s| self.line_col(s.start));
        let message = e.message().trim().replace('\n', " ");
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }
}

/// The dotted key path of a deserialization error, as a person wrote it: `toml::Spanned`
/// wraps its value in a private field whose name must not leak into messages.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: k } | Segment::Enum { variant: k } => {
                if k.starts_with("$__serde_spanned_private") {
                    continue;
                }
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

/// Resolve a path written in a config file against that file's directory.
pub fn resolve(base_file: &Path, written: &Path) -> PathBuf {
    let joined = if written.is_absolute() {
        written.to_path_buf()
    } else {
        base_file.parent().unwrap_or(Path::new(".")).join(written)
    };
    // Fold `dir/..` away so that paths shown to people read plainly.
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => match out.components().next_back() {
                Some(std::path::Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(std::path::Component::RootDir | std::path::Component::Prefix(_)) => {}
                _ => out.push(part),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// Parse "VID:PID" (hex) as written in configs.
pub fn parse_vid_pid(s: &str) -> Option<(u16, u16)> {
    let (v, p) = s.split_once(':')?;
    let hex = |x: &str| {
        let x = x.trim();
        let x = x.strip_prefix("0x").unwrap_or(x);
        (x.len() == 4)
            .then(|| u16::from_str_radix(x, 16).ok())
            .flatten()
    };
    Some((hex(v)?, hex(p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_folds_parent_dirs() {
        let station = Path::new("stations/virtual.toml");
        assert_eq!(
            resolve(station, Path::new("../profiles/f407-demo.toml")),
            PathBuf::from("profiles/f407-demo.toml")
        );
        assert_eq!(
            resolve(station, Path::new("./a/./b/../c.bin")),
            PathBuf::from("stations/a/c.bin")
        );
        assert_eq!(resolve(station, Path::new("..")), PathBuf::from("."));
    }

    #[test]
    fn resolve_keeps_leading_parent_dirs() {
        assert_eq!(
            resolve(Path::new("virtual.toml"), Path::new("../logs")),
            PathBuf::from("../logs")
        );
        assert_eq!(
            resolve(Path::new("../s/virtual.toml"), Path::new("../../x")),
            PathBuf::from("../../x")
        );
    }

    #[test]
    fn resolve_absolute() {
        assert_eq!(
            resolve(Path::new("stations/v.toml"), Path::new("/abs/../p/x.toml")),
            PathBuf::from("/p/x.toml")
        );
        assert_eq!(
            resolve(Path::new("/etc/v.toml"), Path::new("../../x")),
            PathBuf::from("/x")
        );
    }

    #[test]
    fn spanned_fields_do_not_leak_into_key_paths() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            rdp: toml::Spanned<u8>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            option_bytes: Inner,
        }
        let src = SourceFile {
            path: PathBuf::from("p.toml"),
            text: "[option_bytes]\nrdp = \"high\"\n".into(),
        };
        let e = src.parse::<Outer>().unwrap_err();
        assert_eq!(e.key, "option_bytes.rdp");
        assert_eq!((e.line, e.column), (2, 7));
    }
}
