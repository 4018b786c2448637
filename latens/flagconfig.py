"""Command-line flags made from config dataclasses, so that every default is written once, in its config.

    flagconfig.define_flags(train.TrainConfig)          # at import, in the script
    config = flagconfig.from_flags(train.TrainConfig)   # in main

Each init field of the dataclass becomes a flag of the same name (behind an
optional prefix), with the field's default and, as help, the field's line
under "Attributes:" in the class docstring:

  * `bool` -> a boolean flag; `int`, `float`, `str` -> typed flags, and a
    `str` named in the class's `CHOICES` -> an enum flag;
  * `int | None`, `float | None`, `str | None` -> the same, where the value
    `none` stands for None;
  * `tuple[...]` -> a comma-separated list, each item converted to the
    tuple's item type;
  * a nested config dataclass -> its own fields, prefixed `<field>_`;
  * `dict` fields have no flag (they are options of the Python API).

Values are checked by the config itself (`__post_init__`), so a bad flag
gives the same message as bad Python input.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from collections.abc import Collection, Mapping, Sequence

from absl import flags

_NONE = "none"


def define_flags(config_cls: type, *, prefix: str = "", exclude: Collection[str] = (),
                 choices: Mapping[str, Sequence] | None = None, flag_values: flags.FlagValues = flags.FLAGS,
                 module_name: str | None = None, defaults=None) -> list[str]:
    """Defines one flag per field of `config_cls` (see the module docstring).

    Args:
      config_cls: a dataclass whose fields all have defaults.
      prefix: put before every flag's name.
      exclude: flag names (prefix included; nested fields too) to leave out.
      choices: field name -> valid values, for fields the class's `CHOICES`
        leaves open (e.g. a dataset name that the Python API takes freely
        but a script only from a list).
      flag_values: where to define them.
      module_name: the module the flags belong to (`--help` lists them under
        it); by default the caller's.
      defaults: the instance whose values the flags default to (None: the
        fields' declared defaults, before `__post_init__` resolves any, so
        that a field left to "the kind's default" shows none, not one
        kind's value); a nested config's flags default to its field's
        default, which may differ from its class's.

    Returns:
      The names of the flags defined.
    """
    module_name = module_name or _calling_module()
    where = {"flag_values": flag_values, "module_name": module_name}
    docs = attribute_docs(config_cls)
    hints = typing.get_type_hints(config_cls)
    choices = {**getattr(config_cls, "CHOICES", {}), **(choices or {})}
    defined = []
    for field in dataclasses.fields(config_cls):
        name, kind, default = prefix + field.name, hints[field.name], _default(field, defaults)
        if name in exclude or not field.init:
            continue
        help_text = docs.get(field.name, field.name.replace("_", " "))
        if dataclasses.is_dataclass(kind):
            defined += define_flags(kind, prefix=f"{name}_", exclude=exclude, defaults=default, **where)
            continue
        if kind is dict or _origin(kind) is dict:
            continue
        if field.name in choices and _scalar(kind) is str:
            valid = [c for c in choices[field.name] if c is not None]  # None: the flag's default, unset.
            flags.DEFINE_enum(name, default, valid, help_text, **where)
        elif kind is bool:
            flags.DEFINE_bool(name, default, help_text, **where)
        elif _origin(kind) is tuple:
            flags.DEFINE_list(name, [str(v) for v in default], help_text, **where)
        else:
            parser = _Parser(_scalar(kind), optional=_is_optional(kind))
            flags.DEFINE(parser, name, default, help_text, serializer=flags.ArgumentSerializer(), **where)
        defined.append(name)
    return defined


def from_flags(config_cls: type, *, prefix: str = "", exclude: Collection[str] = (),
               flag_values: flags.FlagValues = flags.FLAGS, defaults=None, **overrides):
    """Builds `config_cls` from the flags `define_flags` made.

    Args:
      config_cls: the dataclass.
      prefix: as given to `define_flags`.
      exclude: as given to `define_flags`; those fields keep their defaults
        unless given in `overrides` (nested ones: in the nested config's).
      flag_values: where the flags were parsed.
      defaults: as given to `define_flags`: where excluded fields take their
        values (None: the fields' declared defaults).
      **overrides: field values to use instead of the flags'.

    Returns:
      The config; its own checks run as it is built.
    """
    hints = typing.get_type_hints(config_cls)
    values = {}
    for field in dataclasses.fields(config_cls):
        name, kind = prefix + field.name, hints[field.name]
        if field.name in overrides or not field.init:
            continue
        if name in exclude:
            values[field.name] = _default(field, defaults)
        elif dataclasses.is_dataclass(kind):
            values[field.name] = from_flags(kind, prefix=f"{name}_", exclude=exclude, flag_values=flag_values,
                                            defaults=_default(field, defaults))
        elif not (kind is dict or _origin(kind) is dict):
            value = flag_values[name].value
            if _origin(kind) is tuple:
                item = typing.get_args(kind)[0]
                value = tuple(item(v) for v in value or ())
            values[field.name] = value
    return config_cls(**values, **overrides)


def flag_syntax(message: str, config_cls: type) -> str:
    """A config's error message as a command-line user reads it: its fields named as flags.

    Configs name their fields as a Python user writes them (`ae=tsne needs
    batch_size above 31`); only the command line says `--ae=tsne needs
    --batch_size above 31`. Every `field=` becomes `--field=`, and every
    field whose name has an underscore (never an English word) `--field`.
    """
    for field in dataclasses.fields(config_cls):
        message = re.sub(rf"(?<![\w-]){field.name}=", f"--{field.name}=", message)
        if "_" in field.name:
            message = re.sub(rf"(?<![\w-]){field.name}\b", f"--{field.name}", message)
    return message


def attribute_docs(config_cls: type) -> dict[str, str]:
    """Field name -> its description under "Attributes:" in the class docstring, on one line."""
    lines = (config_cls.__doc__ or "").partition("Attributes:")[2].splitlines()
    body = [line for line in lines if line.strip()]
    if not body:
        return {}
    indent = len(body[0]) - len(body[0].lstrip())
    docs: dict[str, str] = {}
    for line in body:
        depth = len(line) - len(line.lstrip())
        if depth < indent:
            break
        match = re.match(r"(\w+): (.*)", line.strip())
        if depth == indent and match:
            current = match.group(1)
            docs[current] = match.group(2)
        elif docs:
            docs[current] += " " + line.strip()
    return docs


def _default(field: dataclasses.Field, defaults):
    """A field's value in `defaults`, or with none, its declared default (a factory's is made anew)."""
    if defaults is not None:
        return getattr(defaults, field.name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _calling_module() -> str:
    """The module that called into this one, named as absl names it (the script's path for __main__)."""
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    name = frame.f_globals.get("__name__")
    return sys.argv[0] if name == "__main__" else name


def _origin(kind):
    return typing.get_origin(kind)


def _is_optional(kind) -> bool:
    return _origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


def _scalar(kind) -> type:
    if _is_optional(kind):
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


class _Parser(flags.ArgumentParser):
    """Parses an int, float or str flag; `none` is None where the field allows it."""

    def __init__(self, kind: type, optional: bool):
        self.kind, self.optional = kind, optional

    def parse(self, argument):
        if argument is None or not isinstance(argument, str):
            return argument
        if self.optional and argument.lower() == _NONE:
            return None
        try:
            return self.kind(argument)
        except ValueError:
            raise ValueError(f"expected {'none or ' if self.optional else ''}a {self.kind.__name__}; "
                             f"got {argument!r}") from None

    def flag_type(self):
        return self.kind.__name__
