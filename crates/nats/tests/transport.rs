//! The JetStream transport against a real nats-server (2.12+) started by
//! the test on free loopback ports.

use aorta_nats::{Nats, NatsConfig};
use aorta_testkit::nats::NatsServer;
use aorta_transport::{
    CommitLog, CommittedRecords, Consumer, PartitionId, Polled, Producer, TransportError,
};

fn server() -> (NatsServer, Nats) {
    let s = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let n = Nats::connect(&NatsConfig::parse(&s.url()).unwrap()).unwrap();
    (s, n)
}

fn read_all(c: &mut impl Consumer) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut idle = 0;
    while idle < 20 {
        match c.poll().unwrap() {
            Polled::Record {
                offset, payload, ..
            } => {
                idle = 0;
                out.push((offset, payload.to_vec()))
            }
            Polled::Idle => idle += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[test]
fn credentials_are_required_and_the_version_is_checked() {
    let (s, n) = server();
    assert!(aorta_nats::parse_version(n.server_version()).unwrap() >= aorta_nats::MIN_SERVER);
    let e = Nats::connect(&NatsConfig::parse(&s.anonymous_url()).unwrap()).unwrap_err();
    assert!(matches!(e, TransportError::Refused { .. }), "{e}");
    assert!(!e.retryable());
    let wrong = s.url().replace(&s.password, "not-the-password");
    let e = Nats::connect(&NatsConfig::parse(&wrong).unwrap()).unwrap_err();
    assert!(!e.to_string().contains("not-the-password"), "{e}");
    assert_eq!(aorta_nats::parse_version("2.9.10"), Some((2, 9)));
    assert!(aorta_nats::parse_version("2.9.10").unwrap() < aorta_nats::MIN_SERVER);
}

#[test]
fn partitions_are_read_in_order_and_retries_are_stored_once() {
    let (_s, n) = server();
    n.ensure_layout(2).unwrap();
    let mut p0 = n.producer(PartitionId(0));
    let mut p1 = n.producer(PartitionId(1));
    p0.append(&[b"a0", b"a1"]).unwrap();
    p1.append(&[b"b0"]).unwrap();
    // The same records again (a gateway retrying after a lost ack).
    p0.append(&[b"a0", b"a1"]).unwrap();
    p0.append(&[b"a2"]).unwrap();
    let mut in0 = n.input(PartitionId(0)).unwrap();
    let got = read_all(&mut in0);
    let payloads: Vec<&[u8]> = got.iter().map(|x| x.1.as_slice()).collect();
    assert_eq!(payloads, vec![&b"a0"[..], b"a1", b"a2"]);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    // Resuming from a position continues after it, and the fingerprint
    // recognises the record there.
    let (pos, fp) = (got[1].0, {
        let mut c = n.input(PartitionId(0)).unwrap();
        let first_two: Vec<_> = (0..2)
            .map(|_| loop {
                if let Polled::Record { .. } = c.poll().unwrap() {
                    break;
                }
            })
            .collect();
        assert_eq!(first_two.len(), 2);
        c.fingerprint()
    });
    let mut again = n.input(PartitionId(0)).unwrap();
    again.resume(pos, fp).unwrap();
    assert_eq!(read_all(&mut again).len(), 1);
    let mut wrong = n.input(PartitionId(0)).unwrap();
    assert!(wrong.resume(pos, fp ^ 1).is_err());
    assert_eq!(wrong.position(), 0);
    let mut in1 = n.input(PartitionId(1)).unwrap();
    assert_eq!(read_all(&mut in1).len(), 1);
}

#[test]
fn one_append_of_more_records_than_the_client_keeps_in_flight_completes() {
    // A gateway tick of many thousand streams is one append; the client
    // allows 5,000 unacknowledged publishes (this once hung).
    let (_s, n) = server();
    n.ensure_layout(1).unwrap();
    let records: Vec<Vec<u8>> = (0..12_000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let last = n.producer(PartitionId(0)).append(&refs).unwrap();
    assert_eq!(last, 12_000);
    let mut input = n.input(PartitionId(0)).unwrap();
    assert_eq!(read_all(&mut input).len(), 12_000);
}

#[test]
fn commits_are_atomic_and_a_new_owner_fences_the_old_one() {
    let (_s, n) = server();
    n.ensure_layout(1).unwrap();
    let p = PartitionId(0);
    let mut a = n.output(p, "worker-a").unwrap();
    assert!(a.last_commit().is_none());
    a.append(&[b"r1", b"r2"]).unwrap();
    a.commit(b"checkpoint-1").unwrap();
    a.append(&[b"r3"]).unwrap();
    // A checkpoint over several messages.
    let big = vec![7u8; 3 << 20];
    a.commit(&big).unwrap();
    a.append(&[b"uncommitted"]).unwrap();

    let mut results = n.results();
    let mut got = Vec::new();
    for _ in 0..50 {
        results.poll_committed(&mut got).unwrap();
        if got.len() >= 3 {
            break;
        }
    }
    let recs: Vec<&[u8]> = got.iter().map(|x| x.1.as_slice()).collect();
    assert_eq!(recs, vec![&b"r1"[..], b"r2", b"r3"]);

    // Worker b takes the partition over: it finds a's last commit...
    let mut b = n.output(p, "worker-b").unwrap();
    assert_eq!(b.last_commit(), Some(&big[..]));
    // ...and a, resumed after its lease is gone, can commit nothing.
    let e = a.commit(b"checkpoint-3").unwrap_err();
    assert!(
        matches!(e, TransportError::Fenced { partition: 0, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("worker-b"), "{e}");
    b.append(&[b"r4"]).unwrap();
    b.commit(b"checkpoint-b").unwrap();
    for _ in 0..50 {
        results.poll_committed(&mut got).unwrap();
        if got.len() >= 4 {
            break;
        }
    }
    let recs: Vec<&[u8]> = got.iter().map(|x| x.1.as_slice()).collect();
    assert_eq!(recs, vec![&b"r1"[..], b"r2", b"r3", b"r4"]);
    // Rewinding (a commit that did not open) goes back one commit.
    let mut c = n.output(p, "worker-c").unwrap();
    assert_eq!(c.last_commit(), Some(&b"checkpoint-b"[..]));
    assert!(c.rewind_commit().unwrap());
    assert_eq!(c.last_commit(), Some(&big[..]));
    assert!(c.rewind_commit().unwrap());
    assert_eq!(c.last_commit(), Some(&b"checkpoint-1"[..]));
    assert!(c.rewind_commit().unwrap());
    assert_eq!(c.last_commit(), None);
}
