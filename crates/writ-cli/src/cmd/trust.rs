//! `writ trust`: manage trust roots.
//!
//! Two kinds of trust root (see `docs/trust.md`):
//!
//! - a **plain trust file** (a gate's local `trust.json`, a test's): `add`,
//!   `revoke` and `set` edit it in place, as they always did;
//! - the **signed, versioned trust root of an authority home**
//!   (`HOME/trust/`): every change is a new version, signed by a quorum of
//!   `root` keys of the version in force and recorded in the ledger as
//!   `key_change` before the authority uses it: `propose`, `sign`, `publish`;
//!   `verify` checks a chain of versions from a pinned digest. On such a home,
//!   `add`/`revoke`/`set --trust HOME/trust.json` propose, sign with
//!   `HOME/root.key` and publish in one step, and refuse when that key is not
//!   there (moved offline, or a quorum of several keys).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use writ_authority::trust_store::{self, DEFAULT_ROOT_EXPIRY_SECS};
use writ_authority::{Authority, Config};
use writ_core::trust::{Role, TrustRootFile, key_entry};
use writ_core::trust_chain::{self, RootError, SignedTrustRoot};
use writ_core::{KeyId, Sha256Digest, Timestamp, TrustRoot};

use crate::exit::UsageError;
use crate::files;

/// Manage a trust root: which keys are trusted, for what, until when.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub command: TrustCommand,
}

/// The key to add, as `add` and `propose` take it.
#[derive(Debug, Clone, clap::Args)]
pub struct NewKey {
    /// Who holds the key.
    #[arg(long)]
    name: Option<String>,
    /// issuer, approver, requester, gate, ledger or root (repeat or comma-separate for several).
    #[arg(long = "role", value_delimiter = ',')]
    roles: Vec<String>,
    /// Groups (repeat or comma-separate).
    #[arg(long = "group", value_delimiter = ',')]
    groups: Vec<String>,
    /// Start of the key's signing window (RFC 3339 UTC).
    #[arg(long, value_parser = files::parse_time)]
    not_before: Option<Timestamp>,
    /// End of the key's signing window (retirement), RFC 3339 UTC.
    #[arg(long, value_parser = files::parse_time)]
    not_after: Option<Timestamp>,
    /// Gate keys: a host name (or pattern, as in a writ's `hosts`) this gate
    /// may assert; repeatable. Unset: the key is bound to no host.
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Gate keys: a label (e.g. `prod` or `zone=eu`) this gate may assert;
    /// repeatable.
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Gate keys: allow this gate the weaker isolation mode (not root: the
    /// program runs as the gate's uid, without its own cgroup); its records
    /// say what was left out.
    #[arg(long)]
    allow_weaker_isolation: bool,
}

/// Trust-root-wide requirements, as `set` and `propose` take them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Settings {
    /// Longest writ lifetime in seconds (0 = no cap).
    #[arg(long)]
    max_lifetime: Option<u64>,
    /// Require a ledger receipt before running a writ.
    #[arg(long)]
    require_receipt: Option<bool>,
    /// Require a fresh revocation status before running a writ.
    #[arg(long)]
    require_status: Option<bool>,
}

#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// Add a public key (creates a plain trust file if it does not exist).
    Add {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// The public key file (from `writ keygen`).
        #[arg(long, value_name = "FILE.pub")]
        key: PathBuf,
        #[command(flatten)]
        new: NewKey,
    },
    /// Add an approver's passkey (WebAuthn ES256 credential): its public key
    /// as `AuthenticatorAttestationResponse.getPublicKey()` returns it.
    AddPasskey {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Who holds it.
        #[arg(long)]
        name: String,
        /// Approver groups.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Base64 (or base64url) of the P-256 public key: the 65-byte
        /// uncompressed point, or the SPKI DER that `getPublicKey()` returns.
        #[arg(long, value_name = "BASE64")]
        public_key: String,
        /// Base64url of the credential id.
        #[arg(long, value_name = "BASE64URL")]
        credential_id: String,
        /// The relying-party id (the console's host name).
        #[arg(long, value_name = "DOMAIN")]
        rp_id: String,
        /// Require the User Verified flag (PIN or biometric) on every approval.
        #[arg(long)]
        user_verification: bool,
    },
    /// Mark a key revoked: nothing it signed verifies any more.
    Revoke {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Key id (hex) to revoke.
        #[arg(long)]
        key_id: String,
    },
    /// Set trust-root-wide requirements.
    Set {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Print a trust root: a plain file or a signed version.
    Show {
        /// The trust-root file or signed version.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Print the trust document's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a new, unsigned version of a home's trust root: the version in
    /// force plus the edits given.
    Propose {
        /// The authority home whose trust root to change.
        #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
        home: Option<PathBuf>,
        /// Where to write the proposal.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Start from this trust document (JSON) instead of the one in force.
        #[arg(long, value_name = "FILE")]
        document: Option<PathBuf>,
        /// A public key to add (with --role, --name, --group, ...).
        #[arg(long = "add-key", value_name = "FILE.pub")]
        add_key: Option<PathBuf>,
        #[command(flatten)]
        new: NewKey,
        /// Key ids to mark revoked.
        #[arg(long = "revoke", value_name = "KEY_ID")]
        revoke: Vec<String>,
        /// Key ids to drop from the trust root.
        #[arg(long = "remove", value_name = "KEY_ID")]
        remove: Vec<String>,
        /// How many root keys must sign the next version (default: unchanged).
        #[arg(long)]
        threshold: Option<u32>,
        /// When the new version expires (default: a year from now).
        #[arg(long, value_parser = files::parse_time)]
        expires: Option<Timestamp>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Add your root key's signature to a version (in place unless --out).
    Sign {
        /// The version to sign.
        #[arg(value_name = "FILE")]
        version: PathBuf,
        /// Your root private key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Write the signed version here instead of replacing FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Hand a signed version to the authority: it is verified against the
    /// version in force, recorded in the ledger as `key_change`, then used.
    Publish {
        /// The signed version.
        #[arg(value_name = "FILE")]
        version: PathBuf,
        /// The authority home (embedded).
        #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
        home: Option<PathBuf>,
        /// PostgreSQL URL of the authority's state and ledger.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Check a chain of versions (oldest first) from a pinned digest; prints
    /// the last version's number and digest. Exit 77 when refused.
    Verify {
        /// The versions, oldest first (the first is the pinned one).
        #[arg(value_name = "FILE", required_unless_present = "home")]
        versions: Vec<PathBuf>,
        /// Hex digest of the first version (what a gate pins).
        #[arg(long, conflicts_with = "home")]
        pin: Option<String>,
        /// Check a home's whole chain from its own pin.
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Verify as of this time (default: now).
        #[arg(long, value_parser = files::parse_time)]
        now: Option<Timestamp>,
    },
    /// Turn a home made before signed trust roots into a signed one: a root
    /// key (`HOME/root.key`) and version 1 of its `trust.json`, logged.
    SignHome {
        /// The authority home.
        #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
        home: Option<PathBuf>,
    },
}

fn load_or_new(path: &Path) -> anyhow::Result<TrustRoot> {
    if path.exists() { files::read_trust(path) } else { Ok(TrustRoot::empty()) }
}

fn save(path: &Path, trust: &TrustRoot) -> anyhow::Result<()> {
    files::write_atomic(path, (trust.to_json_pretty() + "\n").as_bytes())
}

fn parse_roles(roles: &[String]) -> anyhow::Result<Vec<Role>> {
    if roles.is_empty() {
        return Err(UsageError("give the key's --role".into()).into());
    }
    roles
        .iter()
        .map(|r| {
            Role::from_name(r).ok_or_else(|| {
                UsageError(format!("unknown role `{r}`: use issuer, approver, requester, gate, ledger or root")).into()
            })
        })
        .collect()
}

fn add_key(root: &mut TrustRoot, key: &Path, new: &NewKey) -> anyhow::Result<KeyId> {
    let roles = parse_roles(&new.roles)?;
    let (public, file_name) = files::read_public_key(key)?;
    let name = new.name.clone().or(file_name).ok_or_else(|| UsageError("give the key holder's --name".into()))?;
    let mut entry = key_entry(&name, roles, new.groups.clone(), &public);
    entry.not_before = new.not_before;
    entry.not_after = new.not_after;
    entry.hosts.clone_from(&new.hosts);
    entry.labels.clone_from(&new.labels);
    entry.allow_weaker_isolation = new.allow_weaker_isolation;
    root.add(entry).with_context(|| format!("cannot add `{}`", key.display()))?;
    eprintln!("added `{name}` ({})", public.key_id());
    Ok(public.key_id())
}

/// DER prefix of a P-256 SubjectPublicKeyInfo (the uncompressed point follows).
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

fn passkey_entry(
    name: &str,
    groups: &[String],
    public_key: &str,
    credential_id: &str,
    rp_id: &str,
    user_verification: bool,
) -> anyhow::Result<writ_core::trust::TrustedPasskeyFile> {
    let url = public_key.replace('-', "+").replace('_', "/");
    let padded = format!("{url}{}", "=".repeat((4 - url.len() % 4) % 4));
    let raw = writ_core::b64::decode(&padded, 256)
        .map_err(|e| UsageError(format!("--public-key: {e} (give base64 of the key)")))?;
    let spki_point = raw
        .split_at_checked(26)
        .filter(|(prefix, point)| point.len() == 65 && hex::encode(prefix) == P256_SPKI_PREFIX)
        .map(|(_, point)| point.to_vec());
    let point = match (raw.len(), spki_point) {
        (65, _) => raw,
        (_, Some(point)) => point,
        (n, None) => {
            return Err(UsageError(format!(
                "--public-key is {n} bytes: give the 65-byte uncompressed P-256 point or its 91-byte SPKI DER (ES256 only)"
            ))
            .into());
        }
    };
    let cred_id =
        writ_core::webauthn::b64url_decode(credential_id.trim_end_matches('='), writ_core::webauthn::MAX_CREDENTIAL_ID)
            .map_err(|e| UsageError(format!("--credential-id: {e}")))?;
    let cred = writ_core::webauthn::Credential::new(&point, cred_id, rp_id.into(), user_verification)
        .map_err(|e| UsageError(format!("passkey: {e}")))?;
    Ok(writ_core::trust::TrustedPasskeyFile {
        name: name.into(),
        roles: vec![Role::Approver],
        groups: groups.to_vec(),
        public_key: writ_core::b64::encode(cred.public_key()),
        key_id: cred.key_id(),
        credential_id: writ_core::webauthn::b64url_encode(&cred.credential_id),
        rp_id: cred.rp_id.clone(),
        user_verification,
        not_before: None,
        not_after: None,
        revoked: false,
    })
}

fn key_id(text: &str, flag: &str) -> anyhow::Result<KeyId> {
    KeyId::parse(text).map_err(|e| UsageError(format!("{flag} `{text}`: {e}")).into())
}

fn revoke_key(file: &mut TrustRootFile, id: KeyId) -> anyhow::Result<()> {
    let entry =
        file.keys.iter_mut().find(|k| k.key_id == id).with_context(|| format!("key {id} is not in the trust root"))?;
    entry.revoked = true;
    Ok(())
}

fn apply_settings(root: &mut TrustRoot, s: &Settings) {
    let mut w = root.settings_mut();
    if let Some(m) = s.max_lifetime {
        w.max_writ_lifetime_secs((m > 0).then_some(m));
    }
    if let Some(r) = s.require_receipt {
        w.require_receipt(r);
    }
    if let Some(r) = s.require_status {
        w.require_status(r);
    }
}

/// The home a `--trust FILE` belongs to, when it is the view of a signed home.
fn signed_home_of(trust: &Path) -> Option<PathBuf> {
    let dir = trust.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    (trust.file_name().is_some_and(|n| n == writ_authority::home::TRUST) && trust_store::is_signed_home(&dir))
        .then_some(dir)
}

fn refusal(e: &RootError) -> ExitCode {
    eprintln!("refused ({}): {}", e.code, e.detail);
    crate::exit::denied()
}

fn open_authority(home: &Path, database: Option<String>) -> anyhow::Result<Authority> {
    let mut cfg = Config::new(home);
    cfg.database = database;
    Authority::open(&cfg).with_context(|| format!("cannot open the authority in `{}`", home.display()))
}

fn publish(home: &Path, database: Option<String>, bytes: &[u8]) -> anyhow::Result<trust_store::Published> {
    let authority = open_authority(home, database)?;
    let p = authority.publish_trust(bytes, files::now()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    if p.entries == 0 {
        eprintln!("version {} ({}) is already in force (ledger entry {})", p.version, p.digest, p.ledger_index);
    } else {
        eprintln!(
            "published trust root version {} ({}): {} key_change entries from ledger index {}; it is in force",
            p.version, p.digest, p.entries, p.ledger_index
        );
    }
    Ok(p)
}

/// An edit of a signed home's `trust.json` through `add`/`revoke`/`set`:
/// propose, sign with `HOME/root.key`, publish.
fn edit_signed_home(
    home: &Path,
    edit: impl FnOnce(&mut TrustRoot) -> anyhow::Result<()>,
) -> anyhow::Result<trust_store::Published> {
    let root_key = home.join(trust_store::ROOT_KEY);
    let how = format!(
        "change it with `writ trust propose --home {h} --out next.json ...`, `writ trust sign next.json --key ROOT.key` \
         (by a quorum of root keys) and `writ trust publish --home {h} next.json`",
        h = home.display()
    );
    if !root_key.exists() {
        anyhow::bail!(
            "`{}` is the signed trust root of an authority home and `{}` is not there to sign an edit; {how}",
            home.join(writ_authority::home::TRUST).display(),
            root_key.display()
        );
    }
    let cur = trust_store::read_current(home).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut doc = cur.trust().clone();
    edit(&mut doc)?;
    let now = files::now()?;
    let unsigned =
        trust_chain::propose(&cur, doc.file().clone(), cur.root_threshold(), now.plus(DEFAULT_ROOT_EXPIRY_SECS))?;
    let key = files::read_private_key(&root_key)?;
    let signed = trust_chain::sign(&unsigned, &key)?;
    if let Err(e) = trust_chain::verify_successor(&cur, &signed, now) {
        anyhow::bail!("`{}` alone cannot sign the next version ({e}); {how}", root_key.display());
    }
    publish(home, None, &signed)
}

fn show_table(root: &TrustRoot) {
    let f = root.file();
    println!(
        "trust root  max lifetime: {}  receipts required: {}  status required: {}",
        f.max_writ_lifetime_secs.map_or_else(|| "none".into(), |s| format!("{s}s")),
        f.require_receipt,
        f.require_status
    );
    for k in root.keys() {
        let e = &k.entry;
        let roles: Vec<_> = e.roles.iter().map(|r| trust_chain::role_name(*r)).collect();
        let window = match (e.not_before, e.not_after) {
            (None, None) => "always".to_owned(),
            (a, b) => format!(
                "{} .. {}",
                a.map_or_else(|| "-".into(), |t| t.to_string()),
                b.map_or_else(|| "-".into(), |t| t.to_string())
            ),
        };
        println!(
            "{}  {:<16} {:<20} groups={:<12} {}{}",
            e.key_id,
            e.name,
            roles.join(","),
            e.groups.join(","),
            window,
            if e.revoked { "  REVOKED" } else { "" }
        );
    }
}

fn read_version(path: &Path) -> anyhow::Result<Vec<u8>> {
    files::read_bounded(path, trust_chain::MAX_SIGNED_ROOT_BYTES)
}

fn describe(v: &SignedTrustRoot) {
    println!("version {}  digest {}  expires {}", v.version(), v.digest(), v.expires());
}

pub fn run(args: TrustArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TrustCommand::Add { trust, key, new } => {
            if let Some(home) = signed_home_of(&trust) {
                let mut id = None;
                edit_signed_home(&home, |doc| {
                    id = Some(add_key(doc, &key, &new)?);
                    Ok(())
                })?;
                if let Some(id) = id {
                    println!("{id}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut root = load_or_new(&trust)?;
            let id = add_key(&mut root, &key, &new)?;
            save(&trust, &root)?;
            println!("{id}");
        }
        TrustCommand::AddPasskey { trust, name, groups, public_key, credential_id, rp_id, user_verification } => {
            let entry = passkey_entry(&name, &groups, &public_key, &credential_id, &rp_id, user_verification)?;
            let id = entry.key_id;
            if let Some(home) = signed_home_of(&trust) {
                edit_signed_home(&home, |doc| Ok(doc.add_passkey(entry)?))?;
            } else {
                let mut root = load_or_new(&trust)?;
                root.add_passkey(entry)?;
                save(&trust, &root)?;
            }
            println!("{id}");
        }
        TrustCommand::Revoke { trust, key_id: text } => {
            let id = key_id(&text, "--key-id")?;
            let edit = |doc: &mut TrustRoot| -> anyhow::Result<()> {
                let mut file = doc.file().clone();
                revoke_key(&mut file, id)?;
                *doc = TrustRoot::from_file(file)?;
                eprintln!("revoked key {id}");
                Ok(())
            };
            if let Some(home) = signed_home_of(&trust) {
                edit_signed_home(&home, edit)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut root = files::read_trust(&trust)?;
            edit(&mut root)?;
            save(&trust, &root)?;
        }
        TrustCommand::Set { trust, settings } => {
            if let Some(home) = signed_home_of(&trust) {
                edit_signed_home(&home, |doc| {
                    apply_settings(doc, &settings);
                    Ok(())
                })?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut root = load_or_new(&trust)?;
            apply_settings(&mut root, &settings);
            save(&trust, &root)?;
        }
        TrustCommand::Show { trust, json } => {
            let bytes = files::read_bounded(&trust, trust_chain::MAX_SIGNED_ROOT_BYTES)?;
            let signed = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .is_some_and(|v| v.get("payloadType").is_some());
            let root = if signed {
                let v = trust_chain::parse(&bytes).with_context(|| format!("`{}`", trust.display()))?;
                if !json {
                    println!(
                        "signed trust root version {}  digest {}  expires {}  root threshold {}",
                        v.version(),
                        v.digest(),
                        v.expires(),
                        v.root_threshold()
                    );
                    if let Some(p) = v.previous() {
                        println!("previous {p}");
                    }
                    let ids: Vec<String> = v.claimed_signers().iter().map(ToString::to_string).collect();
                    println!("signatures (not checked here; use `writ trust verify`): {}", ids.len());
                    for id in ids {
                        println!("  {id}");
                    }
                }
                v.trust().clone()
            } else {
                TrustRoot::from_json(&bytes).with_context(|| format!("`{}`", trust.display()))?
            };
            if json {
                println!("{}", root.to_json_pretty());
            } else {
                show_table(&root);
            }
        }
        TrustCommand::Propose {
            home,
            out,
            document,
            add_key: key,
            new,
            revoke,
            remove,
            threshold,
            expires,
            settings,
        } => {
            let home = crate::cmd::init::home_dir(home);
            let cur = trust_store::read_current(&home).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut doc = match &document {
                Some(p) => files::read_trust(p)?,
                None => cur.trust().clone(),
            };
            if let Some(k) = &key {
                add_key(&mut doc, k, &new)?;
            } else if !new.roles.is_empty() || new.name.is_some() {
                return Err(
                    UsageError("--role/--name describe the key of --add-key: give --add-key FILE.pub".into()).into()
                );
            }
            let mut file = doc.file().clone();
            for r in &revoke {
                revoke_key(&mut file, key_id(r, "--revoke")?)?;
            }
            for r in &remove {
                let id = key_id(r, "--remove")?;
                let before = file.keys.len();
                file.keys.retain(|k| k.key_id != id);
                if file.keys.len() == before {
                    anyhow::bail!("key {id} is not in the trust root");
                }
            }
            let mut doc = TrustRoot::from_file(file)?;
            apply_settings(&mut doc, &settings);
            let now = files::now()?;
            let expires = expires.unwrap_or_else(|| now.plus(DEFAULT_ROOT_EXPIRY_SECS));
            if expires <= now {
                return Err(UsageError(format!("--expires {expires} is not in the future")).into());
            }
            let bytes =
                trust_chain::propose(&cur, doc.file().clone(), threshold.unwrap_or(cur.root_threshold()), expires)?;
            files::write_new(&out, &bytes, 0o644)?;
            let v = trust_chain::parse(&bytes)?;
            eprintln!(
                "proposed version {} (after version {}); it needs {} signature(s) of version {}'s root keys and {} of \
                 its own: `writ trust sign {} --key ROOT.key`, then `writ trust publish --home {} {}`",
                v.version(),
                cur.version(),
                cur.root_threshold(),
                cur.version(),
                v.root_threshold(),
                out.display(),
                home.display(),
                out.display()
            );
            println!("{}", v.digest());
        }
        TrustCommand::Sign { version, key, out } => {
            let bytes = read_version(&version)?;
            let signing = files::read_private_key(&key)?;
            let signed = trust_chain::sign(&bytes, &signing)?;
            let target = out.unwrap_or_else(|| version.clone());
            files::write_atomic(&target, &signed)?;
            let v = trust_chain::parse(&signed)?;
            let root_here = v.root_keys().contains(&signing.key_id());
            eprintln!(
                "signed version {} with key {}{} ({} signature(s) now) into {}",
                v.version(),
                signing.key_id(),
                if root_here {
                    ""
                } else {
                    " (not a root key of this version: it counts only if it is one of the previous version's)"
                },
                v.claimed_signers().len(),
                target.display()
            );
        }
        TrustCommand::Publish { version, home, database } => {
            let home = crate::cmd::init::home_dir(home);
            let bytes = read_version(&version)?;
            let claimed = match trust_chain::parse(&bytes) {
                Ok(v) => v,
                Err(e) => return Ok(refusal(&e)),
            };
            // Check first, to report a refusal with its code (exit 77); the
            // authority checks again before it logs anything.
            if trust_store::is_signed_home(&home) {
                let cur = trust_store::read_current(&home).map_err(|e| anyhow::anyhow!("{e}"))?;
                if claimed.digest() != cur.digest()
                    && let Err(e) = trust_chain::verify_successor(&cur, &bytes, files::now()?)
                {
                    return Ok(refusal(&e));
                }
            }
            let p = publish(&home, database, &bytes)?;
            println!("{}", p.digest);
        }
        TrustCommand::Verify { versions, pin, home, now } => {
            let now = match now {
                Some(t) => t,
                None => files::now()?,
            };
            let (pin, files_) = match &home {
                Some(h) => {
                    let pin = trust_store::read_pin(h).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let mut list = Vec::new();
                    for n in 1..=trust_chain::MAX_CHAIN_LENGTH as u64 {
                        let p = trust_store::version_path(h, n);
                        if !p.exists() {
                            break;
                        }
                        list.push(p);
                    }
                    (pin, list)
                }
                None => {
                    let text = pin.ok_or_else(|| UsageError("give --pin DIGEST (or --home DIR)".into()))?;
                    let pin = Sha256Digest::from_hex(text.trim()).map_err(|e| UsageError(format!("--pin: {e}")))?;
                    (pin, versions)
                }
            };
            let bytes = files_.iter().map(|p| read_version(p)).collect::<anyhow::Result<Vec<_>>>()?;
            match trust_chain::verify_chain(&pin, bytes.iter().map(Vec::as_slice), now) {
                Ok(v) => describe(&v),
                Err(e) => return Ok(refusal(&e)),
            }
        }
        TrustCommand::SignHome { home } => {
            let home = crate::cmd::init::home_dir(home);
            let authority = open_authority(&home, None)?;
            let s = authority.sign_trust_home(files::now()?).map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "signed the trust root of `{}`: version 1, root key {} (`{}`: move it offline), expires {}",
                home.display(),
                s.root_key_id,
                home.join(trust_store::ROOT_KEY).display(),
                s.expires
            );
            println!("{}", s.pin);
        }
    }
    Ok(ExitCode::SUCCESS)
}
