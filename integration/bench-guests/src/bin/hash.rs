//! CPU-bound work: SHA-256 over MEGABYTES (default 100) of generated data. Prints the digest.
use sha2::{Digest, Sha256};

fn main() {
    let megabytes: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let mut block = vec![0u8; 1 << 20];
    let mut hasher = Sha256::new();
    for i in 0..megabytes {
        for (j, byte) in block.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(31) ^ (j as u8);
        }
        hasher.update(&block);
    }
    let digest = hasher.finalize();
    println!("{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>());
}
