use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use aorta_transport::{
    CommitLog, Consumer, CorruptReason, Discontinuity, Offset, Polled, Producer, TransportError,
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
    Corrupt,
}

fn read_at(file: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<(), TransportError> {
    file.read_exact_at(buf, at).map_err(io_err(path))
}

/// Opens a spool file without following a symbolic link at `path` and
/// refuses anything but a regular file, so that a link planted in the
/// untrusted spool cannot make a trusted process read, truncate or write
/// another file.
pub(crate) fn open_regular(path: &Path, opts: &mut OpenOptions) -> Result<File, TransportError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                TransportError::NotRegular {
                    path: path.display().to_string(),
                }
            } else {
                io_err(path)(e)
            }
        })?;
    if !file.metadata().map_err(io_err(path))?.file_type().is_file() {
        return Err(TransportError::NotRegular {
            path: path.display().to_string(),
        });
    }
    Ok(file)
}

/// (device, inode) of an open file.
fn identity(file: &File, path: &Path) -> Result<(u64, u64), TransportError> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().map_err(io_err(path))?;
    Ok((m.dev(), m.ino()))
}

/// (device, inode) of what now stands at `path`, without following links;
/// `None` when nothing does.
fn identity_at(path: &Path) -> Result<Option<(u64, u64)>, TransportError> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
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
        Err(_) => return Ok(Probe::Corrupt),
    };
    if at + header.frame_len() > file_len {
        return Ok(Probe::Incomplete);
    }
    payload.resize(header.len as usize, 0);
    read_at(file, path, payload, at + HEADER_LEN as u64)?;
    if header.checks(payload) {
        Ok(Probe::Valid(header))
    } else {
        Ok(Probe::Corrupt)
    }
}

/// Why the bytes at `at` are not a frame, from its header alone.
fn reason_at(file: &File, path: &Path, at: u64, file_len: u64) -> CorruptReason {
    let mut h = [0u8; HEADER_LEN];
    if file_len.saturating_sub(at) < HEADER_LEN as u64 || read_at(file, path, &mut h, at).is_err() {
        return CorruptReason::BadMagic;
    }
    match frame::parse_header(&h) {
        Err(HeaderError::Oversized(len)) => CorruptReason::Oversized { len },
        Err(_) => CorruptReason::BadMagic,
        Ok(_) => CorruptReason::ChecksumMismatch,
    }
}

/// Candidate frames kept pending at most while indexing, and valid frame
/// starts kept at most per index: past either, indexing stops discovering
/// and the index covers only the region before that point (the reader
/// indexes on from there when it gets there). Bounds memory under a flood
/// of fake headers or of tiny valid frames without dropping a candidate.
const MAX_PENDING: usize = 1 << 20;
const MAX_VALID: usize = 1 << 16;

/// The valid frames of a region of a log: every offset in
/// `[from, covered_to)` where a complete frame with a valid checksum and a
/// payload of at most `max_payload` bytes starts, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameIndex {
    pub valid: Vec<u64>,
    pub covered_to: u64,
}

/// Indexes the valid frames from `from` up to `len` (see [`FrameIndex`]).
///
/// Linear in `len - from` however many fake headers the bytes hold: a
/// frame's CRC-32C covers its 8 header bytes and its payload, and the
/// payload's CRC is derived from two running CRCs of the region instead of
/// being recomputed per candidate. With `Q(x)` the CRC of the bytes from
/// `from` to `x`, a payload `[s, e)` has `crc = Q(e) ⊕ shift(Q(s), e − s)`
/// (CRC linearity, as in zlib's `crc32_combine`). One pass reads the region
/// to find header candidates and one computes `Q` up to each candidate's
/// start and end, in position order. Headers claiming more than
/// `max_payload` are not candidates, which bounds how long one waits for
/// its end.
pub fn valid_frames(
    file: &File,
    path: &Path,
    from: u64,
    len: u64,
    max_payload: u64,
) -> Result<FrameIndex, TransportError> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    const CHUNK: u64 = 1 << 16;
    struct Cand {
        meta_crc: u32,
        stored: u32,
        len: u32,
        q_start: u32,
    }
    let mut cands: HashMap<u64, Cand> = HashMap::new();
    // (position, 0 = payload start / 1 = payload end, frame offset)
    let mut events: BinaryHeap<Reverse<(u64, u8, u64)>> = BinaryHeap::new();
    let mut valid = Vec::new();
    let mut buf = vec![0u8; CHUNK as usize + HEADER_LEN];
    let mut crc_buf = vec![0u8; CHUNK as usize];
    let (mut q, mut cur) = (0u32, from);
    let mut p = from;
    let mut covered_to = len;
    // Moves the running CRC through the events up to `upto`, in order.
    let mut resolve = |upto: u64,
                       events: &mut BinaryHeap<Reverse<(u64, u8, u64)>>,
                       cands: &mut HashMap<u64, Cand>,
                       valid: &mut Vec<u64>|
     -> Result<(), TransportError> {
        while let Some(&Reverse((at, kind, a))) = events.peek() {
            if at > upto {
                break;
            }
            events.pop();
            while cur < at {
                let k = (at - cur).min(CHUNK) as usize;
                let b = crc_buf.get_mut(..k).unwrap_or_default();
                read_at(file, path, b, cur)?;
                q = crc32c::crc32c_append(q, b);
                cur += k as u64;
            }
            if kind == 0 {
                if let Some(c) = cands.get_mut(&a) {
                    c.q_start = q;
                }
            } else if let Some(c) = cands.remove(&a) {
                let payload_crc = q ^ crc32c::crc32c_combine(c.q_start, 0, c.len as usize);
                if crc32c::crc32c_combine(c.meta_crc, payload_crc, c.len as usize) == c.stored {
                    valid.push(a);
                }
            }
        }
        Ok(())
    };
    'scan: while p < len {
        let end = (p + CHUNK).min(len);
        let n = (end - p + HEADER_LEN as u64).min(len - p) as usize;
        let window = buf.get_mut(..n).unwrap_or_default();
        read_at(file, path, window, p)?;
        let mut i = 0usize;
        while let Some(pos) = window
            .get(i..)
            .and_then(|w| w.windows(4).position(|m| m == frame::MAGIC))
        {
            let at = i + pos;
            i = at + 1;
            let a = p + at as u64;
            if a >= end {
                break;
            }
            let mut h = [0u8; HEADER_LEN];
            match window.get(at..at + HEADER_LEN) {
                Some(b) => h.copy_from_slice(b),
                None if a + HEADER_LEN as u64 <= len => read_at(file, path, &mut h, a)?,
                None => continue,
            }
            let Ok(fh) = frame::parse_header(&h) else {
                continue;
            };
            if a + fh.frame_len() > len || u64::from(fh.len) > max_payload {
                continue;
            }
            if cands.len() >= MAX_PENDING || valid.len() >= MAX_VALID {
                // Stop discovering here; what was found is resolved below.
                covered_to = a;
                break 'scan;
            }
            let meta: [u8; 8] = [h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]];
            cands.insert(
                a,
                Cand {
                    meta_crc: crc32c::crc32c(&meta),
                    stored: fh.crc,
                    len: fh.len,
                    q_start: 0,
                },
            );
            let s = a + HEADER_LEN as u64;
            events.push(Reverse((s, 0, a)));
            events.push(Reverse((s + u64::from(fh.len), 1, a)));
        }
        // Every candidate starting before `end` is known.
        resolve(end, &mut events, &mut cands, &mut valid)?;
        p = end;
    }
    // Candidates found before stopping wait for their ends.
    resolve(len, &mut events, &mut cands, &mut valid)?;
    valid.sort_unstable();
    Ok(FrameIndex { valid, covered_to })
}

/// The valid frame starts of a region of a log, found once and used until
/// the reader leaves the region or the log's length changes.
#[derive(Debug)]
struct Index {
    from: u64,
    len: u64,
    ix: FrameIndex,
}

impl Index {
    fn build(
        file: &File,
        path: &Path,
        from: u64,
        len: u64,
        max_payload: u64,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            from,
            len,
            ix: valid_frames(file, path, from, len, max_payload)?,
        })
    }

    /// The first valid frame at or after `at` in the covered region.
    fn next(&self, at: u64) -> Option<u64> {
        let i = self.ix.valid.partition_point(|v| *v < at);
        self.ix.valid.get(i).copied()
    }
}

/// Appends to a log shared by any number of processes.
///
/// The recovery rule it shares with [`LogReader`]: bytes that are not a
/// valid frame are kept (and skipped by readers) when a valid frame follows
/// them, and cut as a torn tail when none does. A reader never moves past
/// bytes an appender may still cut.
#[derive(Debug)]
pub struct Appender {
    path: PathBuf,
    file: File,
    ident: (u64, u64),
    /// End of the frames this appender has checked.
    checked_end: u64,
    buf: Vec<u8>,
    durable: bool,
    /// Times the log was found replaced or deleted and reopened.
    reopened: u64,
    max_payload: u64,
}

fn open_append(path: &Path) -> Result<File, TransportError> {
    open_regular(
        path,
        OpenOptions::new().create(true).read(true).append(true),
    )
}

impl Appender {
    /// An appender for records of up to [`MAX_PAYLOAD`] bytes.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        Self::open_limited(path, MAX_PAYLOAD)
    }

    /// An appender for records of up to `max_payload` bytes; frames
    /// claiming more are not frames of this log.
    pub fn open_limited(
        path: impl Into<PathBuf>,
        max_payload: usize,
    ) -> Result<Self, TransportError> {
        let path = path.into();
        let file = open_append(&path)?;
        Ok(Self {
            ident: identity(&file, &path)?,
            path,
            file,
            checked_end: 0,
            buf: Vec::new(),
            durable: true,
            reopened: 0,
            max_payload: max_payload.min(MAX_PAYLOAD) as u64,
        })
    }

    /// Skips `fdatasync` on append. Only for throwaway spools (benchmarks
    /// that measure the pipeline rather than the disk); acknowledged records
    /// then survive process crashes but not power loss.
    pub fn dangerous_no_sync(mut self) -> Self {
        self.durable = false;
        self
    }

    /// How often the log was found deleted or replaced under this appender
    /// (it then appends to the file now at its path).
    pub fn reopened(&self) -> u64 {
        self.reopened
    }

    /// Walks the frames between `checked_end` and EOF (appended by others, or
    /// left torn by a crashed process) and cuts a torn tail. Caller holds the lock.
    fn repair_tail(&mut self) -> Result<u64, TransportError> {
        let len = self.file.metadata().map_err(io_err(&self.path))?.len();
        let mut at = self.checked_end.min(len);
        let mut payload = Vec::new();
        while at < len {
            // The readers' rule exactly: a frame counts only with its CRC.
            if let Probe::Valid(fh) = probe(&self.file, &self.path, at, len, &mut payload)? {
                at += fh.frame_len();
                continue;
            }
            // Not a clean frame boundary. Keep everything if a valid frame
            // follows (mid-log corruption: readers skip it); otherwise the
            // tail is torn and is cut.
            let mut from = at + 1;
            let next = loop {
                let fi = valid_frames(&self.file, &self.path, from, len, self.max_payload)?;
                if let Some(n) = fi.valid.first() {
                    break Some(*n);
                }
                if fi.covered_to >= len {
                    break None;
                }
                from = fi.covered_to;
            };
            match next {
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

    /// Locks the log, reopening it first if another file now stands at its
    /// path (deleted or replaced): appending to an unlinked file would lose
    /// every record silently.
    fn lock_current(&mut self) -> Result<(), TransportError> {
        loop {
            self.file.lock().map_err(io_err(&self.path))?;
            if identity_at(&self.path)? == Some(self.ident) {
                return Ok(());
            }
            let _ = self.file.unlock();
            self.file = open_append(&self.path)?;
            self.ident = identity(&self.file, &self.path)?;
            self.checked_end = 0;
            self.reopened += 1;
        }
    }
}

impl Producer for Appender {
    fn append(&mut self, records: &[&[u8]]) -> Result<Offset, TransportError> {
        self.buf.clear();
        for r in records {
            if r.len() as u64 > self.max_payload {
                return Err(TransportError::TooLarge {
                    len: r.len(),
                    max: self.max_payload as usize,
                });
            }
            frame::encode(Kind::Data, r, &mut self.buf);
        }
        self.lock_current()?;
        let result = (|| {
            self.repair_tail()?;
            self.file.write_all(&self.buf).map_err(io_err(&self.path))?;
            if self.durable {
                self.file.sync_data().map_err(io_err(&self.path))?;
            }
            // Where the write really ended: bytes appended by someone who
            // ignores the lock between the repair and the write move it.
            self.file.stream_position().map_err(io_err(&self.path))
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
///
/// The reader knows its log by the file's identity and by the frame it
/// read last (offset and checksum, [`Consumer::fingerprint`]). When the log
/// shrinks below what was read, is deleted, replaced or rewritten, the
/// reader says so ([`Step::Discontinuity`]) and starts over from the log's
/// beginning instead of reading on at a position that no longer means
/// anything.
#[derive(Debug)]
pub struct LogReader {
    path: PathBuf,
    file: File,
    ident: (u64, u64),
    pos: u64,
    /// Offset and stored CRC of the frame that ends at `pos`.
    last: Option<(u64, u32)>,
    index: Option<Index>,
    payload: Vec<u8>,
    create: bool,
    max_payload: u64,
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
    Discontinuity {
        at: Offset,
        reason: Discontinuity,
    },
    Idle,
}

fn fingerprint_of(pos: u64, last: Option<(u64, u32)>) -> u64 {
    match last {
        Some((at, crc)) => ((pos - at) << 32) | u64::from(crc),
        None => 0,
    }
}

impl LogReader {
    /// Opens (creating it empty if missing) the log at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        Self::open_with(path.into(), true, MAX_PAYLOAD)
    }

    /// Opens (creating it empty if missing) a log whose records are at most
    /// `max_payload` bytes: frames claiming more are corrupt.
    pub fn open_limited(
        path: impl Into<PathBuf>,
        max_payload: usize,
    ) -> Result<Self, TransportError> {
        Self::open_with(path.into(), true, max_payload)
    }

    /// Opens the log at `path` only if it exists (readers that must not
    /// create files, such as the clinician's).
    pub fn open_existing(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        Self::open_with(path.into(), false, MAX_PAYLOAD)
    }

    fn open_with(path: PathBuf, create: bool, max_payload: usize) -> Result<Self, TransportError> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        if create {
            opts.create(true).append(true);
        }
        let file = open_regular(&path, &mut opts)?;
        Ok(Self {
            ident: identity(&file, &path)?,
            path,
            file,
            pos: 0,
            last: None,
            index: None,
            payload: Vec::new(),
            create,
            max_payload: max_payload.min(MAX_PAYLOAD) as u64,
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

    /// Starts over at the beginning of whatever log is at the path now.
    fn restart(&mut self, at: u64, reason: Discontinuity) -> Result<Step<'static>, TransportError> {
        if !self.create && identity_at(&self.path)?.is_none() {
            return Err(TransportError::Layout(format!(
                "{} was deleted while being read",
                self.path.display()
            )));
        }
        {
            let mut opts = OpenOptions::new();
            opts.read(true);
            if self.create {
                opts.create(true).append(true);
            }
            self.file = open_regular(&self.path, &mut opts)?;
            self.ident = identity(&self.file, &self.path)?;
        }
        self.pos = 0;
        self.last = None;
        self.index = None;
        Ok(Step::Discontinuity { at, reason })
    }

    /// Checks, at the end of what can be read, that the log is still the
    /// one read so far.
    fn continuity(&self, len: u64) -> Result<Option<Discontinuity>, TransportError> {
        match identity_at(&self.path)? {
            None => return Ok(Some(Discontinuity::Deleted)),
            Some(id) if id != self.ident => return Ok(Some(Discontinuity::Replaced)),
            Some(_) => {}
        }
        if len < self.pos {
            return Ok(Some(Discontinuity::Shrunk { len }));
        }
        if let Some((at, crc)) = self.last {
            if !self.frame_matches(at, self.pos, crc)? {
                return Ok(Some(Discontinuity::Rewritten));
            }
        }
        Ok(None)
    }

    /// Whether a frame with checksum `crc` spans `[at, end)`.
    fn frame_matches(&self, at: u64, end: u64, crc: u32) -> Result<bool, TransportError> {
        let mut h = [0u8; HEADER_LEN];
        if self.len()? < end || end < at + HEADER_LEN as u64 {
            return Ok(false);
        }
        read_at(&self.file, &self.path, &mut h, at)?;
        Ok(frame::parse_header(&h).is_ok_and(|fh| fh.crc == crc && at + fh.frame_len() == end))
    }

    fn step_inner(&mut self, skip_commits: bool) -> Result<Step<'_>, TransportError> {
        let len = self.len()?;
        loop {
            let at = self.pos;
            if len < at {
                return self.restart(at, Discontinuity::Shrunk { len });
            }
            if self
                .index
                .as_ref()
                .is_some_and(|ix| ix.len != len || at < ix.from || at >= ix.ix.covered_to)
            {
                self.index = None;
            }
            if let Some(ix) = &mut self.index {
                let mut next = ix.next(at);
                while next.is_none() && ix.ix.covered_to < len {
                    // The index stopped early (a flood of headers): nothing
                    // valid in [at, covered_to); index on from there.
                    ix.ix = valid_frames(
                        &self.file,
                        &self.path,
                        ix.ix.covered_to,
                        len,
                        self.max_payload,
                    )?;
                    next = ix.next(at);
                }
                match next {
                    Some(n) if n == at => {}
                    Some(n) => {
                        self.pos = n;
                        self.last = None;
                        return Ok(Step::Corrupt {
                            offset: at,
                            next: n,
                            reason: reason_at(&self.file, &self.path, at, len),
                        });
                    }
                    None => {
                        // Nothing valid follows: a frame being written or a
                        // torn tail that the next appender cuts. Wait.
                        if let Some(reason) = self.continuity(len)? {
                            return self.restart(at, reason);
                        }
                        return Ok(Step::Idle);
                    }
                }
            }
            match probe(&self.file, &self.path, at, len, &mut self.payload)? {
                Probe::Valid(h) => {
                    self.pos = at + h.frame_len();
                    self.last = Some((at, h.crc));
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
                Probe::Incomplete if at == len => {
                    if let Some(reason) = self.continuity(len)? {
                        return self.restart(at, reason);
                    }
                    return Ok(Step::Idle);
                }
                Probe::Incomplete | Probe::Corrupt => {
                    if self.index.take().is_some() {
                        // The index said a frame starts here, but the bytes
                        // changed since it was built: look again next time.
                        return Ok(Step::Idle);
                    }
                    self.index = Some(Index::build(
                        &self.file,
                        &self.path,
                        at,
                        len,
                        self.max_payload,
                    )?);
                }
            }
        }
    }

    /// Reads the whole log and returns the data records that a commit made
    /// visible (read-committed), with the number of corrupt regions skipped.
    pub fn read_committed(&mut self) -> Result<(Vec<Vec<u8>>, u64), TransportError> {
        let (mut pending, mut committed) = (Vec::new(), Vec::new());
        let corrupt = self.follow_committed(&mut pending, &mut committed)?;
        Ok((committed, corrupt))
    }

    /// Reads on from the current position until idle: data records wait in
    /// `pending` until a commit moves them to `committed` (so a follower
    /// calls this again and again with the same `pending`). Returns the
    /// corrupt regions and discontinuities met; after a discontinuity the
    /// log is read from its start and `pending` starts over (records
    /// already committed come again: readers drop them as replays).
    pub fn follow_committed(
        &mut self,
        pending: &mut Vec<Vec<u8>>,
        committed: &mut Vec<Vec<u8>>,
    ) -> Result<u64, TransportError> {
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
                } => committed.append(pending),
                Step::Corrupt { .. } => corrupt += 1,
                Step::Discontinuity { .. } => {
                    pending.clear();
                    corrupt += 1;
                }
                Step::Idle => return Ok(corrupt),
            }
        }
    }
}

impl Consumer for LogReader {
    fn position(&self) -> Offset {
        self.pos
    }

    fn lag_bytes(&self) -> Option<u64> {
        self.len().ok().map(|len| len.saturating_sub(self.pos))
    }

    fn fingerprint(&self) -> u64 {
        fingerprint_of(self.pos, self.last)
    }

    fn seek(&mut self, offset: Offset) {
        self.pos = offset;
        self.last = None;
        self.index = None;
    }

    fn resume(&mut self, offset: Offset, fingerprint: u64) -> Result<(), Discontinuity> {
        self.seek(0);
        if offset == 0 {
            return Ok(());
        }
        let len = self.len().unwrap_or(0);
        if len < offset {
            return Err(Discontinuity::Shrunk { len });
        }
        let (flen, crc) = (fingerprint >> 32, fingerprint as u32);
        if fingerprint == 0 || flen > offset {
            // A checkpoint without a fingerprint: trust the offset.
            self.seek(offset);
            return Ok(());
        }
        let at = offset - flen;
        match self.frame_matches(at, offset, crc) {
            Ok(true) => {
                self.pos = offset;
                self.last = Some((at, crc));
                Ok(())
            }
            _ => Err(Discontinuity::Rewritten),
        }
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
            Step::Discontinuity { at, reason } => Polled::Discontinuity { at, reason },
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
    ident: (u64, u64),
    last_commit: Option<Vec<u8>>,
    /// (start, end) of every commit frame, oldest first: the log can be
    /// cut back to an earlier one when the last does not open
    /// ([`CommitLog::rewind_commit`]).
    commits: Vec<(u64, u64)>,
    pending: Vec<u8>,
}

impl OwnedLog {
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TransportError> {
        let path = path.into();
        let mut file = open_regular(
            &path,
            OpenOptions::new()
                .create(true)
                .read(true)
                .write(true)
                .truncate(false),
        )?;
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
        let mut commits = Vec::new();
        loop {
            match reader.step()? {
                Step::Frame {
                    offset,
                    next,
                    frame: Frame::Commit(p),
                } => {
                    last_commit = Some(p.to_vec());
                    commits.push((offset, next));
                }
                Step::Frame { .. } | Step::Corrupt { .. } => {}
                Step::Discontinuity { .. } => {
                    last_commit = None;
                    commits.clear();
                }
                Step::Idle => break,
            }
        }
        let commit_end = commits.last().map_or(0, |c| c.1);
        file.set_len(commit_end).map_err(io_err(&path))?;
        file.sync_data().map_err(io_err(&path))?;
        file.seek(SeekFrom::End(0)).map_err(io_err(&path))?;
        Ok(Self {
            ident: identity(&file, &path)?,
            path,
            file,
            last_commit,
            commits,
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

    /// Cuts the log back to the end of the commit before the last one (or
    /// to empty) and makes that the last commit: a commit frame the host
    /// forged (the frame checksum has no key) or one sealed under a key no
    /// longer released must not stop the worker for good.
    fn rewind_commit(&mut self) -> Result<bool, TransportError> {
        if self.commits.pop().is_none() {
            return Ok(false);
        }
        self.pending.clear();
        let end = self.commits.last().map_or(0, |c| c.1);
        self.last_commit = match self.commits.last() {
            Some(&(start, end)) => {
                let mut p = vec![0u8; (end - start) as usize - HEADER_LEN];
                read_at(&self.file, &self.path, &mut p, start + HEADER_LEN as u64)?;
                Some(p)
            }
            None => None,
        };
        self.file.set_len(end).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.file
            .seek(SeekFrom::End(0))
            .map_err(io_err(&self.path))?;
        Ok(true)
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
        // Committing into a file that is no longer at the log's path would
        // make results invisible: refuse, so the worker restarts on the log
        // that is there.
        if identity_at(&self.path)? != Some(self.ident) {
            return Err(TransportError::Layout(format!(
                "{} was replaced or deleted while this worker owned it",
                self.path.display()
            )));
        }
        let start =
            self.file.stream_position().map_err(io_err(&self.path))? + self.pending.len() as u64;
        frame::encode(Kind::Commit, checkpoint, &mut self.pending);
        self.flush_pending()?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        let end = self.file.stream_position().map_err(io_err(&self.path))?;
        self.commits.push((start, end));
        self.last_commit = Some(checkpoint.to_vec());
        Ok(())
    }
}
