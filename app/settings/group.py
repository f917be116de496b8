"""The base of every settings group: a frozen dataclass whose fields are read from the environment.

Read by hand rather than with pydantic(-settings): importing pydantic and building a schema per
group cost every CLI process ~0.15 s of CPU (about a third of a small `glider cp`), and these
groups need only plain strings converted and checked (`app.settings.convert`), never JSON, dotenv
or secrets files.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar, dataclass_transform

from app.settings.convert import read
from app.settings.fields import setting


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(setting, dataclasses.field))
class Group:
    """A settings group: each field from the environment (`setting(names=...)`, else the group's
    `env_prefix` + the field name), keyword arguments over it. Subclasses are frozen dataclasses:
    `dataclasses.replace(group, field=value)` builds a changed copy (checked again).

    Raises SettingsError (a ValueError) listing every bad value; a group whose fields are groups
    (Settings) lists those of all of them."""

    env_prefix: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, init=False, kw_only=True)(cls)

    def __init__(self, **values: Any) -> None:
        for name, value in read(type(self), os.environ, values).items():
            object.__setattr__(self, name, value)
