//! The ids of one accrual run's ledger entries: UUIDv7 at the millisecond the caller
//! gives, then a counter, so that a run's ids ascend (each insert lands at the end of the
//! id index) and cost no call to the operating system's random source (one per id was 4 %
//! of a first accrual's pricing thread at 1,000,000 pages).
//!
//! The millisecond must be the time of each id, not the run's start: PostgreSQL compares
//! text keys with the locale's collation, whose cost grows with the common prefix, and ids
//! that all share one run's millisecond made its first accrual 13 % slower.

use std::sync::Mutex;

use super::rng::SplitMix64;

/// The counter's bits: UUIDv7 leaves 74 bits after the timestamp; the counter takes the
/// high 42 and a mix of the seed and the counter the low 32.
const COUNTER_BITS: u32 = 42;
/// A run starts its counter below 2^40: at least 2^41 ids fit before it could wrap, far
/// more than any run posts.
const COUNTER_START_MASK: u64 = (1 << 40) - 1;

/// Ascending, unique UUIDv7 texts for one run. `seed` must be random (the caller draws
/// it once per run): two runs in the same millisecond differ by their counters' random
/// starts and by the mixed low bits.
#[derive(Debug)]
pub struct EntryIds {
    seed: u64,
    state: Mutex<IdState>,
}

#[derive(Debug)]
struct IdState {
    millis: u64,
    counter: u64,
}

impl EntryIds {
    pub fn new(seed: u128) -> EntryIds {
        let low = seed as u64;
        let high = (seed >> 64) as u64;
        EntryIds { seed: high, state: Mutex::new(IdState { millis: 0, counter: low & COUNTER_START_MASK }) }
    }

    /// The next id at `unix_millis` (never before an earlier id's: a clock that steps back
    /// keeps the last millisecond), as the hyphenated lower-case text the ledger stores.
    pub fn next_id(&self, unix_millis: u64) -> String {
        let (millis, counter) = {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.millis = state.millis.max(unix_millis & ((1 << 48) - 1));
            state.counter = (state.counter + 1) & ((1 << COUNTER_BITS) - 1);
            (state.millis, state.counter)
        };
        let payload: u128 =
            (u128::from(counter) << 32) | u128::from(SplitMix64::new(self.seed ^ counter).next_u64() & 0xFFFF_FFFF);
        uuid_v7(millis, payload).hyphenated().to_string()
    }
}

/// A UUIDv7 from its 48-bit timestamp and 74-bit payload (12 bits of rand_a, then 62 of
/// rand_b around the variant), so that the bytes order as (millis, payload).
fn uuid_v7(millis: u64, payload: u128) -> uuid::Uuid {
    let rand_a = ((payload >> 62) & 0x0FFF) as u16;
    let rand_b = (payload & ((1 << 62) - 1)) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..8].copy_from_slice(&(0x7000 | rand_a).to_be_bytes());
    bytes[8..].copy_from_slice(&((0b10 << 62) | rand_b).to_be_bytes());
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis_of(text: &str) -> u64 {
        let (seconds, nanos) = uuid::Uuid::parse_str(text).unwrap().get_timestamp().unwrap().to_unix();
        seconds * 1000 + u64::from(nanos) / 1_000_000
    }

    #[test]
    fn ids_are_version_7_at_the_given_millisecond_and_ascend() {
        let start = 1_764_979_200_123;
        let ids = EntryIds::new(0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210);
        let texts: Vec<(u64, String)> =
            (0..10_000).map(|index| (start + index / 7, ids.next_id(start + index / 7))).collect();
        for (millis, text) in &texts {
            let id = uuid::Uuid::parse_str(text).unwrap();
            assert_eq!(id.get_version_num(), 7, "{text}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{text}");
            assert_eq!(millis_of(text), *millis, "{text}");
        }
        assert!(texts.windows(2).all(|pair| pair[0].1 < pair[1].1), "texts ascend");
    }

    #[test]
    fn a_clock_that_steps_back_keeps_the_last_millisecond() {
        let ids = EntryIds::new(7);
        let later = ids.next_id(2_000);
        let stepped_back = ids.next_id(1_000);
        assert_eq!(millis_of(&stepped_back), 2_000);
        assert!(later < stepped_back);
    }

    #[test]
    fn two_runs_in_one_millisecond_share_no_id() {
        let millis = 1_764_979_200_123;
        let first = EntryIds::new(1);
        let second = EntryIds::new(1 << 64 | 1);
        let a: std::collections::BTreeSet<String> = (0..1_000).map(|_| first.next_id(millis)).collect();
        let b: std::collections::BTreeSet<String> = (0..1_000).map(|_| second.next_id(millis)).collect();
        assert_eq!(a.len(), 1_000);
        assert!(a.is_disjoint(&b), "same counter start, different seeds: the low bits differ");
    }

    #[test]
    fn the_counter_wraps_inside_its_bits_without_panicking() {
        let ids = EntryIds::new(0);
        ids.state.lock().unwrap().counter = (1 << COUNTER_BITS) - 2;
        let last = ids.next_id(5);
        let wrapped = ids.next_id(5);
        assert_ne!(last, wrapped);
    }
}
