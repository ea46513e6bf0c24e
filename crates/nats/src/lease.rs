//! Partition leases in a JetStream KV bucket (liveness and assignment;
//! never the guard of correctness, which is the output stream's fence).
