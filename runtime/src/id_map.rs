//! A user namespace's id mapping as `/proc/PID/uid_map` and `gid_map` show it from the
//! host: which host id a container id is.

/// Lines `INSIDE OUTSIDE COUNT` of one map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap(Vec<(u32, u32, u32)>);

impl IdMap {
    /// The map in `text` (a `uid_map` or `gid_map`); lines that are not three numbers are
    /// skipped.
    pub fn parse(text: &str) -> IdMap {
        let line = |l: &str| {
            let mut n = l.split_whitespace().map(|w| w.parse::<u32>().ok());
            Some((n.next()??, n.next()??, n.next()??))
        };
        IdMap(text.lines().filter_map(line).collect())
    }

    /// The map of process `pid`'s user namespace, `kind` being `uid_map` or `gid_map`.
    pub fn of(pid: i32, kind: &str) -> std::io::Result<IdMap> {
        std::fs::read_to_string(format!("/proc/{pid}/{kind}")).map(|text| IdMap::parse(&text))
    }

    /// The host id of container id `id`, `None` when the map leaves it out.
    pub fn to_host(&self, id: u32) -> Option<u32> {
        self.0.iter().find_map(|&(inside, outside, count)| {
            let offset = id.checked_sub(inside)?;
            (offset < count).then(|| outside + offset)
        })
    }

    /// Whether host id `host` has a container id in this map.
    pub fn maps_host(&self, host: u32) -> bool {
        self.0
            .iter()
            .any(|&(_, outside, count)| host.checked_sub(outside).is_some_and(|o| o < count))
    }
}

#[cfg(test)]
mod tests {
    use super::IdMap;

    #[test]
    fn ids_map_within_their_range_only() {
        let map = IdMap::parse("         0     200000      65536\n 65536 1000 1\nbad line\n");
        assert_eq!(map.to_host(0), Some(200_000));
        assert_eq!(map.to_host(1000), Some(201_000));
        assert_eq!(map.to_host(65_535), Some(265_535));
        assert_eq!(map.to_host(65_536), Some(1000));
        assert_eq!(map.to_host(65_537), None);
        assert!(map.maps_host(200_005));
        assert!(map.maps_host(1000));
        assert!(!map.maps_host(0));
        assert!(!map.maps_host(265_536));
    }
}
