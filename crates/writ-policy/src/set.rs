//! Loading a policy set and deciding requests against it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use cedar_policy::{
    Authorizer, Context, Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use crate::annotations::{parse_obligations, valid_id};
use crate::decision::{Decision, Obligations, Outcome};
use crate::error::PolicyError;
use crate::request::{ActionKind, PolicyRequest, Target, command_line, hour_and_weekday};
use crate::schema::SCHEMA;

/// Largest policy source [`PolicySet::load`] accepts, in bytes (1 MiB).
pub const MAX_POLICY_SOURCE_BYTES: usize = 1 << 20;

/// A loaded, schema-validated policy set, ready to decide requests.
///
/// Construct it with [`PolicySet::load`]; there is no way to get one that
/// has not been validated. Cheap to share behind an `Arc`: deciding takes
/// `&self`.
#[derive(Debug, Clone)]
pub struct PolicySet {
    cedar: cedar_policy::PolicySet,
    schema: Schema,
    authorizer: Authorizer,
    names: Names,
    policies: BTreeMap<String, PolicyMeta>,
    digest: String,
    warnings: Vec<String>,
    entities: Arc<EntityCache>,
}

/// Most (requester, target) pairs whose Cedar entities are kept; when full
/// the cache starts afresh.
const ENTITY_CACHE_MAX: usize = 4096;

/// The Cedar entities of a request (the requester with its groups, the
/// resource with its attributes) depend only on the requester and the
/// target, not on the policies or the request's context: built once per
/// pair and shared, instead of once per decision (about a quarter of
/// building a request). Each entry keeps the pair it was built from and is
/// used only for an equal pair.
#[derive(Default)]
struct EntityCache {
    hasher: std::collections::hash_map::RandomState,
    map: Mutex<HashMap<u64, Vec<Arc<CachedEntities>>>>,
}

struct CachedEntities {
    requester: crate::request::Requester,
    target: Target,
    principal: EntityUid,
    resource: EntityUid,
    entities: Entities,
}

impl std::fmt::Debug for EntityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.values().map(Vec::len).sum::<usize>());
        f.debug_struct("EntityCache").field("entries", &n).finish()
    }
}

impl EntityCache {
    fn key(&self, req: &PolicyRequest) -> u64 {
        let mut h = self.hasher.build_hasher();
        req.requester.hash(&mut h);
        req.target.hash(&mut h);
        h.finish()
    }

    fn get(&self, key: u64, req: &PolicyRequest) -> Option<Arc<CachedEntities>> {
        let map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&key)?.iter().find(|c| c.requester == req.requester && c.target == req.target).cloned()
    }

    fn put(&self, key: u64, c: Arc<CachedEntities>) {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= ENTITY_CACHE_MAX {
            map.clear();
        }
        map.entry(key).or_default().push(c);
    }
}

/// What we keep about each policy besides its Cedar form.
#[derive(Debug, Clone)]
struct PolicyMeta {
    permit: bool,
    obligations: Obligations,
}

/// Entity type names and action uids, parsed once at load.
#[derive(Debug, Clone)]
struct Names {
    requester: EntityTypeName,
    program: EntityTypeName,
    endpoint: EntityTypeName,
    tool: EntityTypeName,
    group: EntityTypeName,
    exec: EntityUid,
    http: EntityUid,
    tool_action: EntityUid,
}

impl Names {
    fn new() -> Result<Self, PolicyError> {
        let ty =
            |s: &str| EntityTypeName::from_str(s).map_err(|e| PolicyError::Schema(format!("entity type `{s}`: {e}")));
        let action = ty("Writ::Action")?;
        let uid = |id: &str| EntityUid::from_type_name_and_id(action.clone(), EntityId::new(id));
        Ok(Self {
            requester: ty("Writ::Requester")?,
            program: ty("Writ::Program")?,
            endpoint: ty("Writ::Endpoint")?,
            tool: ty("Writ::Tool")?,
            group: ty("Writ::Group")?,
            exec: uid(ActionKind::Exec.as_str()),
            http: uid(ActionKind::Http.as_str()),
            tool_action: uid(ActionKind::Tool.as_str()),
        })
    }
}

impl PolicySet {
    /// Parse `policies_src` (Cedar policy syntax), check every policy's
    /// annotations and validate the whole set against [`crate::SCHEMA`] in
    /// strict mode.
    ///
    /// Every policy needs a unique `@id("...")` annotation; its id is used
    /// in decisions. The empty source (or one with only comments) loads as
    /// an empty set, which denies everything.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the policy and line when the source is too
    /// large, does not parse, contains a template, has a missing, malformed
    /// or duplicate `@id`, an unknown or malformed annotation, or a policy
    /// that does not validate against the schema. Nothing is partially
    /// loaded.
    ///
    /// ```
    /// use writ_policy::{PolicyRequest, PolicySet, Requester, Target, Outcome};
    ///
    /// let set = PolicySet::load(r#"
    ///     @id("dev-true")
    ///     permit(principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
    ///     when { resource.path == "/usr/bin/true" };
    /// "#)?;
    /// let req = PolicyRequest::new(
    ///     Requester::new("alice", "ab12", ["dev"]),
    ///     Target::exec("/usr/bin/true"),
    /// );
    /// let decision = set.decide(&req);
    /// assert_eq!(decision.outcome, Outcome::Allow);
    /// assert_eq!(decision.determining_policies, ["dev-true"]);
    ///
    /// assert!(PolicySet::load("permit(principal, action, resource);").is_err()); // no @id
    /// # Ok::<(), writ_policy::PolicyError>(())
    /// ```
    pub fn load(policies_src: &str) -> Result<Self, PolicyError> {
        if policies_src.len() > MAX_POLICY_SOURCE_BYTES {
            return Err(PolicyError::TooLarge { size: policies_src.len(), max: MAX_POLICY_SOURCE_BYTES });
        }
        let digest = hex::encode(Sha256::digest(policies_src.as_bytes()));
        let (schema, _schema_warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let names = Names::new()?;

        let parsed = cedar_policy::PolicySet::from_str(policies_src).map_err(|e| syntax_error(policies_src, &e))?;

        // Locate every statement in the source, in source order, so errors
        // can name lines. Cedar numbers statements `policy0`, `policy1`, ...
        let mut statements: Vec<(usize, String, bool)> = parsed
            .policies()
            .map(|p| (statement_index(p.id()), p.to_cedar().unwrap_or_default(), false))
            .chain(parsed.templates().map(|t| (statement_index(t.id()), t.to_cedar(), true)))
            .collect();
        statements.sort_by_key(|(i, _, _)| *i);
        let mut lines: HashMap<usize, usize> = HashMap::new();
        let mut cursor = 0;
        for (index, text, is_template) in &statements {
            let offset = policies_src
                .get(cursor..)
                .and_then(|rest| rest.find(text.as_str()))
                .map_or(cursor, |o| cursor.saturating_add(o));
            cursor = offset.saturating_add(text.len());
            let (line, _) = line_col(policies_src, offset);
            if *is_template {
                return Err(PolicyError::Template { line });
            }
            lines.insert(*index, line);
        }

        let mut cedar = cedar_policy::PolicySet::new();
        let mut policies = BTreeMap::new();
        let mut id_lines: HashMap<String, usize> = HashMap::new();
        let mut ordered: Vec<&cedar_policy::Policy> = parsed.policies().collect();
        ordered.sort_by_key(|p| statement_index(p.id()));
        for policy in ordered {
            let line = lines.get(&statement_index(policy.id())).copied().unwrap_or(1);
            let id = match policy.annotation("id") {
                None => return Err(PolicyError::MissingId { line }),
                Some(id) if !valid_id(id) => {
                    return Err(PolicyError::Annotation {
                        id: "?".to_owned(),
                        line,
                        key: "id".to_owned(),
                        problem: format!(
                            "`{id}` is not a policy id (1 to 128 of `A-Z a-z 0-9 _ . : -`, starting with a letter or digit)"
                        ),
                    });
                }
                Some(id) => id.to_owned(),
            };
            if let Some(first_line) = id_lines.get(&id) {
                return Err(PolicyError::DuplicateId { id, line, first_line: *first_line });
            }
            let permit = policy.effect() == Effect::Permit;
            let obligations = parse_obligations(policy.annotations(), permit)
                .map_err(|(key, problem)| PolicyError::Annotation { id: id.clone(), line, key, problem })?;
            cedar.add(policy.new_id(PolicyId::new(&id))).map_err(|e| PolicyError::Annotation {
                id: id.clone(),
                line,
                key: "id".to_owned(),
                problem: e.to_string(),
            })?;
            id_lines.insert(id.clone(), line);
            policies.insert(id, PolicyMeta { permit, obligations });
        }

        let validator = Validator::new(schema.clone());
        let result = validator.validate(&cedar, ValidationMode::Strict);
        let mut errors: Vec<(usize, usize, String, String)> = result
            .validation_errors()
            .map(|e| {
                let id = e.policy_id().to_string();
                let (line, column) = first_label_offset(e)
                    .map(|o| line_col(policies_src, o))
                    .unwrap_or_else(|| (id_lines.get(&id).copied().unwrap_or(1), 1));
                let message = strip_policy_prefix(&diagnostic_message(e), &id);
                (line, column, id, message)
            })
            .collect();
        errors.sort();
        let more = errors.len().saturating_sub(1);
        if let Some((line, column, id, message)) = errors.into_iter().next() {
            return Err(PolicyError::Validation { id, line, column, message, more });
        }
        let mut warnings: Vec<String> = result
            .validation_warnings()
            .map(|w| {
                let id = w.policy_id().to_string();
                let line = first_label_offset(w)
                    .map(|o| line_col(policies_src, o).0)
                    .unwrap_or_else(|| id_lines.get(&id).copied().unwrap_or(1));
                let message = strip_policy_prefix(&diagnostic_message(w), &id);
                format!("policy `{id}` at line {line}: {message}")
            })
            .collect();
        warnings.sort();

        Ok(Self {
            cedar,
            schema,
            authorizer: Authorizer::new(),
            names,
            policies,
            digest,
            warnings,
            entities: Arc::default(),
        })
    }

    /// Hex sha256 of the exact source bytes given to [`PolicySet::load`]
    /// (no normalisation: a changed comment changes the digest). Goes into
    /// every decision and writ.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The policy ids in the set, sorted.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// How many policies the set holds.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set holds no policy (and so denies everything).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Validator warnings (e.g. a policy that can never apply), sorted.
    /// They do not refuse the set; show them to whoever loads it.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Decide a request.
    ///
    /// Never fails: a request that cannot be evaluated (does not fit the
    /// schema, or a policy errors on it) is denied with the error in
    /// `reasons`. Rules, in order:
    ///
    /// 1. a satisfied `forbid` denies; no satisfied `permit` denies;
    /// 2. any evaluation error denies (fail closed, even if a permit matched);
    /// 3. the obligations of all satisfied permits are combined strictly
    ///    ([`Obligations::combine`]); two different approver groups deny;
    /// 4. a `requested_duration_secs` above the combined `max_duration`
    ///    denies (never clamped: the requester asks again for less);
    /// 5. one or more required approvals gives [`Outcome::NeedsApproval`],
    ///    otherwise [`Outcome::Allow`].
    ///
    /// Policy ids and reasons are sorted, so equal inputs give equal
    /// decisions.
    pub fn decide(&self, req: &PolicyRequest) -> Decision {
        let deny = |determining: Vec<String>, reasons: Vec<String>| Decision {
            outcome: Outcome::Deny,
            determining_policies: determining,
            obligations: Obligations::default(),
            reasons,
            policy_digest: self.digest.clone(),
        };

        // The mapping produces exactly the schema's shapes. Debug builds
        // (and so every test) check each request against the schema; release
        // builds skip it, as it costs about a third of the decision. Even a
        // mapping bug fails closed: a missing or mistyped attribute is an
        // evaluation error, and evaluation errors deny.
        let schema = cfg!(debug_assertions).then_some(&self.schema);
        let (request, entities) = match self.cedar_request(req, schema) {
            Ok(x) => x,
            Err(e) => {
                return deny(Vec::new(), vec![format!("request cannot be evaluated: {e}; failing closed")]);
            }
        };
        let response = self.authorizer.is_authorized(&request, &self.cedar, &entities.entities);
        let diagnostics = response.diagnostics();
        let mut determining: Vec<String> = diagnostics.reason().map(ToString::to_string).collect();
        determining.sort();

        let mut errors: Vec<String> = diagnostics.errors().map(|e| format!("{e}; failing closed")).collect();
        if !errors.is_empty() {
            errors.sort();
            return deny(Vec::new(), errors);
        }

        if response.decision() == cedar_policy::Decision::Deny {
            let forbids: Vec<String> =
                determining.iter().filter(|id| self.policies.get(*id).is_some_and(|m| !m.permit)).cloned().collect();
            if forbids.is_empty() {
                return deny(Vec::new(), vec!["no permit policy matched".to_owned()]);
            }
            let reasons = forbids.iter().map(|id| format!("forbidden by policy `{id}`")).collect();
            return deny(forbids, reasons);
        }

        // INVARIANT: on allow, Cedar's reason set is exactly the satisfied
        // permit policies; each one's obligations apply.
        // Seeded with the first policy's obligations, so that what only
        // every policy can grant (offline, loader variables) is granted only
        // when each of them grants it.
        let mut combined: Option<Obligations> = None;
        let mut group_from: Option<&str> = None;
        let mut duration_from: Option<(u64, &str)> = None;
        for id in &determining {
            let Some(meta) = self.policies.get(id) else {
                return deny(
                    determining.clone(),
                    vec![format!("policy `{id}` decided but is not known to the set; failing closed")],
                );
            };
            let ob = &meta.obligations;
            let folded = match &mut combined {
                None => {
                    combined = Some(ob.clone());
                    Ok(())
                }
                Some(o) => o.combine(ob),
            };
            if let Err(conflict) = folded {
                let first = group_from.unwrap_or("?");
                return deny(
                    determining.clone(),
                    vec![format!(
                        "policies `{first}` and `{id}` require approvers from different groups (`{}` and `{}`); writ cannot satisfy both, so it denies: give overlapping policies the same `@approver_group`",
                        conflict.first, conflict.second
                    )],
                );
            }
            if ob.approver_group.is_some() && group_from.is_none() {
                group_from = Some(id);
            }
            if let Some(m) = ob.max_duration_secs
                && duration_from.is_none_or(|(min, _)| m < min)
            {
                // ids are sorted, so a tie names the smallest id
                duration_from = Some((m, id));
            }
        }
        let obligations = combined.unwrap_or_default();
        if let Some(max) = obligations.max_duration_secs
            && req.requested_duration_secs > max
        {
            let from = duration_from.map_or("?", |(_, id)| id);
            return deny(
                determining.clone(),
                vec![format!(
                    "requested duration of {}s is above the maximum of {max}s set by policy `{from}`; ask for {max}s or less",
                    req.requested_duration_secs
                )],
            );
        }

        let mut reasons: Vec<String> = determining.iter().map(|id| format!("permitted by policy `{id}`")).collect();
        let outcome = if obligations.approvals > 0 {
            reasons.push(match &obligations.approver_group {
                Some(g) => {
                    format!("needs {} approval(s) from distinct approvers in group `{g}`", obligations.approvals)
                }
                None => format!("needs {} approval(s) from distinct approvers", obligations.approvals),
            });
            Outcome::NeedsApproval
        } else {
            Outcome::Allow
        };
        if !obligations.required_evidence.is_empty() {
            reasons.push(format!("needs verified runtime evidence: {}", obligations.required_evidence.join(", ")));
        }
        Decision {
            outcome,
            determining_policies: determining,
            obligations,
            reasons,
            policy_digest: self.digest.clone(),
        }
    }

    /// Map a request into Cedar: principal, action, resource, context and
    /// the entities they need, checked against `schema` when given.
    fn cedar_request(
        &self,
        req: &PolicyRequest,
        schema: Option<&Schema>,
    ) -> Result<(Request, Arc<CachedEntities>), String> {
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let long = |v: u64| RestrictedExpression::new_long(i64::try_from(v).unwrap_or(i64::MAX));
        let strings = |it: &mut dyn Iterator<Item = &String>| {
            RestrictedExpression::new_set(it.map(|s| string(s)).collect::<Vec<_>>())
        };
        let action = match &req.target {
            Target::Exec { .. } => &self.names.exec,
            Target::Http { .. } => &self.names.http,
            Target::Tool { .. } => &self.names.tool_action,
        };
        let key = self.entities.key(req);
        let entities = match self.entities.get(key, req) {
            Some(c) => c,
            None => {
                let c = Arc::new(self.cedar_entities(req, schema)?);
                self.entities.put(key, c.clone());
                c
            }
        };

        let host = RestrictedExpression::new_record([
            ("hostname".to_owned(), string(&req.host.hostname)),
            ("machine_id".to_owned(), string(&req.host.machine_id)),
            ("kernel".to_owned(), string(&req.host.kernel)),
            ("labels".to_owned(), strings(&mut req.host.labels.iter())),
        ])
        .map_err(|e| e.to_string())?;
        let env_pairs: Vec<String> = req.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let (hour, weekday) = hour_and_weekday(req.unix_time);
        let context = Context::from_pairs([
            ("argv0".to_owned(), string(req.argv.first().map_or("", String::as_str))),
            ("args".to_owned(), strings(&mut req.argv.iter().skip(1))),
            ("argc".to_owned(), long(u64::try_from(req.argv.len()).unwrap_or(u64::MAX))),
            ("command_line".to_owned(), string(&command_line(&req.argv))),
            ("env".to_owned(), strings(&mut env_pairs.iter())),
            ("env_names".to_owned(), strings(&mut req.env.keys())),
            ("host".to_owned(), host),
            ("requested_duration_secs".to_owned(), long(req.requested_duration_secs)),
            ("reason".to_owned(), string(&req.reason)),
            ("time".to_owned(), long(req.unix_time)),
            ("hour".to_owned(), long(hour)),
            ("weekday".to_owned(), long(weekday)),
            ("evidence".to_owned(), strings(&mut req.evidence.iter())),
        ])
        .map_err(|e| e.to_string())?;

        let request =
            Request::new(entities.principal.clone(), action.clone(), entities.resource.clone(), context, schema)
                .map_err(|e| e.to_string())?;
        Ok((request, entities))
    }

    /// The requester (with its groups as parents) and the resource (with
    /// its attributes) as Cedar entities, checked against `schema` when given.
    fn cedar_entities(&self, req: &PolicyRequest, schema: Option<&Schema>) -> Result<CachedEntities, String> {
        let n = &self.names;
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let principal = EntityUid::from_type_name_and_id(n.requester.clone(), EntityId::new(&req.requester.name));
        let parents: HashSet<EntityUid> = req
            .requester
            .groups
            .iter()
            .map(|g| EntityUid::from_type_name_and_id(n.group.clone(), EntityId::new(g)))
            .collect();
        let requester = Entity::new(
            principal.clone(),
            HashMap::from([
                ("name".to_owned(), string(&req.requester.name)),
                ("key_id".to_owned(), string(&req.requester.key_id)),
            ]),
            parents,
        )
        .map_err(|e| e.to_string())?;

        let (resource_type, attrs) = match &req.target {
            Target::Exec { path, sha256 } => {
                (&n.program, HashMap::from([("path".to_owned(), string(path)), ("sha256".to_owned(), string(sha256))]))
            }
            Target::Http { method, path } => {
                (&n.endpoint, HashMap::from([("method".to_owned(), string(method)), ("path".to_owned(), string(path))]))
            }
            Target::Tool { name } => (&n.tool, HashMap::from([("name".to_owned(), string(name))])),
        };
        let resource_uid =
            EntityUid::from_type_name_and_id(resource_type.clone(), EntityId::new(req.target.entity_id()));
        let resource = Entity::new(resource_uid.clone(), attrs, HashSet::new()).map_err(|e| e.to_string())?;
        let entities = Entities::from_entities([requester, resource], schema).map_err(|e| e.to_string())?;
        Ok(CachedEntities {
            requester: req.requester.clone(),
            target: req.target.clone(),
            principal,
            resource: resource_uid,
            entities,
        })
    }
}

/// The statement number of a Cedar-assigned id (`policy7` -> 7).
fn statement_index(id: &PolicyId) -> usize {
    id.to_string().strip_prefix("policy").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(src.len());
    while !src.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let before = src.get(..end).unwrap_or_default();
    let line = before.matches('\n').count().saturating_add(1);
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()).saturating_add(1);
    (line, column)
}

/// Byte offset of a diagnostic's first labelled span.
fn first_label_offset(d: &dyn Diagnostic) -> Option<usize> {
    d.labels()?.next().map(|l| l.offset())
}

/// A diagnostic's message with its help, if any.
fn diagnostic_message(d: &dyn Diagnostic) -> String {
    match d.help() {
        Some(help) => format!("{d} ({help})"),
        None => d.to_string(),
    }
}

/// Cedar prefixes validator messages with "for policy `id`, "; we name the
/// policy ourselves.
fn strip_policy_prefix(message: &str, id: &str) -> String {
    let prefix = format!("for policy `{id}`, ");
    message.strip_prefix(&prefix).unwrap_or(message).to_owned()
}

/// The policy id whose `@id("...")` appears last before `offset`.
fn id_before(src: &str, offset: usize) -> Option<String> {
    let before = src.get(..offset.min(src.len()))?;
    let start = before.rfind("@id(\"")?.saturating_add(5);
    let rest = src.get(start..)?;
    let end = rest.find('"')?;
    rest.get(..end).map(str::to_owned)
}

fn syntax_error(src: &str, errors: &cedar_policy::ParseErrors) -> PolicyError {
    let offset = first_label_offset(errors).unwrap_or(0);
    let (line, column) = line_col(src, offset);
    PolicyError::Syntax { line, column, policy: id_before(src, offset), message: diagnostic_message(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{HostFacts, Requester};

    /// The request mapping must produce what the schema declares, since
    /// `decide` skips the per-request schema check.
    #[test]
    fn mapped_requests_conform_to_the_schema() {
        let set = PolicySet::load("").unwrap();
        let requester = Requester::new("alice", "k", ["dev", "sre"]);
        let targets = [
            Target::exec("/bin/echo"),
            Target::Exec { path: "/x".into(), sha256: "ab".repeat(32) },
            Target::Http { method: "GET".into(), path: "/v1".into() },
            Target::Tool { name: "search".into() },
        ];
        for target in targets {
            let full = PolicyRequest::new(requester.clone(), target.clone())
                .with_argv(["/bin/echo", "a b", ""])
                .with_env("A", "1")
                .with_host(HostFacts {
                    hostname: "h".into(),
                    machine_id: "m".into(),
                    kernel: "k".into(),
                    labels: ["prod".to_owned()].into(),
                })
                .with_duration_secs(u64::MAX)
                .with_unix_time(u64::MAX)
                .with_reason("r")
                .with_evidence("host");
            let empty = PolicyRequest::new(Requester::default(), target);
            for req in [full, empty] {
                set.cedar_request(&req, Some(&set.schema)).unwrap_or_else(|e| panic!("{req:?} does not conform: {e}"));
            }
        }
    }

    /// The entity cache is keyed by everything the entities hold: a
    /// requester whose groups, key or name changed, or another target, is
    /// decided on its own entities, never on a cached pair's.
    #[test]
    fn cached_entities_are_used_only_for_an_equal_pair() {
        let set = PolicySet::load(
            r#"@id("dev-true")
            permit(principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
            when { resource.path == "/usr/bin/true" && principal.key_id == "k1" };"#,
        )
        .unwrap();
        let decide = |name: &str, key: &str, groups: &[&str], path: &str| {
            set.decide(&PolicyRequest::new(Requester::new(name, key, groups.iter().copied()), Target::exec(path)))
                .outcome
        };
        for _ in 0..2 {
            assert_eq!(decide("alice", "k1", &["dev"], "/usr/bin/true"), Outcome::Allow);
            assert_eq!(decide("alice", "k1", &["ops"], "/usr/bin/true"), Outcome::Deny, "groups changed");
            assert_eq!(decide("alice", "k2", &["dev"], "/usr/bin/true"), Outcome::Deny, "key changed");
            assert_eq!(decide("alice", "k1", &["dev"], "/usr/bin/false"), Outcome::Deny, "target changed");
            assert_eq!(decide("bob", "k1", &["dev"], "/usr/bin/true"), Outcome::Allow);
        }
        // Five distinct pairs, five entries (the second round hit them).
        assert_eq!(set.entities.map.lock().unwrap().values().map(Vec::len).sum::<usize>(), 5);
    }
}
