"""The gateway's configuration: a TOML (or JSON) file validated once, resolved into frozen values.

Every field is optional; no file at all is a pass-through gateway with a SQLite ledger::

    upstream = "https://api.anthropic.com"    # else ANTHROPIC_BASE_URL, else the real API
    ledger = "postgresql://gw@db/clawback"    # else CLAWBACK_LEDGER, else $CLAWBACK_HOME/ledger.sqlite3
    state = "..."                             # budgets and rate buckets; default: the ledger's store
    passthrough = true                        # forward keys that are not managed keys (default:
                                              # true without [[keys]], false with them)
    [policy]                                  # the client's policies, for every caller
    plan_cache = false
    output_caps = false
    fallbacks = ["claude-sonnet-5-5"]

    [[projects]]
    name = "web"
    daily_usd = "20"
    monthly_usd = "400"
    upstream_key_env = "ANTHROPIC_KEY_WEB"    # the real key, read from the environment ...

    [[keys]]
    name = "alice"
    key_sha256 = "9f86d0…"                    # `clawback gateway hash-key` prints it; or key_env
    project = "web"
    daily_usd = "5"
    requests_per_minute = 60
    tokens_per_minute = 200000
    upstream_key_file = "/run/secrets/alice"  # ... or a file; never in the config in clear
    [keys.policy]
    output_caps = true

Policies merge key over project over the top-level ``[policy]``. A managed key's upstream key is
its own, else its project's, else the gateway process's ``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clawback.errors import InputFileError, UsageError
from clawback.gateway.budgets import Budget
from clawback.gateway.keys import KeyTable, key_digest
from clawback.gateway.ratelimit import RateLimit
from clawback.settings import Secret

__all__ = [
    "DEFAULT_UPSTREAM",
    "GatewayConfig",
    "ManagedKey",
    "Policy",
    "Project",
    "load_config",
    "resolve_config",
]

DEFAULT_UPSTREAM = "https://api.anthropic.com"
MB = 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyIn(_Model):
    """The client's policies; unset fields inherit."""

    plan_cache: bool | None = None
    output_caps: bool | None = None
    fallbacks: list[str] | None = None
    routing: str | None = None
    concise: bool | str | None = None


class _Scoped(_Model):
    name: str
    daily_usd: Decimal | None = Field(default=None, ge=0, max_digits=20)
    monthly_usd: Decimal | None = Field(default=None, ge=0, max_digits=20)
    requests_per_minute: int | None = Field(default=None, ge=0, le=10**9)
    tokens_per_minute: int | None = Field(default=None, ge=0, le=10**12)
    upstream_key_env: str | None = None
    upstream_key_file: str | None = None
    policy: PolicyIn = PolicyIn()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a name is 1-64 letters, digits, '_', '.' or '-'")
        return value


class ProjectIn(_Scoped):
    """One ``[[projects]]`` table."""


class KeyIn(_Scoped):
    """One ``[[keys]]`` table."""

    key_sha256: str | None = None
    key_env: str | None = None
    project: str | None = None

    @field_validator("key_sha256")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _HEX.match(value.lower()):
            raise ValueError("key_sha256 must be 64 hex characters (`clawback gateway hash-key` prints it)")
        return None if value is None else value.lower()


class GatewayFile(_Model):
    """The file as written."""

    upstream: str | None = None
    ledger: str | None = None
    state: str | None = None
    ledger_mode: Literal["sync", "async"] = "async"
    passthrough: bool | None = None
    salt_env: str | None = None
    prices: list[str] = []
    upstream_timeout_s: float = Field(default=600.0, gt=0, le=3600)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600)
    max_body_bytes: int = Field(default=32 * MB, ge=1024, le=256 * MB)
    upstream_connections: int = Field(default=256, ge=1, le=10_000)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    access_log: bool = False
    policy: PolicyIn = PolicyIn()
    projects: list[ProjectIn] = []
    keys: list[KeyIn] = []


@dataclass(frozen=True, slots=True)
class Policy:
    """The client's policies as they apply to one caller."""

    plan_cache: bool = False
    output_caps: bool = False
    fallbacks: tuple[str, ...] = ()
    routing: str | None = None
    concise: bool | str = False

    @property
    def active(self) -> bool:
        """Whether any policy touches requests (else the gateway forwards bodies untouched)."""
        return bool(self.plan_cache or self.output_caps or self.fallbacks or self.routing or self.concise)

    def merged(self, over: PolicyIn) -> Policy:
        """This policy with ``over``'s set fields on top."""
        return Policy(
            plan_cache=self.plan_cache if over.plan_cache is None else over.plan_cache,
            output_caps=self.output_caps if over.output_caps is None else over.output_caps,
            fallbacks=self.fallbacks if over.fallbacks is None else tuple(over.fallbacks),
            routing=self.routing if over.routing is None else over.routing,
            concise=self.concise if over.concise is None else over.concise,
        )


@dataclass(frozen=True, slots=True)
class Project:
    """A project: budgets and rate limits shared by its keys."""

    name: str
    budgets: tuple[Budget, ...] = ()
    rate: RateLimit = field(default_factory=RateLimit)
    upstream_key: Secret | None = None
    policy: Policy = Policy()


@dataclass(frozen=True, slots=True)
class ManagedKey:
    """A gateway key: its own budgets and limits, its project, the upstream key it stands for."""

    name: str
    upstream_key: Secret
    project: Project | None = None
    budgets: tuple[Budget, ...] = ()
    rate: RateLimit = field(default_factory=RateLimit)
    policy: Policy = Policy()

    @property
    def all_budgets(self) -> tuple[Budget, ...]:
        """The key's budgets and its project's."""
        return self.budgets + (self.project.budgets if self.project is not None else ())

    @property
    def limited(self) -> bool:
        """Whether any budget or rate limit applies to this key."""
        project = self.project
        return bool(self.all_budgets or self.rate.active or (project is not None and project.rate.active))


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs, resolved (secrets read, keys hashed, policies merged)."""

    upstream: str = DEFAULT_UPSTREAM
    ledger: str | None = None
    state: str | None = None
    ledger_mode: Literal["sync", "async"] = "async"
    passthrough: bool = True
    salt: Secret | None = None
    prices: tuple[Path, ...] = ()
    upstream_timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_body_bytes: int = 32 * MB
    upstream_connections: int = 256
    log_level: str = "warning"
    access_log: bool = False
    policy: Policy = Policy()
    keys: Mapping[str, ManagedKey] = field(default_factory=dict)
    projects: Mapping[str, Project] = field(default_factory=dict)
    key_table: KeyTable = field(default_factory=lambda: KeyTable({}))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the gateway holds (for masking any text it writes)."""
        out = [k.upstream_key.reveal() for k in self.keys.values()]
        out += [p.upstream_key.reveal() for p in self.projects.values() if p.upstream_key is not None]
        if self.salt is not None:
            out.append(self.salt.reveal())
        return tuple(out)

    @property
    def limited(self) -> bool:
        """Whether any budget or rate limit is configured."""
        return any(k.limited for k in self.keys.values())


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """The gateway config from ``path`` (None: defaults), resolved against ``env``."""
    env = os.environ if env is None else env
    if path is None:
        return resolve_config(GatewayFile(), env, base=Path.cwd())
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"cannot read gateway config {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"gateway config {path} is not valid: {str(exc).splitlines()[0]}") from None
    try:
        parsed = GatewayFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise InputFileError(f"gateway config {path}: {where}: {err['msg']}") from None
    return resolve_config(parsed, env, base=path.parent)


def _secret(scoped: _Scoped, env: Mapping[str, str], base: Path, what: str) -> Secret | None:
    if scoped.upstream_key_env and scoped.upstream_key_file:
        raise UsageError(f"gateway config: {what} sets both upstream_key_env and upstream_key_file")
    if scoped.upstream_key_env:
        value = env.get(scoped.upstream_key_env, "").strip()
        if not value:
            raise UsageError(
                f"gateway config: {what}: environment variable {scoped.upstream_key_env} is not set"
            )
        return Secret(value)
    if scoped.upstream_key_file:
        file = Path(scoped.upstream_key_file).expanduser()
        file = file if file.is_absolute() else base / file
        try:
            value = file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"gateway config: {what}: cannot read upstream_key_file {file}: {exc}") from None
        if not value:
            raise UsageError(f"gateway config: {what}: upstream_key_file {file} is empty")
        return Secret(value)
    return None


def _budgets(scope: str, scoped: _Scoped) -> tuple[Budget, ...]:
    out: list[Budget] = []
    if scoped.daily_usd is not None:
        out.append(Budget(scope, "day", scoped.daily_usd))
    if scoped.monthly_usd is not None:
        out.append(Budget(scope, "month", scoped.monthly_usd))
    return tuple(out)


def _rate(scoped: _Scoped) -> RateLimit:
    return RateLimit(scoped.requests_per_minute, scoped.tokens_per_minute)


def _local(value: str, base: Path) -> str:
    return value if "://" in value or Path(value).is_absolute() else str(base / value)


def resolve_config(parsed: GatewayFile, env: Mapping[str, str], *, base: Path) -> GatewayConfig:
    """Read the secrets, hash the keys and merge the policies of a parsed file."""
    default_policy = Policy().merged(parsed.policy)
    if default_policy.routing:
        default_policy = Policy().merged(
            parsed.policy.model_copy(update={"routing": _local(default_policy.routing, base)})
        )
    projects: dict[str, Project] = {}
    for p in parsed.projects:
        if p.name in projects:
            raise UsageError(f"gateway config: project {p.name!r} is defined twice")
        projects[p.name] = Project(
            p.name,
            _budgets(f"project:{p.name}", p),
            _rate(p),
            _secret(p, env, base, f"project {p.name!r}"),
            default_policy.merged(p.policy),
        )
    keys: dict[str, ManagedKey] = {}
    digests: dict[str, str] = {}
    fallback_key = env.get("ANTHROPIC_API_KEY", "").strip() or None
    for k in parsed.keys:
        what = f"key {k.name!r}"
        if k.name in keys:
            raise UsageError(f"gateway config: {what} is defined twice")
        project = projects.get(k.project) if k.project else None
        if k.project and project is None:
            raise UsageError(f"gateway config: {what} names project {k.project!r}, which is not defined")
        digest = _gateway_digest(k, env, what)
        if digest in digests:
            raise UsageError(f"gateway config: keys {digests[digest]!r} and {k.name!r} are the same key")
        digests[digest] = k.name
        upstream = _secret(k, env, base, what) or (project.upstream_key if project else None)
        if upstream is None and fallback_key:
            upstream = Secret(fallback_key)
        if upstream is None:
            raise UsageError(
                f"gateway config: {what} has no upstream key (set upstream_key_env or upstream_key_file on "
                "the key or its project, or ANTHROPIC_API_KEY for the gateway)"
            )
        policy = (project.policy if project else default_policy).merged(k.policy)
        keys[k.name] = ManagedKey(k.name, upstream, project, _budgets(f"key:{k.name}", k), _rate(k), policy)
    salt = env.get(parsed.salt_env, "").strip() if parsed.salt_env else ""
    upstream_url = (parsed.upstream or env.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM).rstrip("/")
    if not upstream_url.startswith(("http://", "https://")):
        raise UsageError(f"gateway upstream must be an http(s) URL, got {upstream_url!r}")
    return GatewayConfig(
        upstream=upstream_url,
        ledger=_local(parsed.ledger, base) if parsed.ledger else (env.get("CLAWBACK_LEDGER") or None),
        state=_local(parsed.state, base) if parsed.state else None,
        ledger_mode=parsed.ledger_mode,
        passthrough=parsed.passthrough if parsed.passthrough is not None else not keys,
        salt=Secret(salt) if salt else None,
        prices=tuple(Path(_local(p, base)) for p in parsed.prices),
        upstream_timeout_s=parsed.upstream_timeout_s,
        connect_timeout_s=parsed.connect_timeout_s,
        max_body_bytes=parsed.max_body_bytes,
        upstream_connections=parsed.upstream_connections,
        log_level=parsed.log_level,
        access_log=parsed.access_log,
        policy=default_policy,
        keys=keys,
        projects=projects,
        key_table=KeyTable(digests),
    )


def _gateway_digest(k: KeyIn, env: Mapping[str, str], what: str) -> str:
    if (k.key_sha256 is None) == (k.key_env is None):
        raise UsageError(f"gateway config: {what} needs exactly one of key_sha256 and key_env")
    if k.key_sha256 is not None:
        return k.key_sha256
    value = env.get(k.key_env or "", "").strip()
    if not value:
        raise UsageError(f"gateway config: {what}: environment variable {k.key_env} is not set")
    return key_digest(value)
