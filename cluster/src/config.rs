//! The topology: stream and bucket names, subjects, replicas and retention, read from a TOML
//! file (`examples/nats-streams.toml` documents every key) or taken from the defaults.
//!
//! It owns the shape and the defaults of that file and nothing else: it never talks to a
//! server ([`crate::setup`] applies it) and every command reads the same file, so publishers,
//! workers and `sigil nats init` agree on the names.

use std::time::Duration;

/// Everything `sigil nats init` creates and the other commands use.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    /// Copies of every stream and bucket (3 on a cluster, 1 on a single server).
    pub replicas: usize,
    /// Correlation partitions: `sigil.feeds.0` … `sigil.feeds.{P-1}`. Fixed for the life of the
    /// feeds stream and the checkpoints (workers read it from the checkpoint bucket).
    pub partitions: u32,
    /// The raw logs: evidence, so `deny_delete` and `deny_purge` are on by default.
    pub events: StreamSpec,
    /// Detection and correlation alerts.
    pub alerts: StreamSpec,
    /// Detections that feed correlations, one subject per partition.
    pub feeds: StreamSpec,
    /// Messages no worker could evaluate (not JSON, too large), with the reason.
    pub deadletter: StreamSpec,
    /// The durable pull consumer every worker shares on the events stream.
    pub consumer: String,
    pub leases: BucketSpec,
    pub checkpoints: BucketSpec,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    pub name: String,
    /// The stream's subjects; the first one without a wildcard (or the prefix of `PREFIX.>`)
    /// is where Sigil publishes.
    pub subject: String,
    /// How long messages are kept ("30d", "12h", "90m", "45s"; "0" keeps them forever).
    #[serde(default = "forever", deserialize_with = "duration")]
    pub max_age: Duration,
    /// The stream's size cap in bytes (-1: none); the oldest messages go first.
    #[serde(default = "unlimited")]
    pub max_bytes: i64,
    /// Messages with a `Nats-Msg-Id` seen within this window are stored once.
    #[serde(default = "two_minutes", deserialize_with = "duration")]
    pub duplicate_window: Duration,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    pub bucket: String,
    /// Entries older than this expire (a lease's time to live); "0" never.
    #[serde(default = "forever", deserialize_with = "duration")]
    pub max_age: Duration,
}

impl Default for Topology {
    fn default() -> Topology {
        let spec = |name: &str, subject: &str, max_age: u64, dup: u64| StreamSpec {
            name: name.into(),
            subject: subject.into(),
            max_age: Duration::from_secs(max_age),
            max_bytes: -1,
            duplicate_window: Duration::from_secs(dup),
            deny_delete: false,
            deny_purge: false,
        };
        const DAY: u64 = 86_400;
        Topology {
            replicas: 3,
            partitions: 8,
            events: StreamSpec {
                deny_delete: true,
                deny_purge: true,
                ..spec("SIGIL_EVENTS", "sigil.events.>", 30 * DAY, 120)
            },
            alerts: spec("SIGIL_ALERTS", "sigil.alerts.>", 365 * DAY, 600),
            feeds: spec("SIGIL_FEEDS", "sigil.feeds.>", 7 * DAY, 600),
            deadletter: spec("SIGIL_DEADLETTER", "sigil.deadletter.>", 30 * DAY, 600),
            consumer: "sigil-workers".into(),
            leases: BucketSpec { bucket: "sigil-leases".into(), max_age: Duration::from_secs(10) },
            checkpoints: BucketSpec { bucket: "sigil-checkpoints".into(), max_age: Duration::ZERO },
        }
    }
}

impl Topology {
    /// Reads a topology file; keys left out keep their defaults.
    pub fn from_toml(text: &str) -> Result<Topology, String> {
        let topology: Topology = toml::from_str(text).map_err(|e| e.to_string())?;
        topology.check()?;
        Ok(topology)
    }

    /// `path`, or the defaults when `None`.
    pub fn load(path: Option<&std::path::Path>) -> Result<Topology, String> {
        match path {
            None => Ok(Topology::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the topology {}: {e}", path.display()))?;
                Topology::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.replicas == 0 || self.replicas > 5 {
            return Err(format!("replicas = {}: JetStream takes 1 to 5", self.replicas));
        }
        if self.partitions == 0 || self.partitions > 4096 {
            return Err(format!("partitions = {}: take 1 to 4096", self.partitions));
        }
        if self.leases.max_age < Duration::from_secs(1) {
            return Err("leases.max_age is the lease time to live: at least \"1s\"".into());
        }
        for s in [&self.events, &self.alerts, &self.feeds, &self.deadletter] {
            if !s.subject.ends_with(".>") {
                return Err(format!("{}: subject {:?} must end with \".>\"", s.name, s.subject));
            }
        }
        Ok(())
    }

    /// The subject detection alerts are published on.
    pub fn detection_subject(&self) -> String {
        format!("{}.detection", prefix(&self.alerts.subject))
    }

    pub fn correlation_subject(&self) -> String {
        format!("{}.correlation", prefix(&self.alerts.subject))
    }

    /// The feeds of partition `p`.
    pub fn feed_subject(&self, p: u32) -> String {
        format!("{}.{p}", prefix(&self.feeds.subject))
    }

    /// Where the poison messages of events stream `stream` go.
    pub fn deadletter_subject(&self, stream: &str) -> String {
        format!("{}.{stream}", prefix(&self.deadletter.subject))
    }

    /// The default subject `sigil publish` writes to.
    pub fn default_event_subject(&self) -> String {
        format!("{}.raw", prefix(&self.events.subject))
    }
}

/// `a.b` of `a.b.>`.
fn prefix(subject: &str) -> &str {
    subject.strip_suffix(".>").unwrap_or(subject)
}

fn forever() -> Duration {
    Duration::ZERO
}
fn unlimited() -> i64 {
    -1
}
fn two_minutes() -> Duration {
    Duration::from_secs(120)
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// "30d", "12h", "90m", "45s", "250ms", or "0".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit, as \"30d\""))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit is one of ms, s, m, h, d")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_the_defaults() {
        let text = include_str!("../../examples/nats-streams.toml");
        assert_eq!(Topology::from_toml(text).unwrap(), Topology::default());
    }

    #[test]
    fn durations_and_mistakes() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("3 weeks").is_err());
        assert!(Topology::from_toml("partitions = 0").is_err());
        assert!(Topology::from_toml("partitons = 3").unwrap_err().contains("partitons"));
        let t = Topology::from_toml("replicas = 1\n[leases]\nbucket = \"l\"\nmax_age = \"3s\"").unwrap();
        assert_eq!((t.replicas, t.leases.max_age), (1, Duration::from_secs(3)));
        assert_eq!(t.feed_subject(3), "sigil.feeds.3");
    }
}
