//! `SmallMap`: a map of a few string keys kept as a sorted list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Key → value, sorted by key, each key once; a JSON object like a map's. A list, not a
/// `BTreeMap`: a topic declares a few config keys and a catalog record one or two subjects, the
/// smallest node of a map is half a kilobyte or more, and a plan of 10,000 products holds
/// thousands of them (each product's resolved configs, a topic's configs desired and read
/// back, every catalog record twice).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(
    from = "BTreeMap<String, V>",
    bound(deserialize = "V: Deserialize<'de>")
)]
pub struct SmallMap<V>(Vec<(String, V)>);

/// As a map, in key order, without a copy (a policy view serialises every product's configs).
impl<V: Serialize> Serialize for SmallMap<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<V> Default for SmallMap<V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<V> SmallMap<V> {
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// In key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing what it had.
    pub fn insert(&mut self, key: String, value: V) {
        match self.position(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Drops spare capacity (inserts grow the list as a `Vec` grows: to four entries at once).
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &V) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// In key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Entries in any order; of two with the same key the later wins, as with inserts.
impl<V> FromIterator<(String, V)> for SmallMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(entries: I) -> Self {
        let mut list: Vec<(String, V)> = entries.into_iter().collect();
        // Reversed, a stable sort puts the later of two equal keys first, and dedup keeps it.
        list.reverse();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|later_in_list, kept| later_in_list.0 == kept.0);
        list.shrink_to_fit();
        SmallMap(list)
    }
}

/// `map[key]`, as for a `BTreeMap`: panics when the key is absent.
impl<V> std::ops::Index<&str> for SmallMap<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        self.get(key)
            .unwrap_or_else(|| panic!("no key {key:?} in the map"))
    }
}

/// Inserts each entry in turn (a small map's few keys: no need to sort once).
impl<V> Extend<(String, V)> for SmallMap<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl<V, const N: usize> From<[(String, V); N]> for SmallMap<V> {
    fn from(entries: [(String, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V> IntoIterator for SmallMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V> From<BTreeMap<String, V>> for SmallMap<V> {
    fn from(map: BTreeMap<String, V>) -> Self {
        let mut list: Vec<_> = map.into_iter().collect();
        list.shrink_to_fit();
        SmallMap(list)
    }
}

impl<V> From<SmallMap<V>> for BTreeMap<String, V> {
    fn from(map: SmallMap<V>) -> Self {
        map.0.into_iter().collect()
    }
}

impl<'a, V> IntoIterator for &'a SmallMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, V)>,
        fn(&'a (String, V)) -> (&'a String, &'a V),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small map behaves as a `BTreeMap` of the same entries: key order, the later of two
    /// entries with one key, lookups, removal.
    #[test]
    fn a_small_map_agrees_with_a_btree_map() {
        let entries =
            [("b", 1), ("a", 2), ("c", 3), ("b", 4), ("a", 5)].map(|(k, v)| (k.to_string(), v));
        let small: SmallMap<i32> = entries.clone().into_iter().collect();
        let map: BTreeMap<String, i32> = entries.clone().into_iter().collect();
        assert_eq!(BTreeMap::from(small.clone()), map);
        let json = serde_json::to_string(&small).unwrap();
        assert_eq!(json, serde_json::to_string(&map).unwrap());
        assert_eq!(serde_json::from_str::<SmallMap<i32>>(&json).unwrap(), small);
        assert_eq!(small.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        let mut extended = SmallMap::default();
        extended.extend(entries.clone());
        assert_eq!(extended, small);
        assert_eq!(SmallMap::from(entries), small);
        let mut m = small;
        assert_eq!(m["b"], 4);
        *m.get_mut("c").unwrap() = 7;
        assert_eq!(m.remove("a"), Some(5));
        assert_eq!(m.remove("a"), None);
        assert!(!m.contains_key("a") && m.contains_key("c"));
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [4, 7]);
    }

    #[test]
    fn shrinking_keeps_the_entries_and_drops_the_spare_room() {
        let mut m = SmallMap::default();
        m.insert("b".to_string(), 1);
        m.insert("a".to_string(), 2);
        assert!(m.0.capacity() > 2);
        m.shrink_to_fit();
        assert_eq!(m.0.capacity(), 2);
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            [(&"a".to_string(), &2), (&"b".to_string(), &1)]
        );
    }
}
