use std::io::Write;

use aorta_spool::{Appender, LogReader, OwnedLog, Spool};
use aorta_transport::{
    CommitLog, Consumer, CorruptReason, Discontinuity, PartitionId, Polled, Producer,
    TransportError,
};

fn drain(r: &mut LogReader) -> (Vec<Vec<u8>>, Vec<CorruptReason>) {
    let mut recs = Vec::new();
    let mut bad = Vec::new();
    loop {
        match r.poll().unwrap() {
            Polled::Record { payload, .. } => recs.push(payload.to_vec()),
            Polled::Corrupt { reason, .. } => bad.push(reason),
            Polled::Discontinuity { reason, .. } => panic!("unexpected discontinuity: {reason}"),
            Polled::Idle => return (recs, bad),
        }
    }
}

/// Records and discontinuities until idle (no corruption expected).
fn drain_across(r: &mut LogReader) -> (Vec<Vec<u8>>, Vec<Discontinuity>) {
    let (mut recs, mut reasons) = (Vec::new(), Vec::new());
    loop {
        match r.poll().unwrap() {
            Polled::Record { payload, .. } => recs.push(payload.to_vec()),
            Polled::Discontinuity { reason, .. } => reasons.push(reason),
            Polled::Corrupt { .. } => panic!("corrupt"),
            Polled::Idle => return (recs, reasons),
        }
    }
}

fn rec(i: u32) -> Vec<u8> {
    let mut v = format!("record-{i}-").into_bytes();
    v.extend(std::iter::repeat_n(
        (i % 251) as u8,
        (i as usize * 37) % 300,
    ));
    v
}

#[test]
fn appended_records_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let mut a = spool.ingest_appender(PartitionId(0)).unwrap();
    let recs: Vec<Vec<u8>> = (0..100).map(rec).collect();
    for chunk in recs.chunks(7) {
        let refs: Vec<&[u8]> = chunk.iter().map(|r| r.as_slice()).collect();
        a.append(&refs).unwrap();
    }
    let mut r = spool.ingest_reader(PartitionId(0)).unwrap();
    let (got, bad) = drain(&mut r);
    assert_eq!(got, recs);
    assert!(bad.is_empty());
    // Seeking back replays from that record.
    let mut r2 = spool.ingest_reader(PartitionId(0)).unwrap();
    let second = match r2.poll().unwrap() {
        Polled::Record { next, .. } => next,
        other => panic!("{other:?}"),
    };
    r2.seek(second);
    assert_eq!(drain(&mut r2).0, recs[1..].to_vec());
}

#[test]
fn torn_tail_is_invisible_and_repaired_by_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.log");
    let mut a = Appender::open(&path).unwrap();
    a.append(&[b"one", b"two"]).unwrap();
    // A crashed writer left half a frame.
    let mut full = Vec::new();
    aorta_spool::frame::encode(
        aorta_spool::frame::Kind::Data,
        b"never-acknowledged",
        &mut full,
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&full[..full.len() - 5]).unwrap();
    drop(f);

    let mut r = LogReader::open(&path).unwrap();
    let (got, bad) = drain(&mut r);
    assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    assert!(bad.is_empty(), "a torn tail is not corruption: {bad:?}");

    // A fresh appender (another process) repairs the tail and appends.
    let mut b = Appender::open(&path).unwrap();
    b.append(&[b"three"]).unwrap();
    let (got, bad) = drain(&mut r);
    assert_eq!(got, vec![b"three".to_vec()]);
    assert!(bad.is_empty());
}

#[test]
fn corrupt_record_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.log");
    let mut a = Appender::open(&path).unwrap();
    let recs: Vec<Vec<u8>> = (0..5).map(rec).collect();
    let refs: Vec<&[u8]> = recs.iter().map(|r| r.as_slice()).collect();
    a.append(&refs).unwrap();
    // Flip one payload byte of record 2, and the length byte of record 3.
    let mut bytes = std::fs::read(&path).unwrap();
    let mut offsets = Vec::new();
    let mut at = 0usize;
    for r in &recs {
        offsets.push(at);
        at += 16 + r.len();
    }
    bytes[offsets[2] + 16 + 3] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let mut r = LogReader::open(&path).unwrap();
    let (got, bad) = drain(&mut r);
    assert_eq!(
        got,
        vec![
            recs[0].clone(),
            recs[1].clone(),
            recs[3].clone(),
            recs[4].clone()
        ]
    );
    assert_eq!(bad, vec![CorruptReason::ChecksumMismatch]);

    bytes[offsets[2] + 16 + 3] ^= 0x40;
    bytes[offsets[3] + 5] ^= 0x7f; // length of record 3 now points past EOF
    std::fs::write(&path, &bytes).unwrap();
    let mut r = LogReader::open(&path).unwrap();
    let (got, bad) = drain(&mut r);
    assert_eq!(
        got,
        vec![
            recs[0].clone(),
            recs[1].clone(),
            recs[2].clone(),
            recs[4].clone()
        ]
    );
    assert_eq!(bad.len(), 1);
    // An appender does not cut valid data after mid-log corruption.
    let mut a2 = Appender::open(&path).unwrap();
    a2.append(&[b"after"]).unwrap();
    let (got, _) = drain(&mut r);
    assert_eq!(got, vec![b"after".to_vec()]);
}

#[test]
fn owned_log_recovers_to_last_commit_and_is_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    {
        let mut o = OwnedLog::open(&path).unwrap();
        assert!(o.last_commit().is_none());
        o.append(&[b"r1", b"r2"]).unwrap();
        o.commit(b"ckpt-1").unwrap();
        assert!(matches!(
            OwnedLog::open(&path),
            Err(TransportError::Locked { .. })
        ));
        o.append(&[b"r3"]).unwrap();
        o.commit(b"ckpt-2").unwrap();
        o.append(&[b"uncommitted"]).unwrap();
        // Force the uncommitted record to disk, as a crash after a flush would leave it.
        o.commit(b"ckpt-3").unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        // Simulate a crash between writing results and their commit: cut the commit frame.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
    }
    let mut reader = LogReader::open(&path).unwrap();
    let (visible, corrupt) = reader.read_committed().unwrap();
    assert_eq!(
        visible,
        vec![b"r1".to_vec(), b"r2".to_vec(), b"r3".to_vec()]
    );
    assert_eq!(corrupt, 0);
    let o = OwnedLog::open(&path).unwrap();
    assert_eq!(o.last_commit(), Some(&b"ckpt-2"[..]));
    drop(o);
    let mut reader = LogReader::open(&path).unwrap();
    let (visible, _) = reader.read_committed().unwrap();
    assert_eq!(visible.len(), 3);
    assert_eq!(reader.len().unwrap() as usize, reader.position() as usize);
}

#[test]
fn concurrent_appenders_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.log");
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut a = Appender::open(&path).unwrap();
                for i in 0..200u32 {
                    let r = format!("{t}:{i}");
                    a.append(&[r.as_bytes()]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut r = LogReader::open(&path).unwrap();
    let (got, bad) = drain(&mut r);
    assert!(bad.is_empty());
    assert_eq!(got.len(), 800);
    let mut set: Vec<String> = got
        .into_iter()
        .map(|g| String::from_utf8(g).unwrap())
        .collect();
    set.sort();
    set.dedup();
    assert_eq!(set.len(), 800);
}

/// Issue 11, finding 7: garbage appended by the host must not move a reader
/// past bytes the next appender cuts as a torn tail; records appended after
/// the cut are all read.
#[test]
fn garbage_tail_holds_the_reader_until_the_appender_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let mut a = spool.ingest_appender(PartitionId(0)).unwrap();
    a.append(&[&rec(1), &rec(2)]).unwrap();
    let mut r = spool.ingest_reader(PartitionId(0)).unwrap();
    assert_eq!(drain(&mut r).0, vec![rec(1), rec(2)]);
    let before = r.position();
    for garbage in [
        vec![0u8; 4096],
        b"AOSP\x10\x00\x00\x00\x01\x00\x00\x00garbage".to_vec(),
    ] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(spool.ingest_path(PartitionId(0)))
            .unwrap();
        f.write_all(&garbage).unwrap();
        drop(f);
        // Nothing valid follows: the reader waits where it is.
        assert_eq!(drain(&mut r), (vec![], vec![]));
        assert_eq!(r.position(), before);
    }
    // A second, independent appender (a restarted gateway) cuts the garbage.
    let mut a2 = Appender::open(spool.ingest_path(PartitionId(0))).unwrap();
    a2.append(&[&rec(3)]).unwrap();
    a.append(&[&rec(4)]).unwrap();
    assert_eq!(drain(&mut r), (vec![rec(3), rec(4)], vec![]));
}

/// Issue 11, finding 7: a log rolled back (truncated), replaced or deleted
/// under a following reader is reported, and the reader reads the new log
/// from its start, so nothing appended afterwards is skipped.
#[test]
fn shrunk_replaced_and_deleted_logs_are_reported_and_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let path = spool.ingest_path(PartitionId(0));
    let mut a = spool.ingest_appender(PartitionId(0)).unwrap();
    a.append(&[&rec(1), &rec(2), &rec(3)]).unwrap();
    let mut r = spool.ingest_reader(PartitionId(0)).unwrap();
    assert_eq!(drain(&mut r).0.len(), 3);

    // Rolled back: cut to the first record only, then the gateway goes on.
    let first_len = 16 + rec(1).len() as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(first_len)
        .unwrap();
    a.append(&[&rec(4)]).unwrap();
    let (seen, reasons) = drain_across(&mut r);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(matches!(
        reasons[0],
        Discontinuity::Shrunk { .. } | Discontinuity::Rewritten
    ));
    assert_eq!(
        seen,
        vec![rec(1), rec(4)],
        "read again from the start, nothing skipped"
    );

    // Deleted: reported; the gateway's appender follows to the new file.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(drain_across(&mut r), (vec![], vec![Discontinuity::Deleted]));
    a.append(&[&rec(5)]).unwrap();
    assert_eq!(a.reopened(), 1);
    assert_eq!(drain(&mut r).0, vec![rec(5)]);

    // Replaced by another file (the same content plus one more record).
    let mut copy = std::fs::read(&path).unwrap();
    aorta_spool::frame::encode(aorta_spool::frame::Kind::Data, &rec(6), &mut copy);
    let tmp = dir.path().join("replacement");
    std::fs::write(&tmp, &copy).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let (seen, reasons) = drain_across(&mut r);
    assert_eq!(reasons, vec![Discontinuity::Replaced]);
    assert_eq!(seen, vec![rec(5), rec(6)]);
}

/// A consumer resumed from a checkpoint whose last record is no longer
/// where it was says so and starts over; the right log resumes in place.
#[test]
fn resume_checks_the_fingerprint_of_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let path = spool.ingest_path(PartitionId(0));
    let mut a = spool.ingest_appender(PartitionId(0)).unwrap();
    a.append(&[&rec(1), &rec(2)]).unwrap();
    let mut r = spool.ingest_reader(PartitionId(0)).unwrap();
    drain(&mut r);
    let (pos, fp) = (r.position(), r.fingerprint());
    assert_ne!(fp, 0);
    let mut r2 = spool.ingest_reader(PartitionId(0)).unwrap();
    assert_eq!(r2.resume(pos, fp), Ok(()));
    assert_eq!(r2.position(), pos);
    // Rewrite the log: same length, other content.
    let other = dir.path().join("other");
    let mut b = Appender::open(&other).unwrap();
    let mut x = rec(1);
    x[0] ^= 1;
    b.append(&[&x, &rec(2)]).unwrap();
    std::fs::rename(&other, &path).unwrap();
    let mut r3 = spool.ingest_reader(PartitionId(0)).unwrap();
    assert_eq!(r3.resume(pos, fp ^ 1), Err(Discontinuity::Rewritten));
    assert_eq!(r3.position(), 0);
    // Shorter than the checkpoint's offset.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(10)
        .unwrap();
    let mut r4 = spool.ingest_reader(PartitionId(0)).unwrap();
    assert_eq!(r4.resume(pos, fp), Err(Discontinuity::Shrunk { len: 10 }));
}

/// Issue 11, finding 5: a log replaced by a symbolic link is refused by
/// appenders, readers and owners alike; the link's target is untouched.
#[test]
fn symbolic_links_in_the_spool_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path().join("spool")).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let ingest = spool.ingest_path(PartitionId(0));
    let results = spool.results_path(PartitionId(0));
    std::os::unix::fs::symlink(&victim, &ingest).unwrap();
    std::os::unix::fs::symlink(&victim, &results).unwrap();
    assert!(matches!(
        spool.ingest_appender(PartitionId(0)),
        Err(TransportError::NotRegular { .. })
    ));
    assert!(matches!(
        spool.ingest_reader(PartitionId(0)),
        Err(TransportError::NotRegular { .. })
    ));
    assert!(matches!(
        spool.results_owner(PartitionId(0)),
        Err(TransportError::NotRegular { .. })
    ));
    assert!(matches!(
        spool.results_reader(PartitionId(0)),
        Err(TransportError::NotRegular { .. })
    ));
    // A dangling link is not created through either.
    let dangling = dir.path().join("created-through-link");
    std::fs::remove_file(&results).unwrap();
    std::os::unix::fs::symlink(&dangling, &results).unwrap();
    assert!(spool.results_owner(PartitionId(0)).is_err());
    assert!(spool.results_reader(PartitionId(0)).is_err());
    assert!(!dangling.exists());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // A topic directory replaced by a link is refused when the spool opens.
    let ingest_dir = dir.path().join("spool").join("ingest");
    std::fs::remove_file(&ingest).unwrap();
    std::fs::remove_dir(&ingest_dir).unwrap();
    std::os::unix::fs::symlink(dir.path(), &ingest_dir).unwrap();
    assert!(Spool::open(dir.path().join("spool")).is_err());
}

/// The linear indexer agrees with checking every offset one by one, on logs
/// of valid frames, fake headers (lengths reaching far), nested frames and
/// noise.
#[test]
fn frame_index_agrees_with_the_naive_scan() {
    use aorta_spool::frame::{encode, parse_header, Kind, HEADER_LEN};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    let dir = tempfile::tempdir().unwrap();
    for round in 0..60 {
        let mut bytes = Vec::new();
        while bytes.len() < 3000 {
            match rng.random_range(0..5) {
                0 => {
                    let n = rng.random_range(0..200);
                    let p: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                    encode(Kind::Data, &p, &mut bytes);
                }
                1 => {
                    // A fake header claiming a long payload.
                    let len: u32 = rng.random_range(0..5000);
                    bytes.extend_from_slice(b"AOSP");
                    bytes.extend_from_slice(&len.to_le_bytes());
                    bytes.extend_from_slice(&[1, 0, 0, 0]);
                    bytes.extend_from_slice(&rng.random::<u32>().to_le_bytes());
                }
                2 => {
                    // A frame nested inside another's payload.
                    let mut inner = Vec::new();
                    encode(Kind::Commit, b"inner", &mut inner);
                    encode(Kind::Data, &inner, &mut bytes);
                }
                3 => bytes.extend_from_slice(b"AOSPAOSP"),
                _ => {
                    let n = rng.random_range(0..50);
                    bytes.extend((0..n).map(|_| rng.random::<u8>()));
                }
            }
        }
        let path = dir.path().join(format!("log{round}"));
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let from = rng.random_range(0..100u64);
        let ix =
            aorta_spool::valid_frames(&file, &path, from, bytes.len() as u64, 1 << 20).unwrap();
        assert_eq!(ix.covered_to, bytes.len() as u64);
        let got = ix.valid;
        let mut want = Vec::new();
        for a in from as usize..bytes.len() {
            let Some(h) = bytes.get(a..a + HEADER_LEN) else {
                continue;
            };
            let Ok(fh) = parse_header(h.try_into().unwrap()) else {
                continue;
            };
            let Some(p) = bytes.get(a + HEADER_LEN..a + HEADER_LEN + fh.len as usize) else {
                continue;
            };
            if fh.checks(p) {
                want.push(a as u64);
            }
        }
        assert_eq!(got, want, "round {round}");
    }
}

/// A corrupt byte followed by more valid frames than one index holds: the
/// reader indexes on in steps and reads every frame.
#[test]
fn more_frames_than_one_index_holds_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p0000.log");
    let mut bytes = vec![0xee];
    let n = 70_000;
    for i in 0..n {
        aorta_spool::frame::encode(
            aorta_spool::frame::Kind::Data,
            &(i as u32).to_le_bytes(),
            &mut bytes,
        );
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut r = LogReader::open(&path).unwrap();
    let (recs, bad) = drain(&mut r);
    assert_eq!(bad.len(), 1);
    assert_eq!(recs.len(), n);
    assert_eq!(recs[n - 1], ((n - 1) as u32).to_le_bytes());
}
