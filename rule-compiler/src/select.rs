//! Which rules a run keeps: `sigil hunt --min-level`, `--status`, `--exclude-status`, `--tag`,
//! `--exclude-tag` and `--rule-id`, decided on a rule's descriptive block.
//!
//! The compiler checks a [`Selection`] right after the `ast` stage, on the typed rule, so a rule
//! left out is never lowered (`Compiler::add_file`); [`Selection::apply_to_plan`] does the same
//! to a compiled plan (`--pack`), where the rules stay but no longer alert. This module decides;
//! it never compiles or evaluates anything.
//!
//! Correlations: a correlation left out does not alert, but still runs (so the rules it reads
//! alert, or stay quiet under `generate: false`, exactly as in a run without filters); a rule
//! left out that a correlation reads is compiled all the same, but never alerts on its own.

use sigil_engine::plan::{Plan, RuleInfo};

/// The Sigma levels, from least to most severe.
pub const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// The Sigma statuses (`unsupported` included: SigmaHQ uses it for rules no backend runs).
pub const STATUSES: [&str; 6] = ["stable", "test", "experimental", "deprecated", "unsupported", "under-review"];

/// What a rule must be to run. The default keeps every rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The rank in [`LEVELS`] a rule's level must reach; a rule with no level is left out.
    pub min_level: Option<usize>,
    /// When not empty, the statuses kept (lowercase); a rule with no status is left out.
    pub statuses: Vec<String>,
    /// Statuses left out (lowercase).
    pub excluded_statuses: Vec<String>,
    /// When not empty, a rule needs a tag under one of these (lowercase, see [`tag_under`]).
    pub tags: Vec<String>,
    /// A rule with a tag under one of these is left out.
    pub excluded_tags: Vec<String>,
    /// When not empty, only the rules with one of these ids or names (case-insensitive).
    pub rule_ids: Vec<String>,
}

/// Whether `tag` is `prefix` or lies under it at a `.` boundary (`attack.t1562` holds
/// `attack.t1562.008`, not `attack.t15620`), ignoring case.
pub fn tag_under(tag: &str, prefix: &str) -> bool {
    let (tag, prefix) = (tag.as_bytes(), prefix.as_bytes());
    tag.len() >= prefix.len()
        && tag[..prefix.len()].eq_ignore_ascii_case(prefix)
        && (tag.len() == prefix.len() || tag[prefix.len()] == b'.')
}

impl Selection {
    /// A level name from the command line, checked.
    pub fn level_rank(level: &str) -> Result<usize, String> {
        LEVELS
            .iter()
            .position(|l| l.eq_ignore_ascii_case(level))
            .ok_or_else(|| format!("'{level}' is not a Sigma level: use one of {}", LEVELS.join(", ")))
    }

    /// A status name from the command line, checked and lowercased.
    pub fn status(status: &str) -> Result<String, String> {
        let lower = status.trim().to_ascii_lowercase();
        if STATUSES.contains(&lower.as_str()) {
            Ok(lower)
        } else {
            Err(format!("'{status}' is not a Sigma status: use one of {}", STATUSES.join(", ")))
        }
    }

    /// Whether it keeps every rule (no filter given).
    pub fn is_everything(&self) -> bool {
        *self == Selection::default()
    }

    /// Whether a rule (or correlation, or silence rule) with this descriptive block runs.
    pub fn admits(&self, info: &RuleInfo) -> bool {
        let level = info.level.as_deref().and_then(|l| LEVELS.iter().position(|x| x.eq_ignore_ascii_case(l)));
        if self.min_level.is_some_and(|min| level.is_none_or(|l| l < min)) {
            return false;
        }
        let status = info.status.as_deref().map(str::to_ascii_lowercase);
        if !self.statuses.is_empty() && !status.as_ref().is_some_and(|s| self.statuses.contains(s)) {
            return false;
        }
        if status.as_ref().is_some_and(|s| self.excluded_statuses.contains(s)) {
            return false;
        }
        let under_any = |prefixes: &[String]| info.tags.iter().any(|t| prefixes.iter().any(|p| tag_under(t, p)));
        if !self.tags.is_empty() && !under_any(&self.tags) {
            return false;
        }
        if under_any(&self.excluded_tags) {
            return false;
        }
        let named = |wanted: &String| {
            wanted.eq_ignore_ascii_case(&info.id) || info.name.as_ref().is_some_and(|n| wanted.eq_ignore_ascii_case(n))
        };
        self.rule_ids.is_empty() || self.rule_ids.iter().any(named)
    }

    /// The same selection on a compiled plan: the rules, correlations and silence rules it leaves
    /// out stop alerting (silence rules are removed). Rules stay in the plan because correlations
    /// refer to them by position. Returns how many were left out.
    pub fn apply_to_plan(&self, plan: &mut Plan) -> usize {
        let mut left_out = 0;
        for rule in plan.rules.iter_mut().filter(|r| !self.admits(&r.info)) {
            rule.alert = false;
            left_out += 1;
        }
        for correlation in plan.correlations.iter_mut().filter(|c| !self.admits(&c.info)) {
            correlation.emit = false;
            left_out += 1;
        }
        let before = plan.silences.len();
        plan.silences.retain(|s| self.admits(&s.info));
        left_out + before - plan.silences.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(level: Option<&str>, status: Option<&str>, tags: &[&str]) -> RuleInfo {
        RuleInfo {
            id: "5f2b0a6e-0000-4000-8000-000000000001".into(),
            name: Some("my_rule".into()),
            level: level.map(str::to_string),
            status: status.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..RuleInfo::default()
        }
    }

    #[test]
    fn min_level_keeps_that_level_and_above_and_leaves_out_rules_without_one() {
        let s = Selection { min_level: Some(Selection::level_rank("High").unwrap()), ..Selection::default() };
        assert!(s.admits(&info(Some("critical"), None, &[])));
        assert!(s.admits(&info(Some("high"), None, &[])));
        assert!(!s.admits(&info(Some("medium"), None, &[])));
        assert!(!s.admits(&info(None, None, &[])));
        assert!(Selection::level_rank("severe").unwrap_err().contains("informational, low"));
    }

    #[test]
    fn statuses_include_and_exclude() {
        let s = Selection { statuses: vec!["stable".into(), "test".into()], ..Selection::default() };
        assert!(s.admits(&info(None, Some("Stable"), &[])));
        assert!(!s.admits(&info(None, Some("experimental"), &[])));
        assert!(!s.admits(&info(None, None, &[])));
        let s = Selection { excluded_statuses: vec!["deprecated".into()], ..Selection::default() };
        assert!(!s.admits(&info(None, Some("deprecated"), &[])));
        assert!(s.admits(&info(None, None, &[])));
        assert!(Selection::status("retired").is_err());
    }

    #[test]
    fn tags_match_exactly_or_under_a_dot_ignoring_case() {
        assert!(tag_under("attack.t1562.008", "attack.t1562"));
        assert!(tag_under("ATTACK.T1562", "attack.t1562"));
        assert!(!tag_under("attack.t15620", "attack.t1562"));
        assert!(!tag_under("attack", "attack.t1562"));
        let rule = info(None, None, &["attack.stealth", "attack.t1562.008"]);
        let s = Selection { tags: vec!["attack.t1562".into(), "cve".into()], ..Selection::default() };
        assert!(s.admits(&rule));
        let s = Selection { excluded_tags: vec!["attack.stealth".into()], ..Selection::default() };
        assert!(!s.admits(&rule));
        let s = Selection { tags: vec!["attack.t1059".into()], ..Selection::default() };
        assert!(!s.admits(&rule));
    }

    #[test]
    fn rule_ids_match_the_id_or_the_name() {
        let s = Selection { rule_ids: vec!["MY_RULE".into()], ..Selection::default() };
        assert!(s.admits(&info(None, None, &[])));
        let s = Selection { rule_ids: vec!["5F2B0A6E-0000-4000-8000-000000000001".into()], ..Selection::default() };
        assert!(s.admits(&info(None, None, &[])));
        let s = Selection { rule_ids: vec!["other".into()], ..Selection::default() };
        assert!(!s.admits(&info(None, None, &[])));
        assert!(Selection::default().is_everything());
    }

    const RULE_AND_CORRELATION: &str = "title: base\nname: base_rule\nlevel: LEVEL_R\nlogsource: {product: test}\n\
detection: {sel: {a: 1}, condition: sel}\n---\ntitle: corr\nname: corr\nlevel: LEVEL_C\ncorrelation:\n  \
type: event_count\n  rules: [base_rule]\n  group-by: [a]\n  timespan: 5m\n  condition: {gte: 2}\n";

    fn compile(rule_level: &str, correlation_level: &str, selection: Selection) -> crate::Output {
        let text = RULE_AND_CORRELATION.replace("LEVEL_R", rule_level).replace("LEVEL_C", correlation_level);
        crate::compile_str("r.yml", &text, &crate::Options { selection, ..crate::Options::default() })
    }

    fn min_high() -> Selection {
        Selection { min_level: Some(3), ..Selection::default() }
    }

    #[test]
    fn a_rule_left_out_is_never_lowered() {
        let broken =
            "title: t\nlevel: low\nlogsource: {product: test}\ndetection: {sel: {a|nonsense: 1}, condition: sel}\n";
        let all = crate::compile_str("r.yml", broken, &crate::Options::default());
        assert_eq!(all.diagnostics.len(), 1, "lowered, the rule is rejected");
        let options = crate::Options { selection: min_high(), ..crate::Options::default() };
        let out = crate::compile_str("r.yml", broken, &options);
        assert!(out.diagnostics.is_empty() && out.plan.rules.is_empty());
        assert_eq!(out.left_out, 1);
    }

    #[test]
    fn a_correlation_kept_keeps_the_rule_it_reads_silently() {
        let out = compile("low", "high", min_high());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        assert_eq!(out.plan.rules.len(), 1);
        assert!(!out.plan.rules[0].alert);
        assert!(out.plan.correlations[0].emit);
        assert_eq!((out.left_out, out.silenced), (0, 1));
    }

    #[test]
    fn a_correlation_left_out_still_runs_but_never_alerts() {
        let out = compile("high", "low", min_high());
        assert!(!out.plan.correlations[0].emit);
        // As without filters: the correlation reads the rule with `generate: false`.
        assert_eq!(out.plan.rules[0].alert, compile("high", "low", Selection::default()).plan.rules[0].alert);
        assert_eq!((out.left_out, out.silenced), (0, 1));
    }

    #[test]
    fn a_pack_plan_gets_the_same_flags() {
        let mut plan = compile("low", "high", Selection::default()).plan;
        assert_eq!(min_high().apply_to_plan(&mut plan), 1);
        assert!(!plan.rules[0].alert && plan.correlations[0].emit);
    }
}
