//! What the expansions make of files, kept between expansions.
//!
//! Every guard attribute needs what the crate's Cargo.toml and NAIS
//! manifests say. Read and parsed again by each attribute, they cost every
//! handler a parse of each. The statics of a proc-macro crate live as long
//! as the process that loaded it, one crate's compilation under rustc,
//! rust-analyzer's long-lived proc-macro server under an editor, so what a
//! file gave is kept here and handed out again while the file is unchanged:
//! what an expansion gets is a function of the files' content, never of
//! what the process expanded before.
//!
//! Unchanged means: the same length and modification time as when it was
//! read, which a `stat` tells. A file written again within the resolution
//! of its timestamps can keep both, so a file read too soon after its last
//! write (as git judges its index "racy") is read again and its content hash
//! compared, until it has been seen unchanged for longer than that
//! resolution.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// How many entries a cache keeps; past that it starts again. Far more than
/// one crate needs; a bound for a proc-macro server that lives for days.
const CAPACITY: usize = 256;

/// Values made from files, by key, with the files they were made from.
pub(crate) struct Cache<K, V> {
    entries: Mutex<Option<HashMap<K, Entry<V>>>>,
}

struct Entry<V> {
    files: Vec<Stamp>,
    value: V,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub(crate) const fn new() -> Self {
        Cache {
            entries: Mutex::new(None),
        }
    }

    /// The value for `key`: the one kept, while every file it was made from
    /// is unchanged; else `make`'s, which reads its files through the
    /// [`Reader`] it is given. A value made while a file could not be read
    /// is not kept: the next call tries again.
    pub(crate) fn get(&self, key: K, make: impl FnOnce(&mut Reader) -> V) -> V {
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.as_mut().and_then(|entries| entries.get_mut(&key)) {
                if entry.files.iter_mut().all(Stamp::unchanged) {
                    return entry.value.clone();
                }
            }
        }
        // Not under the lock: `make` may take a while, and may panic.
        let mut reader = Reader::default();
        let value = make(&mut reader);
        if reader.complete {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let entries = entries.get_or_insert_with(HashMap::new);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    files: reader.files,
                    value: value.clone(),
                },
            );
        }
        value
    }
}

/// Reads files for a value to be cached, and notes each as it was read.
pub(crate) struct Reader {
    files: Vec<Stamp>,
    /// Whether every file could be read and noted.
    complete: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            files: Vec::new(),
            complete: true,
        }
    }
}

impl Reader {
    /// The files read so far, each as often as it was read.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|stamp| stamp.path.as_path())
    }

    /// The file's text, as [`std::fs::read_to_string`] gives it.
    pub(crate) fn read(&mut self, path: &Path) -> std::io::Result<String> {
        let read = read_stamped(path);
        match read {
            Ok((text, stamp)) => {
                self.files.push(stamp);
                Ok(text)
            }
            Err(error) => {
                self.complete = false;
                Err(error)
            }
        }
    }
}

/// A file as it was read.
struct Stamp {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
    hash: u64,
    /// When the content was last read and found to hash to `hash`.
    checked: SystemTime,
}

/// Opens, notes, then reads: a write after the note changes the file's
/// modification time or, within its resolution, its hash; either way the
/// next look reads it again.
fn read_stamped(path: &Path) -> std::io::Result<(String, Stamp)> {
    let checked = SystemTime::now();
    let mut file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    let mut text = String::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_string(&mut text)?;
    let stamp = Stamp {
        path: path.to_owned(),
        len: metadata.len(),
        modified: metadata.modified()?,
        hash: hash(text.as_bytes()),
        checked,
    };
    Ok((text, stamp))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl Stamp {
    /// Whether the file is as it was read. A `stat`, and a read only while
    /// the timestamp cannot tell.
    fn unchanged(&mut self) -> bool {
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            return false;
        };
        if metadata.len() != self.len || metadata.modified().ok() != Some(self.modified) {
            return false;
        }
        if !self.racy() {
            return true;
        }
        let checked = SystemTime::now();
        match std::fs::read(&self.path) {
            Ok(bytes) if bytes.len() as u64 == self.len && hash(&bytes) == self.hash => {
                self.checked = checked;
                true
            }
            _ => false,
        }
    }

    /// Whether the file could have been written again since it was last
    /// checked and kept its modification time: it was checked within the
    /// resolution of that time (a clock tick of the kernel's where
    /// timestamps have fractions of a second, two seconds where they have
    /// none, as on FAT). A modification time ahead of the clock stays racy.
    fn racy(&self) -> bool {
        let whole_seconds = self
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .is_ok_and(|since| since.subsec_nanos() == 0);
        let resolution = match whole_seconds {
            true => Duration::from_secs(2),
            false => Duration::from_millis(100),
        };
        match self.modified.checked_add(resolution) {
            Some(settled) => self.checked <= settled,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("maskinporten-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// The text's length, as made by the cache, and how often it was made.
    fn lengths(
        cache: &Cache<PathBuf, Option<usize>>,
        path: &Path,
        made: &mut usize,
    ) -> Option<usize> {
        cache.get(path.to_owned(), |reader| {
            *made += 1;
            reader.read(path).ok().map(|text| text.len())
        })
    }

    #[test]
    fn an_unchanged_file_is_read_once() {
        let cache = Cache::new();
        let path = scratch("unchanged.txt");
        std::fs::write(&path, "abc").unwrap();
        // Older than any timestamp's resolution: not racy.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut made = 0;
        for _ in 0..3 {
            assert_eq!(lengths(&cache, &path, &mut made), Some(3));
        }
        assert_eq!(made, 1);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_edited_file_is_read_again() {
        let cache = Cache::new();
        let path = scratch("edited.txt");
        std::fs::write(&path, "abc").unwrap();
        let mut made = 0;
        assert_eq!(lengths(&cache, &path, &mut made), Some(3));
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(lengths(&cache, &path, &mut made), Some(4));
        assert_eq!(made, 2);
        // The same length and modification time, other content: only the
        // hash can tell, and it is asked while the timestamp is recent.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, "wxyz").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let mut made = 0;
        let text = cache.get(path.clone(), |reader| {
            made += 1;
            reader.read(&path).ok().map(|text| text.len())
        });
        assert_eq!((text, made), (Some(4), 1));
        std::fs::remove_file(&path).unwrap();
        // Gone: made again, and not kept.
        let mut made = 0;
        assert_eq!(lengths(&cache, &path, &mut made), None);
        assert_eq!(lengths(&cache, &path, &mut made), None);
        assert_eq!(made, 2);
    }

    #[test]
    fn a_racy_stamp_settles() {
        let path = scratch("racy.txt");
        std::fs::write(&path, "abc").unwrap();
        let (_, mut stamp) = read_stamped(&path).unwrap();
        stamp.modified = SystemTime::now();
        stamp.checked = stamp.modified;
        assert!(stamp.racy());
        stamp.checked = stamp.modified + Duration::from_secs(3);
        assert!(!stamp.racy());
        std::fs::remove_file(&path).unwrap();
    }
}
