//! Durations in seconds as a mergeable histogram, for response-time percentiles over ranges
//! too large to sort (the dashboard's per-day rollup stores one per day and group).
//!
//! Buckets: every value below 256 s has its own bucket; above, a bucket spans 1/128 of an
//! octave (its width is at most 1/128 of its smallest value). Each bucket keeps its count and
//! the smallest and largest value it holds, so:
//!
//! - a nearest-rank percentile that falls on the first or last value of its bucket is exact
//!   (the bucket's min or max), as is any value in a bucket holding one distinct value;
//! - otherwise it is interpolated between the bucket's min and max, so its error is less than
//!   `max - min`, less than 1/128 (0.8 %) of the true value.
//!
//! Small data sets (hand-computed tests) therefore give exactly the sorted-list answer of
//! [`crate::domain::health::percentiles`].

use std::collections::BTreeMap;

use crate::domain::health::Percentiles;

/// One bucket: how many values, the smallest and the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub count: u64,
    pub min: i64,
    pub max: i64,
}

/// A histogram of non-negative durations in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Histogram {
    buckets: BTreeMap<u32, Bucket>,
}

const EXACT_BELOW: i64 = 256;
const SUB_BUCKETS: u32 = 128;

/// The bucket of a non-negative value; negative values are clamped to 0.
pub fn bucket_of(value: i64) -> u32 {
    let value = value.max(0);
    if value < EXACT_BELOW {
        return u32::try_from(value).unwrap_or_default();
    }
    let value = value.unsigned_abs();
    let exponent = 63 - value.leading_zeros(); // >= 8
    let shift = exponent - 7;
    let mantissa = u32::try_from(value >> shift).unwrap_or(255); // in [128, 256)
    256 + (shift - 1) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)
}

impl Histogram {
    /// Adds one value (negative durations are the caller's to drop).
    pub fn add(&mut self, value: i64) {
        let bucket = self.buckets.entry(bucket_of(value)).or_insert(Bucket { count: 0, min: value, max: value });
        bucket.count += 1;
        bucket.min = bucket.min.min(value);
        bucket.max = bucket.max.max(value);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (key, theirs) in &other.buckets {
            match self.buckets.get_mut(key) {
                Some(bucket) => {
                    bucket.count += theirs.count;
                    bucket.min = bucket.min.min(theirs.min);
                    bucket.max = bucket.max.max(theirs.max);
                }
                None => {
                    self.buckets.insert(*key, *theirs);
                }
            }
        }
    }

    /// How many values.
    pub fn count(&self) -> u64 {
        self.buckets.values().map(|bucket| bucket.count).sum()
    }

    /// The nearest-rank value of percentile `p` (see the module documentation for its error).
    fn nearest_rank(&self, p: u64) -> i64 {
        let n = self.count();
        let rank = (p * n).div_ceil(100).max(1);
        let mut before = 0;
        for bucket in self.buckets.values() {
            if rank <= before + bucket.count {
                let within = rank - before; // 1..=count
                if within == 1 {
                    return bucket.min;
                }
                if within == bucket.count {
                    return bucket.max;
                }
                let span = i128::from(bucket.max - bucket.min);
                let step = i128::from(within - 1) * span / i128::from(bucket.count - 1);
                return bucket.min + i64::try_from(step).unwrap_or_default();
            }
            before += bucket.count;
        }
        self.buckets.values().last().map_or(0, |bucket| bucket.max)
    }

    /// p50, p90 and p99 by nearest rank, `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        Some(Percentiles {
            p50: self.nearest_rank(50),
            p90: self.nearest_rank(90),
            p99: self.nearest_rank(99),
            count: usize::try_from(count).unwrap_or(usize::MAX),
        })
    }

    /// A compact encoding: per bucket, LEB128 varints of the bucket's distance from the
    /// previous bucket, its count, its min, and its max's distance from its min.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buckets.len() * 6);
        let mut previous = 0;
        for (key, bucket) in &self.buckets {
            put(&mut out, u64::from(key - previous));
            put(&mut out, bucket.count);
            put(&mut out, bucket.min.unsigned_abs());
            put(&mut out, (bucket.max - bucket.min).unsigned_abs());
            previous = *key;
        }
        out
    }

    /// Reads [`Histogram::encode`]'s bytes; `None` if they are not such an encoding.
    pub fn decode(bytes: &[u8]) -> Option<Histogram> {
        let mut buckets = BTreeMap::new();
        let mut at = 0;
        let mut key: u64 = 0;
        while at < bytes.len() {
            key += take(bytes, &mut at)?;
            let count = take(bytes, &mut at)?;
            let min = i64::try_from(take(bytes, &mut at)?).ok()?;
            let max = min.checked_add(i64::try_from(take(bytes, &mut at)?).ok()?)?;
            buckets.insert(u32::try_from(key).ok()?, Bucket { count, min, max });
        }
        Some(Histogram { buckets })
    }
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = u8::try_from(value & 0x7f).unwrap_or_default();
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::percentiles;

    #[test]
    fn small_sets_are_exact() {
        for values in
            [vec![120], vec![60, 120, 600, 3600], vec![5, 5, 5, 7, 300, 301, 302, 86_400], (1..=1000).collect()]
        {
            let mut histogram = Histogram::default();
            values.iter().for_each(|value| histogram.add(*value));
            assert_eq!(histogram.percentiles(), percentiles(&values), "{values:?}");
            assert_eq!(Histogram::decode(&histogram.encode()), Some(histogram));
        }
    }

    #[test]
    fn large_sets_are_within_the_bound_and_merge_like_one() {
        let values: Vec<i64> = (0..100_000_i64).map(|i| (i * 7_919) % 50_000 + (i % 13) * 3).collect();
        let exact = percentiles(&values).unwrap();
        let mut whole = Histogram::default();
        let mut halves = (Histogram::default(), Histogram::default());
        for (index, value) in values.iter().enumerate() {
            whole.add(*value);
            if index % 2 == 0 { halves.0.add(*value) } else { halves.1.add(*value) }
        }
        halves.0.merge(&halves.1);
        assert_eq!(halves.0, whole);
        let estimate = whole.percentiles().unwrap();
        for (got, want) in [(estimate.p50, exact.p50), (estimate.p90, exact.p90), (estimate.p99, exact.p99)] {
            assert!((got - want).abs() * 128 <= want, "{got} vs {want}");
        }
        assert_eq!(estimate.count, exact.count);
    }

    #[test]
    fn buckets_are_ordered_and_narrow() {
        let mut previous = 0;
        for value in 0..200_000_i64 {
            let bucket = bucket_of(value);
            assert!(bucket >= previous);
            previous = bucket;
        }
        assert!(Histogram::decode(&[0x80]).is_none());
    }
}
