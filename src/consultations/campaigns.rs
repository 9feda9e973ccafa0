//! Campaign detection: responses whose text is near-identical (the same
//! letter sent by many people, lightly edited) are grouped so the board can
//! read one and count the rest.
//!
//! Texts are compared as sets of word 4-shingles with Jaccard similarity.
//! Comparing every pair would be quadratic, so MinHash signatures split into
//! bands pick candidate pairs (pairs at 0.8 similarity share a band with
//! probability above 0.999), and every candidate is then checked exactly.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use uuid::Uuid;

/// The similarity at or above which two responses are one campaign.
pub const THRESHOLD: f64 = 0.8;
/// Texts shorter than this many words are too short to call a campaign
/// ("I agree" from many people is agreement, not a letter).
pub const MIN_WORDS: usize = 12;
const SHINGLE: usize = 4;
const BANDS: usize = 20;
const ROWS: usize = 4;

fn hash_of(value: impl Hash, seed: u64) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    seed.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

/// The word shingles of a text, hashed; case and punctuation ignored.
pub fn shingles(text: &str) -> Option<HashSet<u64>> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() < MIN_WORDS {
        return None;
    }
    Some(words.windows(SHINGLE).map(|w| hash_of(w, 0)).collect())
}

pub fn jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    let shared = a.intersection(b).count();
    let all = a.len() + b.len() - shared;
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

fn signature(set: &HashSet<u64>) -> Vec<u64> {
    (0..(BANDS * ROWS) as u64)
        .map(|seed| {
            set.iter()
                .map(|h| hash_of(h, seed + 1))
                .min()
                .unwrap_or(u64::MAX)
        })
        .collect()
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups of two or more ids whose texts are near-identical, largest first
/// (ids within a group in the order given).
pub fn group(texts: &[(Uuid, String)]) -> Vec<Vec<Uuid>> {
    let sets: Vec<(usize, HashSet<u64>)> = texts
        .iter()
        .enumerate()
        .filter_map(|(i, (_, text))| shingles(text).map(|s| (i, s)))
        .collect();
    let mut parent: Vec<usize> = (0..texts.len()).collect();
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for (slot, (_, set)) in sets.iter().enumerate() {
        let sig = signature(set);
        for band in 0..BANDS {
            let key = hash_of(&sig[band * ROWS..(band + 1) * ROWS], 0);
            buckets.entry((band, key)).or_default().push(slot);
        }
    }
    let mut checked: HashSet<(usize, usize)> = HashSet::new();
    for members in buckets.values().filter(|m| m.len() > 1) {
        for (n, &a) in members.iter().enumerate() {
            for &b in &members[n + 1..] {
                if !checked.insert((a.min(b), a.max(b))) {
                    continue;
                }
                let (ia, sa) = &sets[a];
                let (ib, sb) = &sets[b];
                if jaccard(sa, sb) >= THRESHOLD {
                    let (ra, rb) = (find(&mut parent, *ia), find(&mut parent, *ib));
                    if ra != rb {
                        parent[ra.max(rb)] = ra.min(rb);
                    }
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<Uuid>> = HashMap::new();
    for (i, (id, _)) in texts.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(*id);
    }
    let mut out: Vec<(usize, Vec<Uuid>)> =
        groups.into_iter().filter(|(_, g)| g.len() > 1).collect();
    out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &str = "As a supplier of electronic patient records we believe the proposed token lifetime of five minutes is far too short for clinical workflows and will cause staff to be signed out during ward rounds";

    #[test]
    fn lightly_edited_copies_are_one_campaign_and_different_texts_are_not() {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let texts = vec![
            (ids[0], LETTER.to_owned()),
            (ids[1], format!("{LETTER}.")),
            (ids[2], LETTER.replace("As a supplier", "AS A SUPPLIER,")),
            (ids[3], "Our trust supports the proposal in full and would like to see it adopted quickly across every region with funding for smaller organisations".to_owned()),
            (ids[4], "I agree".to_owned()),
        ];
        let groups = group(&texts);
        assert_eq!(groups, vec![vec![ids[0], ids[1], ids[2]]]);
    }

    #[test]
    fn the_threshold_is_jaccard_of_word_shingles() {
        let a = shingles(LETTER).unwrap();
        let edited = LETTER.replace("far too short", "rather short");
        let b = shingles(&edited).unwrap();
        let similarity = jaccard(&a, &b);
        assert!(similarity < THRESHOLD, "{similarity}");
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        assert!(group(&[(ids[0], LETTER.into()), (ids[1], edited)]).is_empty());
        assert!(shingles("too short to count").is_none());
    }

    #[test]
    fn many_responses_are_grouped_without_comparing_every_pair() {
        let mut texts = Vec::new();
        for i in 0..2_000 {
            let text = if i % 4 == 0 {
                format!("{LETTER} signed {}", i % 3)
            } else {
                format!(
                    "Response number {i} says something of its own about section {i} and the standard in words that differ {} times",
                    i * 7
                )
            };
            texts.push((Uuid::now_v7(), text));
        }
        let groups = group(&texts);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].len(), 500);
    }
}
