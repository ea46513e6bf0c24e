use aorta_envelope::{KemKeypair, ReceiverSession, SenderSession};
use aorta_wire::{BodyFlags, Bucket, ContentType, Header, SessionId, StreamId};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;

fn bench(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let fleet = KemKeypair::generate(&mut rng);
    let device = KemKeypair::generate(&mut rng);
    let stream = StreamId([7; 16]);
    let mut g = c.benchmark_group("envelope");
    g.bench_function("session_setup_sender", |b| {
        b.iter(|| {
            SenderSession::start(
                ContentType::RrBatch,
                1,
                stream,
                SessionId(1),
                &fleet.public,
                &device.secret,
                &mut rng,
            )
        })
    });
    for exp in [9u8, 16] {
        let bucket = Bucket::from_exponent(exp).unwrap();
        let content = vec![0x5au8; bucket.content_capacity()];
        let mut s = SenderSession::start(
            ContentType::RrBatch,
            1,
            stream,
            SessionId(1),
            &fleet.public,
            &device.secret,
            &mut rng,
        )
        .unwrap();
        g.throughput(Throughput::Bytes(bucket.len() as u64));
        g.bench_function(format!("seal_{}B", bucket.len()), |b| {
            b.iter(|| s.seal(bucket, BodyFlags::default(), &content).unwrap())
        });
        let env = s.seal(bucket, BodyFlags::default(), &content).unwrap();
        let h = Header::parse_envelope(&env).unwrap();
        let r = ReceiverSession::accept(&h, &fleet.secret, &device.public).unwrap();
        g.bench_function(format!("open_{}B", bucket.len()), |b| {
            b.iter(|| {
                let mut e = env.clone();
                r.open(&h, &mut e).map(|b| b.len()).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
