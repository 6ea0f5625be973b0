"""The interface every vendor module implements: which files exist for a MAC and model, how the files
are rendered (Jinja2 templates under provisioning/templates/<vendor>/), how many keys a model has."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..model import DeviceConfig, Key, Options, Rendered, clean


@dataclass(frozen=True)
class ModelSpec:
    name: str
    line_keys: int  # programmable keys on the phone itself (all pages)
    module_keys: int = 0  # keys per expansion module, 0 if none can be attached
    code: str = ""  # vendor's model code when file names need it (Yealink y0000000000NN.cfg)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("clusterpbx.provisioning", "templates"),
        # XML templates are escaped (&, <, >, " and '); text formats get `clean` on every value.
        autoescape=select_autoescape(enabled_extensions=("xml.j2",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = clean
    return env


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)


class Vendor:
    name = ""
    label = ""
    models: dict[str, ModelSpec] = {}
    default_model = ""
    # Files requested before the phone is known (no secrets in them), as regexes on the file name.
    generic_patterns: tuple[str, ...] = ()

    def spec(self, model: str) -> ModelSpec:
        return self.models.get(model) or self.models[self.default_model]

    def key_capacity(self, model: str, modules: int = 0) -> int:
        spec = self.spec(model)
        return spec.line_keys + spec.module_keys * modules

    def device_files(self, mac: str, model: str) -> list[str]:
        """File names this phone fetches that are specific to it."""
        raise NotImplementedError

    def canonical(self, filename: str, mac: str, model: str) -> str | None:
        """The file `filename` stands for (phones use aliases), or None if this phone has no such file."""
        return filename if filename in self.device_files(mac, model) else None

    def is_generic(self, filename: str) -> bool:
        return any(re.fullmatch(p, filename) for p in self.generic_patterns)

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        raise NotImplementedError

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        raise NotImplementedError

    # helpers shared by the vendors
    @staticmethod
    def keys_by_position(cfg: DeviceConfig, capacity: int) -> dict[int, Key]:
        return {k.position: k for k in cfg.keys if 1 <= k.position <= capacity}

    @staticmethod
    def merged(generated: dict[str, str], options: Options) -> dict[str, str]:
        """The operator's template parameters win over anything generated, so user keys never wipe them."""
        out = dict(generated)
        out.update(options.params)
        return out

    @staticmethod
    def phonebook_name(language: str) -> str:
        return "Répertoire" if language.startswith("fr") else "Directory"
