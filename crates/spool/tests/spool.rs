use std::io::Write;

use aorta_spool::{Appender, LogReader, OwnedLog, Spool};
use aorta_transport::{
    CommitLog, Consumer, CorruptReason, PartitionId, Polled, Producer, TransportError,
};

fn drain(r: &mut LogReader) -> (Vec<Vec<u8>>, Vec<CorruptReason>) {
    let mut recs = Vec::new();
    let mut bad = Vec::new();
    loop {
        match r.poll().unwrap() {
            Polled::Record { payload, .. } => recs.push(payload.to_vec()),
            Polled::Corrupt { reason, .. } => bad.push(reason),
            Polled::Idle => return (recs, bad),
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
