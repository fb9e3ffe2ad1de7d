"""A nursery group: one file for what is shared, one file per setting.

A group file has a `[group]` table naming the setting files (a glob relative
to the group file), the shared sections (`[database]`, `[web]`, `[email]`,
`[digest]`, ...) and the group's own people:

    [group]
    name = "Oakfield Nurseries"
    settings = "settings.d/*.toml"

    [[recipients]]
    name = "Ruth Area"
    email = "area@example.org"
    roles = ["area_manager"]          # also group_dsl, owner, admin
    settings = ["*"]                  # or setting keys

Each setting file holds `[setting]` (with a stable `key`), `[roster]`,
`[[recipients]]`, `[[accounts]]` and `[[routes]]`. Every setting becomes one
`Config`, exactly what a single-setting file gives, so the rest of the program
reads one setting at a time. A file without `[group]` is a group of one, read
as it always was. Errors name the file and the key; every file is checked
before any error is raised, so one run of `check-config` lists them all.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, create_model, field_validator

from monitor.core.settings import (
    Config,
    ConfigError,
    RecipientConfig,
    SettingConfig,
    _Section,
    format_errors,
)

GroupRole = Literal["area_manager", "group_dsl", "owner", "admin"]
GROUP_ROLES = ("area_manager", "group_dsl")  # roles only a group has
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
# What a setting file may hold; everything else of `Config` is shared, in the group file.
PER_SETTING = ("setting", "roster", "recipients", "accounts", "routes")
SHARED = tuple(name for name in Config.model_fields if name not in PER_SETTING + ("source", "group"))
GROUP_ESCALATION_STEPS = 4  # re-send, the setting's managers, the area manager, the owner


class GroupSection(_Section):
    name: str = Field(min_length=1)
    settings: str = Field(min_length=1)  # a glob relative to the group file: "settings.d/*.toml"
    timezone: str = "Europe/London"  # of the group digest

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return SettingConfig._known_zone(v)


class GroupRecipient(RecipientConfig):
    roles: list[GroupRole] = Field(min_length=1)
    settings: list[str] = Field(default=["*"], min_length=1)  # setting keys, or "*" for all


def _fields(names: tuple[str, ...]) -> dict:
    return {n: (Config.model_fields[n].annotation, Config.model_fields[n]) for n in names}


GroupFile = create_model("GroupFile", __base__=_Section, group=(GroupSection, ...),
                         recipients=(list[GroupRecipient], []), **_fields(SHARED))
SettingFile = create_model("SettingFile", __base__=_Section, **_fields(PER_SETTING))


@dataclass
class Group:
    """The settings one deployment watches, each as a whole `Config`."""

    name: str
    configs: list[Config]
    source: Path | None = None
    timezone: str = "Europe/London"
    people: list[GroupRecipient] = field(default_factory=list)  # the group file's [[recipients]]
    is_group: bool = False  # False: a single-setting file (a group of one)

    @property
    def keys(self) -> list[str]:
        return [c.setting.key for c in self.configs]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def shared(self) -> Config:
        """The sections every setting shares ([database], [web], [email], ...): the first setting's."""
        return self.configs[0]

    def pick(self, key: str | None) -> Config:
        """The setting a one-setting command acts on (`--setting KEY`)."""
        if key is None:
            if len(self.configs) == 1:
                return self.configs[0]
            raise ConfigError(f"{self.source}: the group has {len(self.configs)} settings; "
                              f"say which with --setting KEY (one of: {', '.join(self.keys)})")
        for c in self.configs:
            if c.setting.key == key:
                return c
        raise ConfigError(f"{self.source}: no setting has the key {key!r} (keys: {', '.join(self.keys)})")


def read_toml(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration file ({err.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def load_group(path: str | os.PathLike) -> Group:
    """Read a group file, or a single-setting file as a group of one."""
    p = Path(path)
    data = read_toml(p)
    if "group" not in data:
        cfg = _validated(Config, data, p).model_copy(update={"source": p})
        return Group(name=cfg.setting.name, configs=[cfg], source=p, timezone=cfg.setting.timezone)
    group = _validated(GroupFile, data, p)
    files = sorted(f for f in (p.parent.glob(group.group.settings)) if f.is_file())
    if not files:
        raise ConfigError(f"{p}: group.settings: {group.group.settings!r} matches no file next to {p.name}")
    problems: list[str] = []
    settings: dict[str, tuple[Path, object]] = {}
    for f in files:
        try:
            sf = _validated(SettingFile, read_toml(f), f)
        except ConfigError as err:
            problems.append(str(err))
            continue
        key = sf.setting.slug
        if not key or not KEY.match(key):
            problems.append(f"{f}: 1 problem(s) in the configuration\n  setting.key: "
                            + ("required in a group's setting file: a stable id such as 'oakfield-ipswich'"
                               if not key else f"{key!r}: use lower-case letters, digits, - and _"))
        elif key in settings:
            problems.append(f"{f}: 1 problem(s) in the configuration\n  setting.key: {key!r} is also the key "
                            f"of {settings[key][0]}")
        else:
            settings[key] = (f, sf)
    for i, person in enumerate(group.recipients):
        unknown = [k for k in person.settings if k != "*" and k not in settings]
        if unknown and not problems:
            problems.append(f"{p}: 1 problem(s) in the configuration\n  recipients[{i}].settings: no setting has "
                            f"the key {unknown[0]!r} (keys: {', '.join(settings)})")
    configs = []
    for key, (f, sf) in settings.items():
        try:
            configs.append(_merge(group, key, f, sf))
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError("\n".join(problems))
    return Group(name=group.group.name, configs=configs, source=p, timezone=group.group.timezone,
                 people=list(group.recipients), is_group=True)


def load_setting(path: str | os.PathLike, key: str | None = None) -> Config:
    """The one setting a command acts on: the file's only one, or `--setting KEY`'s."""
    return load_group(path).pick(key)


def _validated(model, data: dict, source: Path):
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, str(source))) from None


def _merge(group, key: str, path: Path, sf) -> Config:
    """One setting's Config: the shared sections, its own file, and the group people covering it."""
    people: dict[str, RecipientConfig] = {r.email: r for r in sf.recipients}
    for g in group.recipients:
        if "*" not in g.settings and key not in g.settings:
            continue
        person = RecipientConfig(name=g.name, email=g.email, roles=list(g.roles), known_as=g.known_as,
                                 addresses=g.addresses)
        if (mine := people.get(g.email)) is not None:  # also one of the setting's own people: both sets of roles
            person = mine.model_copy(update={"roles": list(dict.fromkeys([*mine.roles, *g.roles]))})
        people[g.email] = person
    shared = {name: getattr(group, name) for name in SHARED}
    if "max_steps" not in group.escalation.model_fields_set:  # room for the area manager, then the owner
        shared["escalation"] = group.escalation.model_copy(update={"max_steps": GROUP_ESCALATION_STEPS})
    try:
        cfg = Config(**shared, setting=sf.setting, roster=sf.roster, recipients=list(people.values()),
                     accounts=sf.accounts, routes=sf.routes)
    except ValidationError as err:
        raise ConfigError(format_errors(err, str(path))) from None
    return cfg.model_copy(update={"source": path, "group": group.group.name})


__all__ = ["GROUP_ROLES", "Group", "GroupRecipient", "load_group", "load_setting"]
