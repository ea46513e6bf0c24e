use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use aorta_transport::{
    CommitLog, Consumer, CorruptReason, Offset, Polled, Producer, TransportError,
};

use crate::frame::{self, FrameHeader, HeaderError, Kind, HEADER_LEN, MAX_PAYLOAD};
use crate::io_err;

/// What lies at an offset of a log.
#[derive(Debug)]
enum Probe {
    /// A complete frame whose checksum holds.
    Valid(FrameHeader),
    /// Fewer bytes than a whole frame: being written, or a torn tail.
    Incomplete,
    /// A complete frame or header that is wrong.
    Corrupt(CorruptReason),
}

fn read_at(file: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<(), TransportError> {
    file.read_exact_at(buf, at).map_err(io_err(path))
}

/// Examines the frame at `at`; on `Valid`, `payload` holds its payload.
fn probe(
    file: &File,
    path: &Path,
    at: u64,
    file_len: u64,
    payload: &mut Vec<u8>,
) -> Result<Probe, TransportError> {
    if file_len.saturating_sub(at) < HEADER_LEN as u64 {
        return Ok(Probe::Incomplete);
    }
    let mut h = [0u8; HEADER_LEN];
    read_at(file, path, &mut h, at)?;
    let header = match frame::parse_header(&h) {
        Ok(h) => h,
        Err(HeaderError::BadMagic | HeaderError::BadKind) => {
            return Ok(Probe::Corrupt(CorruptReason::BadMagic))
        }
        Err(HeaderError::Oversized(len)) => {
            return Ok(Probe::Corrupt(CorruptReason::Oversized { len }))
        }
    };
    if at + header.frame_len() > file_len {
        return Ok(Probe::Incomplete);
    }
    payload.resize(header.len as usize, 0);
    read_at(file, path, payload, at + HEADER_LEN as u64)?;
    if header.checks(payload) {
        Ok(Probe::Valid(header))
    } else {
        Ok(Probe::Corrupt(CorruptReason::ChecksumMismatch))
    }
}

/// Looks for the first offset after `from` that holds a complete valid frame,
/// or the start of a plausible frame still being written. `None`: nothing
/// valid follows `from` (yet).
fn resync(
    file: &File,
    path: &Path,
    from: u64,
    file_len: u64,
    scratch: &mut Vec<u8>,
    accept_incomplete: bool,
) -> Result<Option<u64>, TransportError> {
    const CHUNK: usize = 1 << 16;
    let mut buf = vec![0u8; CHUNK + 3];
    let mut base = from + 1;
    while base < file_len {
        let n = ((file_len - base) as usize).min(buf.len());
        let window = buf.get_mut(..n).unwrap_or_default();
        read_at(file, path, window, base)?;
        let mut i = 0;
        while let Some(pos) = window
            .get(i..)
            .and_then(|w| w.windows(4).position(|m| m == frame::MAGIC))
        {
            let at = base + (i + pos) as u64;
            match probe(file, path, at, file_len, scratch)? {
                Probe::Valid(_) => return Ok(Some(at)),
                Probe::Incomplete if accept_incomplete => return Ok(Some(at)),
                _ => {}
            }
            i += pos + 1;
        }
        if n < buf.len() {
            break;
        }
        base += CHUNK as u64;
    }
    Ok(None)
}

/// Appends to a log shared by any number of processes.
#[derive(Debug)]
pub struct Appender {
    path: PathBuf,
    file: File,
    /// End of the frames this appender has checked.
    checked_end: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    durable: bool,
}

impl Appender {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let path = path.into();
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Self {
            path,
            file,
            checked_end: 0,
            buf: Vec::new(),
            scratch: Vec::new(),
            durable: true,
        })
    }

    /// Skips `fdatasync` on append. Only for throwaway spools (benchmarks
    /// that measure the pipeline rather than the disk); acknowledged records
    /// then survive process crashes but not power loss.
    pub fn dangerous_no_sync(mut self) -> Self {
        self.durable = false;
        self
    }

    /// Walks the frames between `checked_end` and EOF (appended by others, or
    /// left torn by a crashed process) and cuts a torn tail. Caller holds the lock.
    fn repair_tail(&mut self) -> Result<u64, TransportError> {
        let len = self.file.metadata().map_err(io_err(&self.path))?.len();
        let mut at = self.checked_end.min(len);
        let mut h = [0u8; HEADER_LEN];
        while at < len {
            if len - at >= HEADER_LEN as u64 {
                read_at(&self.file, &self.path, &mut h, at)?;
                if let Ok(fh) = frame::parse_header(&h) {
                    if at + fh.frame_len() <= len {
                        at += fh.frame_len();
                        continue;
                    }
                }
            }
            // Not a clean frame boundary. Keep everything if a valid frame
            // follows (mid-log corruption: readers skip it); otherwise the
            // tail is torn and is cut.
            match resync(&self.file, &self.path, at, len, &mut self.scratch, false)? {
                Some(next) => at = next,
                None => {
                    self.file.set_len(at).map_err(io_err(&self.path))?;
                    self.file.sync_data().map_err(io_err(&self.path))?;
                    return Ok(at);
                }
            }
        }
        Ok(at)
    }
}

impl Producer for Appender {
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        self.buf.clear();
        for r in records {
            if r.len() > MAX_PAYLOAD {
                return Err(TransportError::TooLarge {
                    len: r.len(),
                    max: MAX_PAYLOAD,
                });
            }
            frame::encode(Kind::Data, r, &mut self.buf);
        }
        self.file.lock().map_err(io_err(&self.path))?;
        let result = (|| {
            let end = self.repair_tail()?;
            self.file.write_all(&self.buf).map_err(io_err(&self.path))?;
            if self.durable {
                self.file.sync_data().map_err(io_err(&self.path))?;
            }
            Ok(end + self.buf.len() as u64)
        })();
        let unlock = self.file.unlock().map_err(io_err(&self.path));
        let end = result?;
        unlock?;
        self.checked_end = end;
        Ok(end)
    }
}

/// A frame read from a log.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Data(&'a [u8]),
    Commit(&'a [u8]),
}

/// Reads a log in order from an offset. Never blocks: at the end it reports
/// `Idle`.
#[derive(Debug)]
pub struct LogReader {
    path: PathBuf,
    file: File,
    pos: u64,
    payload: Vec<u8>,
    scratch: Vec<u8>,
}

/// One step of a [`LogReader`].
#[derive(Debug)]
pub enum Step<'a> {
    Frame {
        offset: Offset,
        next: Offset,
        frame: Frame<'a>,
    },
    Corrupt {
        offset: Offset,
        next: Offset,
        reason: CorruptReason,
    },
    Idle,
}

impl LogReader {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let path = path.into();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Self {
            path,
            file,
            pos: 0,
            payload: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Current length of the underlying log.
    pub fn len(&self) -> Result<u64, TransportError> {
        Ok(self.file.metadata().map_err(io_err(&self.path))?.len())
    }

    pub fn is_empty(&self) -> Result<bool, TransportError> {
        Ok(self.len()? == 0)
    }

    pub fn step(&mut self) -> Result<Step<'_>, TransportError> {
        self.step_inner(false)
    }

    fn step_inner(&mut self, skip_commits: bool) -> Result<Step<'_>, TransportError> {
        let len = self.len()?;
        loop {
            let at = self.pos;
            match probe(&self.file, &self.path, at, len, &mut self.payload)? {
                Probe::Valid(h) => {
                    self.pos = at + h.frame_len();
                    if skip_commits && h.kind() == Kind::Commit {
                        continue;
                    }
                    let frame = match h.kind() {
                        Kind::Data => Frame::Data(&self.payload),
                        Kind::Commit => Frame::Commit(&self.payload),
                    };
                    return Ok(Step::Frame {
                        offset: at,
                        next: self.pos,
                        frame,
                    });
                }
                Probe::Incomplete => {
                    // Normally a frame being written. If a valid complete frame
                    // already follows, this one is corrupt (e.g. a damaged length).
                    return match resync(&self.file, &self.path, at, len, &mut self.scratch, false)?
                    {
                        Some(next) => {
                            self.pos = next;
                            Ok(Step::Corrupt {
                                offset: at,
                                next,
                                reason: CorruptReason::ChecksumMismatch,
                            })
                        }
                        None => Ok(Step::Idle),
                    };
                }
                Probe::Corrupt(reason) => {
                    let next = resync(&self.file, &self.path, at, len, &mut self.scratch, true)?
                        .unwrap_or(len);
                    self.pos = next;
                    return Ok(Step::Corrupt {
                        offset: at,
                        next,
                        reason,
                    });
                }
            }
        }
    }

    /// Reads the whole log and returns the data records that a commit made
    /// visible (read-committed), with the number of corrupt regions skipped.
    pub fn read_committed(&mut self) -> Result<(Vec<Vec<u8>>, u64), TransportError> {
        let mut committed = Vec::new();
        let mut pending = Vec::new();
        let mut corrupt = 0;
        loop {
            match self.step()? {
                Step::Frame {
                    frame: Frame::Data(p),
                    ..
                } => pending.push(p.to_vec()),
                Step::Frame {
                    frame: Frame::Commit(_),
                    ..
                } => committed.append(&mut pending),
                Step::Corrupt { .. } => corrupt += 1,
                Step::Idle => return Ok((committed, corrupt)),
            }
        }
    }
}

impl Consumer for LogReader {
    fn position(&self) -> Offset {
        self.pos
    }

    fn seek(&mut self, offset: Offset) {
        self.pos = offset;
    }

    fn poll(&mut self) -> Result<Polled<'_>, TransportError> {
        Ok(match self.step_inner(true)? {
            Step::Frame {
                offset,
                next,
                frame: Frame::Data(p),
            } => Polled::Record {
                offset,
                next,
                payload: p,
            },
            // step_inner(true) never yields commit frames.
            Step::Frame { .. } | Step::Idle => Polled::Idle,
            Step::Corrupt {
                offset,
                next,
                reason,
            } => Polled::Corrupt {
                offset,
                next,
                reason,
            },
        })
    }
}

/// A log owned by one live process (a worker's results). Opening it takes an
/// exclusive lock for the lifetime of the value and cuts the log back to its
/// last commit.
#[derive(Debug)]
pub struct OwnedLog {
    path: PathBuf,
    file: File,
    last_commit: Option<Vec<u8>>,
    pending: Vec<u8>,
}

impl OwnedLog {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let path = path.into();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(TransportError::Locked {
                    path: path.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        let mut reader = LogReader::open(&path)?;
        let mut last_commit = None;
        let mut commit_end = 0;
        loop {
            match reader.step()? {
                Step::Frame {
                    next,
                    frame: Frame::Commit(p),
                    ..
                } => {
                    last_commit = Some(p.to_vec());
                    commit_end = next;
                }
                Step::Frame { .. } | Step::Corrupt { .. } => {}
                Step::Idle => break,
            }
        }
        file.set_len(commit_end).map_err(io_err(&path))?;
        file.sync_data().map_err(io_err(&path))?;
        file.seek(SeekFrom::End(0)).map_err(io_err(&path))?;
        Ok(Self {
            path,
            file,
            last_commit,
            pending: Vec::new(),
        })
    }

    fn flush_pending(&mut self) -> Result<(), TransportError> {
        self.file
            .write_all(&self.pending)
            .map_err(io_err(&self.path))?;
        self.pending.clear();
        Ok(())
    }
}

impl CommitLog for OwnedLog {
    fn last_commit(&self) -> Option<&[u8]> {
        self.last_commit.as_deref()
    }

    fn append(&mut self, records: &[&[u8]]) -> Result<(), TransportError> {
        for r in records {
            if r.len() > MAX_PAYLOAD {
                return Err(TransportError::TooLarge {
                    len: r.len(),
                    max: MAX_PAYLOAD,
                });
            }
            frame::encode(Kind::Data, r, &mut self.pending);
        }
        if self.pending.len() > 4 << 20 {
            self.flush_pending()?;
        }
        Ok(())
    }

    fn commit(&mut self, checkpoint: &[u8]) -> Result<(), TransportError> {
        if checkpoint.len() > MAX_PAYLOAD {
            return Err(TransportError::TooLarge {
                len: checkpoint.len(),
                max: MAX_PAYLOAD,
            });
        }
        frame::encode(Kind::Commit, checkpoint, &mut self.pending);
        self.flush_pending()?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.last_commit = Some(checkpoint.to_vec());
        Ok(())
    }
}
